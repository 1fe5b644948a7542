package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// When FUNNELWATCH_TEST_MAIN is set, the test binary is funnelwatch itself:
// the crash test runs it as a child process it can kill -9.
func TestMain(m *testing.M) {
	if os.Getenv("FUNNELWATCH_TEST_MAIN") == "1" {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// child runs "funnelwatch args…" as a separate process and returns it with
// the URL it announced.
func child(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "FUNNELWATCH_TEST_MAIN=1", "FUNNELWATCH_API_TOKEN=crash")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u := urlRE.FindString(sc.Text()); u != "" {
				urls <- u
			}
		}
	}()
	select {
	case u := <-urls:
		return cmd, u
	case <-time.After(180 * time.Second):
		t.Fatal("child announced no URL")
	}
	return nil, ""
}

// crashBatches is a sales day: each deal is created with a task, moved on
// and its task completed, in batches that cut across deals.
func crashBatches(deals, perBatch int) [][]byte {
	var lines []string
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for i := range deals {
		t := at.Add(time.Duration(i) * time.Second)
		ts := func(d time.Duration) string { return t.Add(d).Format(time.RFC3339) }
		lines = append(lines,
			fmt.Sprintf(`{"id":"c%d","type":"deal.created","at":"%s","deal":{"id":"D%d","pipeline":"sales","stage":"target","responsible":"roman","amount":%d}}`, i, ts(0), i, 1000+i),
			fmt.Sprintf(`{"id":"t%d","type":"task.created","at":"%s","task":{"id":"T%d","deal_id":"D%d","due":"%s"}}`, i, ts(time.Second), i, i, ts(time.Hour)),
			fmt.Sprintf(`{"id":"m%d","type":"deal.stage_changed","at":"%s","deal_id":"D%d","to_stage":"contact"}`, i, ts(2*time.Second), i),
			fmt.Sprintf(`{"id":"k%d","type":"task.completed","at":"%s","task_id":"T%d","result":"ok"}`, i, ts(3*time.Second), i),
		)
	}
	var out [][]byte
	for i := 0; i < len(lines); i += perBatch {
		out = append(out, []byte(strings.Join(lines[i:min(i+perBatch, len(lines))], "\n")))
	}
	return out
}

// noRobots is the contract example's funnel with its quality rules and no
// automations.
const noRobots = `company: ZolotarevAuto
timezone: Europe/Moscow
users:
  - {id: sergey, name: Сергей, role: supervisor}
  - {id: roman, name: Роман, role: manager, supervisor: sergey}
pipelines:
  - id: sales
    name: Основная воронка
    stages:
      - {id: target, name: Целевой клиент, sla: 2h}
      - {id: contact, name: Контакт установлен, sla: 1d}
      - {id: won, name: Успешно реализовано, type: won}
      - {id: lost, name: Закрыто и не реализовано, type: lost}
quality:
  - {rule: no_next_task, grace: 10m}
  - {rule: task_overdue}
  - {rule: stage_sla}
`

// countItems pages through a list of the API (path with its query) and
// counts the items.
func countItems(t *testing.T, url, path string) int {
	t.Helper()
	n := 0
	for offset := 0; ; offset += 1000 {
		code, body := get(t, fmt.Sprintf("%s%s&limit=1000&offset=%d", url, path, offset), "crash")
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		var p struct {
			Items      []json.RawMessage `json:"items"`
			NextOffset *int              `json:"next_offset"`
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		n += len(p.Items)
		if p.NextOffset == nil {
			return n
		}
	}
}

func postBatch(url string, body []byte) (accepted, duplicates int, err error) {
	req, _ := http.NewRequest("POST", url+"/api/v1/events", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer crash")
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Accepted, Duplicates, Rejected int
		Errors                         []struct{ ID, Reason string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != 200 || r.Rejected > 0 {
		return 0, 0, fmt.Errorf("status %d, rejected %+v", resp.StatusCode, r.Errors)
	}
	return r.Accepted, r.Duplicates, nil
}

// Kill -9 the server while it ingests; after a restart every acknowledged
// event is there, and posting everything again stores each event once.
func TestKill9DuringIngestLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	dir := t.TempDir()
	// A funnel without robots: what is checked here is that the log and
	// the state folded from it survive the kill (the robots' side has its
	// own test, TestKill9WhileActingDoublesNothing).
	regs := filepath.Join(dir, "regulations.yaml")
	if err := os.WriteFile(regs, []byte(noRobots), 0o600); err != nil {
		t.Fatal(err)
	}
	db := "sqlite:" + filepath.Join(dir, "crash.db")
	args := []string{"serve", "--regulations", regs, "--db", db, "--addr", "127.0.0.1:0"}
	const deals = 1500
	batches := crashBatches(deals, 97)

	cmd, url := child(t, args...)
	acked := 0
	killed := make(chan struct{})
	for i, b := range batches {
		if i == len(batches)/2 {
			// Kill while a batch is in flight: no chance to flush or close.
			go func() {
				time.Sleep(2 * time.Millisecond)
				_ = cmd.Process.Signal(syscall.SIGKILL)
				close(killed)
			}()
		}
		if _, _, err := postBatch(url, b); err != nil {
			break
		}
		acked = i + 1
	}
	<-killed
	_ = cmd.Wait()
	if acked < len(batches)/2 || acked == len(batches) {
		t.Fatalf("%d of %d batches acknowledged: the kill was not during ingest", acked, len(batches))
	}
	t.Logf("killed after %d of %d batches were acknowledged", acked, len(batches))

	_, url = child(t, args...)
	// Every acknowledged batch is entirely there: posted again, all duplicates.
	for i := range acked {
		acc, dup, err := postBatch(url, batches[i])
		if err != nil {
			t.Fatal(err)
		}
		if acc != 0 || dup == 0 {
			t.Fatalf("acknowledged batch %d posted again: %d accepted, %d duplicates", i, acc, dup)
		}
	}
	for _, b := range batches[acked:] {
		if _, _, err := postBatch(url, b); err != nil {
			t.Fatal(err)
		}
	}
	// The state the log folds into: every deal moved on, every task done.
	count := func(path string) int { return countItems(t, url, path) }
	if n := count("/api/v1/deals?stage=contact"); n != deals {
		t.Errorf("deals on «contact» after the crash: %d, want %d", n, deals)
	}
	if n := count("/api/v1/tasks?open=false"); n != deals {
		t.Errorf("completed tasks after the crash: %d, want %d", n, deals)
	}
	if n := count("/api/v1/tasks?open=true"); n != 0 {
		t.Errorf("open tasks after the crash: %d, want 0", n)
	}
}

// A second server on the same store waits as a standby and takes over
// within seconds of the first one's death; an import meanwhile is refused
// with a clear reason instead of corrupting the first one's state.
func TestStandbyTakesOver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	db := "sqlite:" + filepath.Join(t.TempDir(), "standby.db")
	args := []string{"serve", "--regulations", example, "--db", db, "--addr", "127.0.0.1:0"}
	first, url := child(t, args...)
	if _, _, err := postBatch(url, crashBatches(3, 100)[0]); err != nil {
		t.Fatal(err)
	}

	var out, errs strings.Builder
	code := Main(context.Background(), []string{"import", "events", "--regulations", example, "--db", db, "/dev/null"}, &out, &errs)
	if code == 0 || !strings.Contains(errs.String(), "another funnelwatch process is ingesting") {
		t.Errorf("import beside a running server: exit %d, %s", code, errs.String())
	}

	second := exec.Command(os.Args[0], args...)
	second.Env = append(os.Environ(), "FUNNELWATCH_TEST_MAIN=1", "FUNNELWATCH_API_TOKEN=crash")
	stdout, _ := second.StdoutPipe()
	second.Stderr = os.Stderr
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Process.Kill(); _ = second.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u := urlRE.FindString(sc.Text()); u != "" {
				urls <- u
			}
		}
	}()
	select {
	case u := <-urls:
		t.Fatalf("the standby served at %s while the first server held the workspace", u)
	case <-time.After(3 * time.Second):
	}
	killedAt := time.Now()
	_ = first.Process.Signal(syscall.SIGKILL)
	select {
	case u := <-urls:
		t.Logf("standby took over %s after the kill", time.Since(killedAt).Round(time.Millisecond))
		acc, dup, err := postBatch(u, crashBatches(3, 100)[0])
		if err != nil || acc != 0 || dup == 0 {
			t.Errorf("the standby does not see the first server's events: %d accepted, %d duplicates, %v", acc, dup, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the standby did not take over within 10 s")
	}
}
