package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/auth"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/web"
)

// clock is a hand-moved wall clock for the live engine and the pages.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// TestDealActions: what a manager does on the card goes through the log
// and the live engine. Роман's deal on «Контакт установлен» has a task due
// at 12:00; at 14:00 it is overdue. He completes it on the card: the
// finding is resolved at once. He sets a new task, writes a note and moves
// the deal on; a move to a stage that does not exist comes back with the
// ingest's reason.
func TestDealActions(t *testing.T) {
	ctx := context.Background()
	regs, err := regulations.ParseFile("../testdata/regulations.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.EnsureWorkspace(ctx, "w", "W"); err != nil {
		t.Fatal(err)
	}
	msk := regs.Location
	clk := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, msk)}
	in := &engine.Ingestor{Store: store, Workspace: "w", Funnel: &regs.Funnel}
	live := &engine.Live{Store: store, Workspace: "w", Regs: regs, Ingestor: in, Now: clk.Now}
	in.OnCommit = live.Notify
	var events []funnelwatch.Event
	for _, l := range []string{
		`{"id":"1","type":"deal.created","at":"2026-11-23T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","stage":"contact","amount":50000,"responsible":"roman","name":"Фара Kia Rio"}}`,
		`{"id":"2","type":"task.created","at":"2026-11-23T10:00:00+03:00","task":{"id":"T1","deal_id":"D1","assignee":"roman","due":"2026-11-23T12:00:00+03:00","text":"Перезвонить"}}`,
	} {
		e, err := funnelwatch.DecodeEvent([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if _, err := in.Ingest(ctx, events); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2026, 11, 23, 14, 0, 0, 0, msk))
	sessions := &auth.Sessions{Store: store, Workspace: "w", Funnel: &regs.Funnel}
	if err := sessions.SetPassword(ctx, "roman", "пароль Романа", clk.Now()); err != nil {
		t.Fatal(err)
	}
	pages, err := web.New(web.Server{Store: store, Workspace: "w", Funnel: &regs.Funnel, Regulations: regs, Sync: in.Sync,
		Engine: live, Ingestor: in, Sessions: sessions, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	pages.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s := &testSite{URL: srv.URL, store: store, in: in}
	c := browser(t)
	csrf := s.signIn(t, c, "roman", "пароль Романа")

	finding := regexp.MustCompile(`data-rule="task_overdue" data-task="T1" data-open="(\w+)"`)
	_, card := get(t, c, srv.URL+"/deals/D1")
	if m := finding.FindStringSubmatch(card); m == nil || m[1] != "true" {
		t.Fatalf("at 14:00 the task due at 12:00 has no open overdue finding on the card:\n%s", card)
	}
	act := func(path string, form url.Values) string {
		t.Helper()
		form.Set("csrf", csrf)
		resp := post(t, c, srv.URL+"/deals/D1"+path, form, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST %s = %d", path, resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
	act("/tasks/T1/complete", url.Values{"result": {"Дозвонился"}})
	_, card = get(t, c, srv.URL+"/deals/D1")
	if m := finding.FindStringSubmatch(card); m == nil || m[1] != "false" {
		t.Errorf("after completing T1 its overdue finding is not resolved")
	}
	act("/tasks", url.Values{"text": {"Отправить КП"}, "due": {"2026-11-24T11:00"}, "kind": {"follow-up"}})
	act("/notes", url.Values{"text": {"Клиент ждёт КП до завтра"}})
	act("/move", url.Values{"stage": {"ready"}})
	if loc := act("/move", url.Values{"stage": {"nowhere"}}); !strings.Contains(loc, "rejected=") {
		t.Errorf("a move to a stage that does not exist: redirected to %s, want the reason", loc)
	}
	_, card = get(t, c, srv.URL+"/deals/D1")
	for what, want := range map[string]string{
		"the new task, due 24.11 11:00 Moscow time": `Отправить КП`,
		"its due time":                   `24.11.2026 11:00`,
		"the note":                       `Клиент ждёт КП до завтра`,
		"the stage moved":                `id="deal-stage">Готов к выдаче`,
		"the completion on the timeline": `Задача выполнена: Дозвонился`,
		"the actor on the timeline":      `— Роман`,
	} {
		if !strings.Contains(card, want) {
			t.Errorf("%s: the card lacks %q", what, want)
		}
	}
	var logged []funnelwatch.Event
	store.View(ctx, "w", func(tx funnelwatch.ReadTx) error {
		logged, err = tx.Events(ctx, funnelwatch.EventFilter{DealID: "D1", BySeq: true})
		return err
	})
	var web int
	for _, e := range logged {
		if strings.HasPrefix(e.ID, "web:") {
			web++
			if e.Actor != "roman" {
				t.Errorf("event %s %s: actor %q, want roman", e.ID, e.Type, e.Actor)
			}
		}
	}
	if web != 4 {
		t.Errorf("%d events of the pages in the log, want 4 (complete, task, note, move)", web)
	}
}
