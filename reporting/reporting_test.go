package reporting_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/demo"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/mail"
	"github.com/funnelwatch/funnelwatch/mail/smtptest"
	"github.com/funnelwatch/funnelwatch/notify"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/reporting"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/telegram"
	"github.com/funnelwatch/funnelwatch/telegram/telegramtest"
)

// end is the demo's "now": Monday 23 November 2026, 10:00 in Moscow, so
// last week is 16–22 November.
var end = time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)

type demoStore struct {
	st   funnelwatch.Store
	regs *regulations.Regulations
}

var (
	demoOnce sync.Once
	demoDB   demoStore
	demoErr  error
)

// demoCompany loads the demo company into a real SQLite store and lets
// the rules engine read its 90 days (a recorded history: observed), as
// `funnelwatch demo` does; once for all tests.
func demoCompany(t *testing.T) demoStore {
	t.Helper()
	demoOnce.Do(func() {
		ctx := context.Background()
		co, err := demo.Generate(demo.Options{Seed: 1, End: end})
		if err != nil {
			demoErr = err
			return
		}
		regs, err := regulations.Parse(co.Regulations)
		if err != nil {
			demoErr = err
			return
		}
		dir, err := filepathTemp()
		if err != nil {
			demoErr = err
			return
		}
		st, err := sqlite.Open(ctx, filepath.Join(dir, "demo.db"))
		if err != nil {
			demoErr = err
			return
		}
		if err := st.EnsureWorkspace(ctx, "ws", regs.Company); err != nil {
			demoErr = err
			return
		}
		in := &engine.Ingestor{Store: st, Workspace: "ws", Funnel: &regs.Funnel}
		for i := 0; i < len(co.Events); i += 5000 {
			if _, err := in.Ingest(ctx, co.Events[i:min(i+5000, len(co.Events))]); err != nil {
				demoErr = err
				return
			}
		}
		live := &engine.Live{Store: st, Workspace: "ws", Regs: regs, Ingestor: in, Now: func() time.Time { return end }, ObserveUntil: end}
		if err := live.Step(ctx); err != nil {
			demoErr = err
			return
		}
		demoErr = in.Flush(ctx)
		demoDB = demoStore{st: st, regs: regs}
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoDB
}

func build(t *testing.T, d demoStore) *reporting.Report {
	t.Helper()
	kind, from, to, err := reporting.ParsePeriod("last-week", end, d.regs.Location)
	if err != nil {
		t.Fatal(err)
	}
	var r *reporting.Report
	if err := d.st.View(context.Background(), "ws", func(tx funnelwatch.ReadTx) error {
		var err error
		r, err = reporting.Build(context.Background(), tx, d.regs, kind, from, to, end)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

// The demo company's weekly report tells the story of seed 000: the
// manager with the largest share of violations is Roman, the stages with
// deals stuck are there, money is at risk, the worst deals are listed
// with links, and every figure in the text is the quality report's.
func TestWeeklyReportOfTheDemo(t *testing.T) {
	d := demoCompany(t)
	r := build(t, d)
	q := r.Quality
	if q.Totals.Violations == 0 || len(q.ByManager) == 0 || q.Totals.MoneyAtRisk <= 0 {
		t.Fatalf("an empty week: %+v", q.Totals)
	}
	if top := q.ByManager[0]; top.User != "roman" {
		t.Errorf("the manager with most violations is %s (%d), not Roman", top.User, top.Violations)
	}
	if len(r.Worst) == 0 || len(r.Recommendations) == 0 {
		t.Fatalf("worst deals %d, recommendations %d", len(r.Worst), len(r.Recommendations))
	}
	for i := 1; i < len(r.Worst); i++ {
		if r.Worst[i].MoneyAtRisk > r.Worst[i-1].MoneyAtRisk {
			t.Errorf("worst deals out of order: %v", r.Worst)
		}
	}
	m, err := r.Message("https://fw.example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Контроль качества: ", "неделя 16.11–22.11.2026",
		"Нарушения: " + itoa(q.Totals.Violations) + " (было " + itoa(q.Previous.Violations),
		"По этапам", "По менеджерам", q.ByManager[0].Name + " — " + itoa(q.ByManager[0].Violations),
		`<a href="https://fw.example.com/deals/` + r.Worst[0].ID + `">`, "Рекомендации"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("the Telegram text lacks %q", want)
		}
	}
	if err := telegram.CheckHTML(m.HTML); err != nil {
		t.Errorf("the Telegram text is not valid HTML for the API: %v", err)
	}
	if len(m.Images) != 2 {
		t.Fatalf("%d charts", len(m.Images))
	}
	// The charts are test artefacts: looked at, not only decoded.
	dir := os.Getenv("FUNNELWATCH_ARTEFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, img := range m.Images {
		if _, err := png.Decode(bytes.NewReader(img.PNG)); err != nil {
			t.Errorf("%s: %v", img.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "weekly-"+img.Name), img.PNG, 0o644); err != nil {
			t.Error(err)
		}
		if !strings.Contains(m.EmailHTML, `src="cid:`+img.Name+`"`) {
			t.Errorf("the e-mail does not show %s", img.Name)
		}
	}
}

// The weekly report of the demo company goes through a real SMTP server:
// the subject, the plain and HTML parts and the chart images arrive.
func TestWeeklyReportByEmail(t *testing.T) {
	d := demoCompany(t)
	m, err := build(t, d).Message("")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtptest.Start(t)
	ch := notify.Email{Sender: &mail.Sender{Config: mail.Config{Host: srv.Host, Port: srv.Port, Username: smtptest.Username,
		Password: smtptest.Password, From: "funnelwatch <fw@example.com>", TLSConfig: &tls.Config{RootCAs: srv.RootCAs, ServerName: "127.0.0.1"}}}}
	if err := ch.Send(context.Background(), "rop@example.com", m); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 || !mails[0].TLS {
		t.Fatalf("%d mails", len(mails))
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(mails[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if !strings.HasPrefix(subject, "Контроль качества: ") || !strings.Contains(subject, "неделя 16.11–22.11.2026") {
		t.Errorf("subject %q", subject)
	}
	found := map[string]int{}
	walk(t, msg.Header.Get("Content-Type"), msg.Body, func(ctype string, body []byte) {
		found[ctype]++
		switch ctype {
		case "text/plain":
			if !strings.Contains(string(body), "По менеджерам") {
				t.Errorf("plain part lacks the managers")
			}
		case "image/png":
			if _, err := png.Decode(bytes.NewReader(body)); err != nil {
				t.Errorf("an image part is not a PNG: %v", err)
			}
		case "text/html":
			if !strings.Contains(string(body), `<img src="cid:stages.png"`) {
				t.Errorf("HTML part does not show the chart")
			}
		}
	})
	if found["text/plain"] != 1 || found["text/html"] != 1 || found["image/png"] != 2 {
		t.Fatalf("parts received: %v", found)
	}
}

// walk calls fn with each leaf part of a MIME body.
func walk(t *testing.T, ctype string, body io.Reader, fn func(string, []byte)) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(body)
		fn(mt, b)
		return
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = p
		switch p.Header.Get("Content-Transfer-Encoding") {
		case "quoted-printable":
			r = quotedprintable.NewReader(p)
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, p)
		}
		walk(t, p.Header.Get("Content-Type"), r, fn)
	}
}

// The schedule queues the weekly report once on Monday morning (however
// often it looks, across restarts), and the notifier delivers it to the
// supervisor's Telegram chat as two chart photos and the text.
func TestScheduledReportToTelegram(t *testing.T) {
	d := demoCompany(t)
	ctx := context.Background()
	now := end.Add(-time.Hour) // 09:00 Moscow: the default schedule's moment
	s := &reporting.Scheduler{Store: d.st, Workspace: "ws", Regs: d.regs, Now: func() time.Time { return now }}
	for i := range 3 {
		n, err := s.Step(ctx)
		if err != nil || n != map[bool]int{true: 1, false: 0}[i == 0] {
			t.Fatalf("step %d queued %d (%v)", i, n, err)
		}
	}
	var queued []*funnelwatch.ActionRecord
	d.st.View(ctx, "ws", func(tx funnelwatch.ReadTx) error {
		var err error
		queued, err = tx.Actions(ctx, funnelwatch.ActionFilter{Type: notify.ActionReport})
		return err
	})
	if len(queued) != 1 || queued[0].Key != "report:weekly_quality:20261123T0600Z" {
		t.Fatalf("queued %+v", queued)
	}
	// Whoever the demo's supervisors and admins are, each has a chat or an
	// address, or is recorded unreachable; the fake serves every chat.
	tg, srv := telegramtest.Start(t)
	client := &telegram.Client{Token: tg.Token, BaseURL: srv.URL, PerChat: time.Nanosecond, Sleep: func(context.Context, time.Duration) error { return nil }}
	n := &notify.Notifier{Store: d.st, Workspace: "ws", Regs: d.regs, Now: func() time.Time { return now },
		Channels: map[string]notify.Channel{"telegram": notify.Telegram{Client: client}},
		Report:   reporting.Render(d.st, "ws", d.regs, "", func() time.Time { return now })}
	disp := &engine.Dispatcher{Store: d.st, Workspace: "ws", Now: func() time.Time { return now },
		Deliverers: map[string]engine.Deliverer{notify.ActionReport: n}}
	if _, err := disp.Step(ctx); err != nil {
		t.Fatal(err)
	}
	var chats []string
	for _, u := range d.regs.Users {
		if (u.Role == "supervisor" || u.Role == "admin") && u.Telegram != "" {
			chats = append(chats, u.Telegram)
		}
	}
	if len(chats) == 0 {
		t.Fatal("the demo's head of sales has no Telegram chat: the report has nowhere to go")
	}
	for _, chat := range chats {
		got, photos := tg.Got(chat), tg.Photos(chat)
		if len(photos) != 2 || len(got) < 3 || !strings.Contains(got[len(got)-1]+got[len(got)-2], "Контроль качества") {
			t.Fatalf("chat %s: %d photos, %d texts: %q", chat, len(photos), len(got), got)
		}
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Replace(fmtInt(n), " ", "", -1)) }
