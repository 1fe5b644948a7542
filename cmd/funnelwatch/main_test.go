package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// example is the contract example of DESIGN §4.4, copied into testdata.
const example = "../../testdata/regulations.example.yaml"

// syncBuffer is a bytes.Buffer safe for a server goroutine and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var urlRE = regexp.MustCompile(`http://[^\s]+`)

// start runs Main with args until the test ends and returns the URL it
// announced.
func start(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errs := &syncBuffer{}, &syncBuffer{}
	done := make(chan struct{})
	var code int
	go func() {
		code = Main(ctx, args, out, errs)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
			if code != 0 && !t.Failed() {
				t.Errorf("%s exited %d: %s", args[0], code, errs.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not shut down", args[0])
		}
	})
	// The demo generates and loads 90 days before it listens: slow under
	// the race detector on a busy machine.
	deadline := time.Now().Add(180 * time.Second)
	for time.Now().Before(deadline) {
		if u := urlRE.FindString(out.String()); u != "" {
			return u, out
		}
		select {
		case <-done:
			t.Fatalf("%s exited %d early: %s %s", args[0], code, out.String(), errs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%s announced no URL: %s", args[0], errs.String())
	return "", nil
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCheck(t *testing.T) {
	var out, errs bytes.Buffer
	if code := Main(context.Background(), []string{"check", example}, &out, &errs); code != 0 {
		t.Fatalf("check of the contract example exited %d: %s %s", code, out.String(), errs.String())
	}
	if !strings.Contains(out.String(), "OK") {
		t.Errorf("output = %q", out.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte(`company: X
users:
  - {id: roman, name: Роман, supervisor: nobody}
pipelines:
  - id: sales
    stages:
      - {id: target, sla: 7x}
      - {id: won, type: won}
`), 0o600)
	out.Reset()
	if code := Main(context.Background(), []string{"check", bad}, &out, &errs); code != 1 {
		t.Fatalf("check of a bad file exited %d", code)
	}
	for _, want := range []string{"line 3", "nobody", "line 7", "7x", "lost"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestServeIngestAndPage(t *testing.T) {
	t.Setenv("FUNNELWATCH_API_TOKEN", "s3cret")
	db := "sqlite:" + filepath.Join(t.TempDir(), "fw.db")
	setPassword(t, db, "sergey", "пароль Сергея")
	url, _ := start(t, "serve", "--regulations", example, "--db", db, "--addr", "127.0.0.1:0")
	// Deals of a minute ago: the regulations' robots (the 7-day lifetime
	// move to warm-up) have no reason to move them yet.
	at := time.Now().Add(-time.Minute).Format(time.RFC3339)
	body := `[{"id":"e1","type":"deal.created","at":"` + at + `","deal":{"id":"D1","pipeline":"sales","stage":"target","responsible":"roman","amount":42000}},
	{"id":"e2","type":"deal.created","at":"` + at + `","deal":{"id":"D2","pipeline":"sales","stage":"ready","responsible":"roman","amount":8000}}]`
	req, _ := http.NewRequest("POST", url+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Accepted int }
	json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if resp.StatusCode != 200 || r.Accepted != 2 {
		t.Fatalf("ingest: %d accepted=%d", resp.StatusCode, r.Accepted)
	}
	c := signIn(t, url, "sergey", "пароль Сергея")
	code, page := browse(t, c, url+"/funnel")
	if code != 200 || !strings.Contains(page, "Основная воронка") || !strings.Contains(page, "Целевой клиент") ||
		!strings.Contains(page, "ZolotarevAuto") {
		t.Fatalf("page: %d\n%s", code, page)
	}
	// The ready stage shows its one deal, linked to its board, and its money.
	if !regexp.MustCompile(`(?s)data-stage="ready"[^>]*>.*?data-value="1"><a href="/deals\?pipeline=sales&amp;stage=ready" class="now-link">1</a>.*?8\x{202f}000`).MatchString(page) {
		t.Errorf("stage counts not on the page:\n%s", page)
	}
	if code, _ := get(t, url+"/readyz", ""); code != 200 {
		t.Errorf("readyz = %d", code)
	}
	if code, body := get(t, url+"/api/v1/deals/D1", "s3cret"); code != 200 || !strings.Contains(body, `"amount":42000`) {
		t.Errorf("GET deal = %d %s", code, body)
	}
}

func TestDemo(t *testing.T) {
	t.Setenv("FUNNELWATCH_API_TOKEN", "")
	dir := t.TempDir()
	began := time.Now()
	url, out := start(t, "demo", "--addr", "127.0.0.1:0", "--data", dir)
	if !strings.Contains(out.String(), "sergey / sergey-demo") {
		t.Errorf("the demo does not tell the head of sales' login:\n%s", out.String())
	}
	code, page := browse(t, signIn(t, url, "sergey", "sergey-demo"), url+"/funnel")
	t.Logf("demo: first page %s after start", time.Since(began))
	if code != 200 {
		t.Fatalf("demo page: %d", code)
	}
	for _, want := range []string{"Основная воронка", "Авито", "Гарантийные случаи", "Выкуп деталей", "Квалификация деталей", "Опт", "Курьеры", "Прогрев", "Готов к выдаче"} {
		if !strings.Contains(page, want) {
			t.Errorf("demo page lacks %q", want)
		}
	}
	for _, f := range []string{"regulations.yaml", "events.ndjson", "demo.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("demo file: %v", err)
		}
	}
	// The printed token opens the API.
	m := regexp.MustCompile(`API token \(this run\): (\w+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no token printed: %s", out.String())
	}
	if code, body := get(t, url+"/api/v1/deals?status=open&limit=5", m[1]); code != 200 || !strings.Contains(body, `"items":[{`) {
		t.Errorf("demo API: %d %s", code, body)
	}
}

// The README's import of the Maven export, then an NDJSON log with one bad
// line, into one store; a second run of the same import is all duplicates.
func TestImport(t *testing.T) {
	ctx := context.Background()
	db := "sqlite:" + filepath.Join(t.TempDir(), "fw.db")
	deals := []string{"import", "deals", "--regulations", "../../testdata/maven/regulations.yaml", "--db", db, "--pipeline", "b2b",
		"--map", "id=opportunity_id,stage=deal_stage,responsible=sales_agent,amount=close_value,name=account,created=engage_date,closed=close_date",
		"--stages", "Prospecting=prospecting,Engaging=engaging,Won=won,Lost=lost",
		"--fields", "product", "--date-layout", "02-01-06", "../../testdata/maven/sales_pipeline.csv"}
	var out, errs bytes.Buffer
	if code := Main(ctx, deals, &out, &errs); code != 0 {
		t.Fatalf("import deals exited %d: %s %s", code, out.String(), errs.String())
	}
	// 8,300 dated rows: 1,589 open deals and 6,711 closed ones (two events each).
	if !strings.Contains(out.String(), "15011 accepted, 0 duplicates, 500 rejected") {
		t.Errorf("import deals:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "no creation date") {
		t.Errorf("the undated rows are not explained:\n%s", out.String())
	}
	out.Reset()
	if code := Main(ctx, deals, &out, &errs); code != 0 {
		t.Fatalf("second import exited %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), "0 accepted, 15011 duplicates") {
		t.Errorf("second import:\n%s", out.String())
	}

	log := filepath.Join(t.TempDir(), "events.ndjson")
	os.WriteFile(log, []byte(`{"id":"n1","type":"note.added","at":"2017-03-02T10:00:00Z","note":{"id":"N1","deal_id":"1C1I7A6R","author":"moses_frase","text":"Repeat order discussed"}}
{"id":"n2","type":"deal.created","at":"2017-03-02T10:00:00Z","deal":{"id":"NEW1","pipeline":"b2b","responsible":"ghost"}}
not json at all
`), 0o600)
	out.Reset()
	code := Main(ctx, []string{"import", "events", "--regulations", "../../testdata/maven/regulations.yaml", "--db", db, log}, &out, &errs)
	if code != 0 {
		t.Fatalf("import events exited %d: %s", code, errs.String())
	}
	for _, want := range []string{"1 accepted, 0 duplicates, 2 rejected", `line 2 n2: unknown user "ghost"`, "line 3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("import events output lacks %q:\n%s", want, out.String())
		}
	}
}

// A second demo on the same data directory does not pull the database
// from under the first.
func TestSecondDemoOnSameDataRefused(t *testing.T) {
	t.Setenv("FUNNELWATCH_API_TOKEN", "x")
	dir := t.TempDir()
	url, _ := start(t, "demo", "--addr", "127.0.0.1:0", "--data", dir)
	var out, errs bytes.Buffer
	if code := Main(context.Background(), []string{"demo", "--addr", "127.0.0.1:0", "--data", dir}, &out, &errs); code != 1 ||
		!strings.Contains(errs.String(), "another funnelwatch demo is running") {
		t.Errorf("second demo: exit %d, %s", code, errs.String())
	}
	if code, _ := get(t, url+"/", ""); code != 200 {
		t.Errorf("the first demo stopped serving: %d", code)
	}
}

// setPassword runs "funnelwatch user password" with the password on stdin.
func setPassword(t *testing.T, db, user, password string) {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(password + "\n")
	defer func() { stdin = old }()
	var out, errs bytes.Buffer
	if code := Main(context.Background(), []string{"user", "password", user, "--regulations", example, "--db", db}, &out, &errs); code != 0 {
		t.Fatalf("user password exited %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), "password set for "+user) {
		t.Errorf("user password: %s", out.String())
	}
}

var preRE = regexp.MustCompile(`name="pre" value="([^"]+)"`)

// signIn signs a new browser in to the pages.
func signIn(t *testing.T, base, user, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	_, page := browse(t, c, base+"/signin")
	m := preRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no sign-in form:\n%s", page)
	}
	resp, err := c.PostForm(base+"/signin", neturl.Values{"pre": {m[1]}, "user": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/" {
		t.Fatalf("sign in as %s: %d at %s", user, resp.StatusCode, resp.Request.URL)
	}
	return c
}

func browse(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBackupWhileServing copies the store of a running server and the
// copy serves the same deal.
func TestBackupWhileServing(t *testing.T) {
	t.Setenv("FUNNELWATCH_API_TOKEN", "s3cret")
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "fw.db")
	url, _ := start(t, "serve", "--regulations", example, "--db", db, "--addr", "127.0.0.1:0")
	at := time.Now().Add(-time.Minute).Format(time.RFC3339)
	req, _ := http.NewRequest("POST", url+"/api/v1/events", strings.NewReader(`{"id":"e1","type":"deal.created","at":"`+at+`","deal":{"id":"D1","pipeline":"sales","stage":"target","responsible":"roman","amount":42000}}`))
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var out, errs bytes.Buffer
	backup := filepath.Join(dir, "copy.db")
	if code := Main(context.Background(), []string{"backup", "--db", db, "--out", backup}, &out, &errs); code != 0 {
		t.Fatalf("backup exited %d: %s", code, errs.String())
	}
	url2, _ := start(t, "serve", "--regulations", example, "--db", "sqlite:"+backup, "--addr", "127.0.0.1:0")
	if code, body := get(t, url2+"/api/v1/deals/D1", "s3cret"); code != 200 || !strings.Contains(body, `"amount":42000`) {
		t.Fatalf("the backup's deal: %d %s", code, body)
	}
	if code := Main(context.Background(), []string{"backup", "--db", db, "--out", backup}, &out, &errs); code == 0 {
		t.Fatal("a backup overwrote an existing file")
	}
}
