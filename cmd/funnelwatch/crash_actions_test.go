package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch/telegram/telegramtest"
)

// hookReceiver is the outside system the regulations' webhooks call.
type hookReceiver struct {
	mu   sync.Mutex
	seen map[string]int // idempotency key → requests
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	h.seen[r.Header.Get("Idempotency-Key")]++
	h.mu.Unlock()
}

func (h *hookReceiver) counts() (keys, requests, repeats int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.seen {
		keys++
		requests += n
		repeats += n - 1
	}
	return
}

// grepLines returns the lines of text that hold s.
func grepLines(text, s string) string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}

// actionCount counts the outbox actions the query selects.
func actionCount(t *testing.T, url, query string) int {
	t.Helper()
	return countItems(t, url, "/api/v1/actions?"+query)
}

// Kill -9 the server while it ingests and while its timers fire (tasks
// falling overdue call a webhook); after a restart no acknowledged event
// is missing, every action is in the outbox once, every task a robot set
// is in the funnel once, and every webhook reaches the receiver — a
// repeat only for a call in flight at the kill, with the same
// idempotency key.
func TestKill9WhileActingDoublesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	rcv := &hookReceiver{seen: map[string]int{}}
	hooks := httptest.NewServer(rcv)
	defer hooks.Close()
	// The overdue notices go to the supervisor's Telegram chat (sergey's
	// "100500" in the example) through a fake Bot API.
	tg, tgSrv := telegramtest.Start(t)
	t.Setenv("FUNNELWATCH_TELEGRAM_TOKEN", tg.Token)
	t.Setenv("FUNNELWATCH_TELEGRAM_URL", tgSrv.URL)
	t.Setenv("FUNNELWATCH_TELEGRAM_PACE", "1ms")
	// The engine stores a snapshot of its state as often as it may (once
	// it has evaluated as many events as it holds deals): the kill falls
	// between snapshots, or in the middle of writing one, and the restart
	// resumes from the last one stored.
	t.Setenv("FUNNELWATCH_ENGINE_SNAPSHOT_EVERY", "1")
	base, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	regs := strings.Replace(string(base), "\nquality:", fmt.Sprintf(`
  - id: contact_to_erp
    when: stage.entered
    stage: sales/contact
    do: [webhook: {url: "%[1]s/contact"}]
  - id: overdue_to_erp
    when: task.overdue
    do: [webhook: {url: "%[1]s/overdue"}]
quality:`, hooks.URL), 1)
	regsPath := filepath.Join(dir, "regulations.yaml")
	if err := os.WriteFile(regsPath, []byte(regs), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--regulations", regsPath, "--db", "sqlite:" + filepath.Join(dir, "crash.db"), "--addr", "127.0.0.1:0"}

	// Each deal is created (its on_enter robot sets a task), gets a task
	// of its own due a moment after it is posted, and moves to «contact»
	// (a webhook). The manager's tasks are never done: they fall overdue
	// while the batches are still coming (notice + webhook).
	const deals = 240
	const perBatch = 12 // deals per batch
	batch := func(b int) []byte {
		var lines []string
		now := time.Now().UTC()
		for i := b * perBatch; i < (b+1)*perBatch; i++ {
			at := now.Add(-time.Minute).Format(time.RFC3339Nano)
			due := now.Add(400 * time.Millisecond).Format(time.RFC3339Nano)
			lines = append(lines,
				fmt.Sprintf(`{"id":"c%d","type":"deal.created","at":"%s","deal":{"id":"D%d","pipeline":"sales","stage":"target","responsible":"roman","amount":%d}}`, i, at, i, 1000+i),
				fmt.Sprintf(`{"id":"t%d","type":"task.created","at":"%s","task":{"id":"T%d","deal_id":"D%d","due":"%s","text":"Позвонить"}}`, i, at, i, i, due),
				fmt.Sprintf(`{"id":"m%d","type":"deal.stage_changed","at":"%s","deal_id":"D%d","to_stage":"contact"}`, i, at, i))
		}
		return []byte(strings.Join(lines, "\n"))
	}
	batches := deals / perBatch
	posted := make([][]byte, batches)

	cmd, url := child(t, args...)
	acked := 0
	killed := make(chan struct{})
	for b := range batches {
		if b == batches/2 {
			go func() {
				time.Sleep(3 * time.Millisecond)
				_ = cmd.Process.Signal(syscall.SIGKILL)
				close(killed)
			}()
		}
		posted[b] = batch(b)
		if _, _, err := postBatch(url, posted[b]); err != nil {
			if b < batches/2 {
				t.Fatalf("batch %d before the kill: %v", b, err)
			}
			break
		}
		acked = b + 1
		time.Sleep(40 * time.Millisecond) // timers of earlier batches fall due meanwhile
	}
	<-killed
	_ = cmd.Wait()
	if acked < batches/2 || acked == batches {
		t.Fatalf("%d of %d batches acknowledged: the kill was not during ingest", acked, batches)
	}
	keysAtKill, _, _ := rcv.counts()
	t.Logf("killed after %d of %d batches; %d webhooks had arrived", acked, batches, keysAtKill)

	_, url = child(t, args...)
	// The server answers before its engine's first step has read the
	// snapshot (or the log): asked for a while.
	resumed := regexp.MustCompile(`(?m)^funnelwatch_engine_resumed_seq [1-9]`)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, body := get(t, url+"/metrics", "")
		if resumed.MatchString(body) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the restarted engine did not resume from a snapshot:\n%s", grepLines(body, "funnelwatch_engine_"))
			break
		}
	}
	for b := range acked {
		acc, dup, err := postBatch(url, posted[b])
		if err != nil || acc != 0 || dup == 0 {
			t.Fatalf("acknowledged batch %d posted again: %d accepted, %d duplicates, %v", b, acc, dup, err)
		}
	}
	for b := acked; b < batches; b++ {
		posted[b] = batch(b)
		if _, _, err := postBatch(url, posted[b]); err != nil {
			t.Fatal(err)
		}
	}

	// Two webhooks per deal: the move to «contact», the overdue task.
	deadline := time.Now().Add(30 * time.Second)
	for {
		keys, _, _ := rcv.counts()
		if keys == 2*deals {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d webhooks delivered, want %d", keys, 2*deals)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a double would arrive now
	keys, requests, repeats := rcv.counts()
	t.Logf("webhooks: %d actions, %d requests (%d repeated across the kill)", keys, requests, repeats)
	if repeats > 1 {
		t.Errorf("%d webhook calls repeated: only the one in flight at the kill may be", repeats)
	}
	if n := actionCount(t, url, "type=webhook&status=done"); n != 2*deals {
		t.Errorf("webhook actions done: %d, want %d", n, 2*deals)
	}
	if n := actionCount(t, url, "type=task&rule=sales.target.on_enter"); n != deals {
		t.Errorf("robot task actions in the outbox: %d, want %d (one per deal)", n, deals)
	}
	if n := actionCount(t, url, "type=notify&rule=overdue_notify"); n != deals {
		t.Errorf("overdue notices in the outbox: %d, want %d (one per overdue task)", n, deals)
	}
	// Every overdue notice reaches the supervisor's chat; a repeat only
	// for the message in flight at the kill.
	deadline = time.Now().Add(30 * time.Second)
	for actionCount(t, url, "type=notify&status=done") < deals && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	perDeal := map[string]int{}
	for _, m := range tg.Got("100500") {
		if i := strings.Index(m, "«D"); i >= 0 {
			perDeal[m[i+len("«"):i+len("«")+strings.Index(m[i+len("«"):], "»")]]++
		}
	}
	missing, extra := 0, 0
	for i := range deals {
		switch n := perDeal[fmt.Sprintf("D%d", i)]; {
		case n == 0:
			missing++
		case n > 1:
			extra += n - 1
		}
	}
	t.Logf("telegram: %d messages to the supervisor, %d deals missing, %d repeated", len(tg.Got("100500")), missing, extra)
	if missing > 0 || extra > 1 {
		t.Errorf("overdue notices in Telegram: %d deals never notified, %d repeats (only the one in flight at the kill may repeat)", missing, extra)
	}
	// Each deal has its own task and exactly one robot task: none doubled.
	for _, d := range []int{0, acked*perBatch - 1, acked * perBatch, deals - 1} {
		code, body := get(t, fmt.Sprintf("%s/api/v1/tasks?deal_id=D%d", url, d), "crash")
		if code != 200 {
			t.Fatalf("tasks of D%d: %d %s", d, code, body)
		}
		var p struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 2 {
			t.Errorf("D%d has %d tasks, want its own and the robot's: %s", d, len(p.Items), body)
		}
	}
}
