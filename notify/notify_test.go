package notify_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"mime"
	netmail "net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/mail"
	"github.com/funnelwatch/funnelwatch/mail/smtptest"
	"github.com/funnelwatch/funnelwatch/notify"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/telegram"
	"github.com/funnelwatch/funnelwatch/telegram/telegramtest"
)

const regs = `company: Септики
timezone: Europe/Moscow
users:
  - {id: sergey, name: Сергей, role: supervisor, telegram: "200"}
  - {id: roman, name: Роман, supervisor: sergey, telegram: "100"}
  - {id: olga, name: Ольга, supervisor: sergey, email: olga@example.com}
  - {id: ivan, name: Иван, supervisor: sergey}
pipelines:
  - id: sales
    name: Продажи
    stages:
      - {id: target, name: Целевой клиент, sla: 2h}
      - {id: won, type: won}
      - {id: lost, type: lost}
notifications:
  quiet_hours: "21:00-09:00"
  digest: {over: 2, within: 10m}
`

// world is a real SQLite store with one deal and its overdue task, a fake
// Telegram and the outbox dispatcher on a hand-moved clock.
type world struct {
	t    *testing.T
	ctx  context.Context
	st   funnelwatch.Store
	tg   *telegramtest.Fake
	smtp *smtptest.Server
	now  time.Time
	disp *engine.Dispatcher
}

func newWorld(t *testing.T, start time.Time) *world {
	ctx := context.Background()
	r, err := regulations.Parse([]byte(regs))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.EnsureWorkspace(ctx, "ws", "Септики"); err != nil {
		t.Fatal(err)
	}
	in := &engine.Ingestor{Store: st, Workspace: "ws", Funnel: &r.Funnel}
	var events []funnelwatch.Event
	for i, line := range []string{
		`{"id":"e1","type":"deal.created","at":"2026-11-23T08:00:00+03:00","deal":{"id":"D1","pipeline":"sales","stage":"target","responsible":"roman","name":"ООО <Рога & Копыта>_1","amount":150000}}`,
		`{"id":"e2","type":"task.created","at":"2026-11-23T08:01:00+03:00","task":{"id":"T1","deal_id":"D1","assignee":"roman","text":"Позвонить & уточнить","due":"2026-11-23T09:00:00+03:00"}}`,
	} {
		e, err := funnelwatch.DecodeEvent([]byte(line))
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		events = append(events, e)
	}
	if res, err := in.Ingest(ctx, events); err != nil || res.Count(engine.Accepted) != 2 {
		t.Fatalf("ingest: %v %+v", err, res)
	}
	if err := in.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	tg, srv := telegramtest.Start(t)
	w := &world{t: t, ctx: ctx, st: st, tg: tg, now: start}
	clock := func() time.Time { return w.now }
	client := &telegram.Client{Token: tg.Token, BaseURL: srv.URL, PerChat: time.Nanosecond, Attempts: 1,
		Sleep: func(context.Context, time.Duration) error { return nil }}
	smtp := smtptest.Start(t)
	w.smtp = smtp
	mailer := &mail.Sender{Config: mail.Config{Host: smtp.Host, Port: smtp.Port, Username: smtptest.Username,
		Password: smtptest.Password, From: "fw@example.com", TLSConfig: &tls.Config{RootCAs: smtp.RootCAs, ServerName: "127.0.0.1"}}}
	n := &notify.Notifier{Store: st, Workspace: "ws", Regs: r, Now: clock, BaseURL: "https://fw.example.com",
		Channels: map[string]notify.Channel{"telegram": notify.Telegram{Client: client}, "email": notify.Email{Sender: mailer}}}
	w.disp = &engine.Dispatcher{Store: st, Workspace: "ws", Now: clock, Deliverers: map[string]engine.Deliverer{"notify": n}}
	return w
}

// overdue puts a notify action in the outbox as the engine writes it.
func (w *world) overdue(key string, recipients ...string) { w.overdueBy(key, "", recipients...) }

// overdueBy is overdue with the channel the action names.
func (w *world) overdueBy(key, channel string, recipients ...string) {
	payload, _ := json.Marshal(engine.ActionView{Type: "notify", At: w.now.Format(time.RFC3339), DealID: "D1",
		Rule: "overdue_notify", Trigger: "task.overdue", Key: key, TaskID: "T1", Recipients: recipients, Channel: channel})
	err := w.st.Update(w.ctx, "ws", func(tx funnelwatch.Tx) error {
		_, err := tx.InsertActions(w.ctx, &funnelwatch.ActionRecord{Key: key, Type: "notify", Rule: "overdue_notify",
			DealID: "D1", At: w.now, Payload: payload, Status: funnelwatch.ActionPending})
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) step() {
	w.t.Helper()
	if _, err := w.disp.Step(w.ctx); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) action(key string) *funnelwatch.ActionRecord {
	var a *funnelwatch.ActionRecord
	if err := w.st.View(w.ctx, "ws", func(tx funnelwatch.ReadTx) error {
		var err error
		a, err = tx.Action(w.ctx, key)
		return err
	}); err != nil {
		w.t.Fatal(err)
	}
	return a
}

func msk(h, m int) time.Time {
	loc, _ := time.LoadLocation("Europe/Moscow")
	return time.Date(2026, 11, 23, h, m, 0, 0, loc)
}

// The overdue task is notified to the manager and the supervisor at once
// (seed 001), with the deal's name escaped; a user with only an e-mail
// address gets an e-mail; a user with neither is recorded as unreachable
// instead of blocking the others.
func TestOverdueNoticeReachesManagerAndSupervisor(t *testing.T) {
	w := newWorld(t, msk(9, 0))
	w.overdue("overdue_notify:T1@x:0", "roman", "sergey", "olga", "ivan", "roman")
	w.step()
	for _, chat := range []string{"100", "200"} {
		got := w.tg.Got(chat)
		if len(got) != 1 {
			t.Fatalf("chat %s got %d messages, want 1: %q", chat, len(got), got)
		}
		for _, want := range []string{"<b>Просрочена задача</b>", "«ООО &lt;Рога &amp; Копыта&gt;_1» — 150\u202f000\u00a0₽",
			"Продажи → Целевой клиент", "Ответственный: Роман", "«Позвонить &amp; уточнить», срок 23.11 09:00",
			`<a href="https://fw.example.com/deals/D1">`} {
			if !strings.Contains(got[0], want) {
				t.Errorf("chat %s: %q lacks %q", chat, got[0], want)
			}
		}
	}
	if a := w.action("overdue_notify:T1@x:0"); a.Status != funnelwatch.ActionDone {
		t.Fatalf("action %+v", a)
	}
	var notices []*funnelwatch.Notice
	w.st.View(w.ctx, "ws", func(tx funnelwatch.ReadTx) error {
		var err error
		notices, err = tx.Notices(w.ctx, funnelwatch.NoticeFilter{ActionKey: "overdue_notify:T1@x:0"})
		return err
	})
	var states []string
	for _, n := range notices {
		states = append(states, n.Target+"="+string(n.Status))
	}
	if got := strings.Join(states, " "); !strings.Contains(got, "telegram:100=sent") || !strings.Contains(got, "telegram:200=sent") ||
		!strings.Contains(got, "email:olga@example.com=sent") || !strings.Contains(got, "user:ivan=failed") || len(notices) != 4 {
		t.Fatalf("notices: %s", got)
	}
	mails := w.smtp.Mails()
	if len(mails) != 1 || mails[0].To[0] != "olga@example.com" || !mails[0].TLS {
		t.Fatalf("%d e-mails", len(mails))
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(mails[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); subject != "Просрочена задача: «ООО <Рога & Копыта>_1»" {
		t.Fatalf("e-mail subject %q", subject)
	}
	// The Message-ID is the action's and the target's: a repeat after a
	// crash is the same message to a mail client.
	if id := msg.Header.Get("Message-Id"); !strings.HasSuffix(id, "@funnelwatch>") || len(id) != len("<@funnelwatch>")+24 {
		t.Errorf("Message-ID %q", id)
	}
}

// A chat that fails gets the notice on the retry; the one that already
// had it does not get it twice.
func TestRetrySendsOnlyToTheTargetThatFailed(t *testing.T) {
	w := newWorld(t, msk(10, 0))
	w.tg.Fail("200", 1)
	w.overdue("k", "roman", "sergey")
	w.step()
	if a := w.action("k"); a.Status != funnelwatch.ActionPending || a.Attempts != 1 || !strings.Contains(a.LastError, "telegram:200") {
		t.Fatalf("after a 500 for the supervisor: %+v", a)
	}
	if len(w.tg.Got("100")) != 1 || len(w.tg.Got("200")) != 0 {
		t.Fatalf("first attempt: manager %d, supervisor %d", len(w.tg.Got("100")), len(w.tg.Got("200")))
	}
	w.now = w.now.Add(5 * time.Second)
	w.step()
	if len(w.tg.Got("100")) != 1 || len(w.tg.Got("200")) != 1 {
		t.Fatalf("after the retry: manager %d (want 1, no duplicate), supervisor %d", len(w.tg.Got("100")), len(w.tg.Got("200")))
	}
	if a := w.action("k"); a.Status != funnelwatch.ActionDone {
		t.Fatalf("after the retry: %+v", a)
	}
}

// At night notices are held and go out when the quiet hours end; the wait
// is not a failed attempt.
func TestQuietHoursHoldNotices(t *testing.T) {
	w := newWorld(t, msk(22, 30))
	w.overdue("night", "roman")
	w.step()
	a := w.action("night")
	loc, _ := time.LoadLocation("Europe/Moscow")
	morning := time.Date(2026, 11, 24, 9, 0, 0, 0, loc)
	if a.Status != funnelwatch.ActionPending || a.Attempts != 0 || !a.NextAttemptAt.Equal(morning) || !strings.Contains(a.LastError, "тихие часы") {
		t.Fatalf("at 22:30: %+v", a)
	}
	w.now = morning.Add(-time.Minute)
	w.step()
	if len(w.tg.Got("100")) != 0 {
		t.Fatal("a notice went out during the quiet hours")
	}
	w.now = morning
	w.step()
	if len(w.tg.Got("100")) != 1 || w.action("night").Status != funnelwatch.ActionDone {
		t.Fatalf("at 09:00: %d messages, %+v", len(w.tg.Got("100")), w.action("night"))
	}
}

// Past two notices in ten minutes, one person gets a summary instead of a
// flood: two single notices, then the other three in one digest when the
// window has passed; each action is done once its notice went out.
func TestDigestInsteadOfFlood(t *testing.T) {
	w := newWorld(t, msk(12, 0))
	for i := range 5 {
		w.overdue(fmt.Sprintf("n%d", i), "roman")
	}
	w.step()
	if got := w.tg.Got("100"); len(got) != 2 {
		t.Fatalf("%d messages before the digest, want 2: %q", len(got), got)
	}
	for i := 2; i < 5; i++ {
		if a := w.action(fmt.Sprintf("n%d", i)); a.Status != funnelwatch.ActionPending || a.Attempts != 0 || !a.NextAttemptAt.Equal(msk(12, 10)) {
			t.Fatalf("held n%d: %+v", i, a)
		}
	}
	w.now = msk(12, 10)
	w.step()
	got := w.tg.Got("100")
	if len(got) != 3 {
		t.Fatalf("%d messages after the window, want 2 + one digest: %q", len(got), got)
	}
	if !strings.Contains(got[2], "Сводка: 3 уведомления") || strings.Count(got[2], "Просрочена задача: «ООО &lt;Рога &amp; Копыта&gt;_1»") != 3 {
		t.Fatalf("digest: %q", got[2])
	}
	for i := range 5 {
		if a := w.action(fmt.Sprintf("n%d", i)); a.Status != funnelwatch.ActionDone {
			t.Fatalf("n%d after the digest: %+v", i, a)
		}
	}
}

// An action that names the e-mail channel reaches users by e-mail only: a
// user with only a Telegram chat is recorded unreachable, not messaged.
func TestNotifyByTheChannelTheRuleNames(t *testing.T) {
	w := newWorld(t, msk(10, 0))
	w.overdueBy("by-mail", "email", "olga", "sergey")
	w.step()
	if len(w.tg.Got("200")) != 0 {
		t.Fatal("the supervisor got a Telegram message from an e-mail-only notice")
	}
	if mails := w.smtp.Mails(); len(mails) != 1 || mails[0].To[0] != "olga@example.com" {
		t.Fatalf("e-mails: %d", len(mails))
	}
	var notices []*funnelwatch.Notice
	w.st.View(w.ctx, "ws", func(tx funnelwatch.ReadTx) error {
		var err error
		notices, err = tx.Notices(w.ctx, funnelwatch.NoticeFilter{ActionKey: "by-mail", Target: "user:sergey"})
		return err
	})
	if len(notices) != 1 || notices[0].Status != funnelwatch.NoticeFailed || !strings.Contains(notices[0].Error, "нет e-mail") {
		t.Fatalf("sergey's notice: %+v", notices)
	}
}

// A quality rule's notice says what is wrong in the rule's words, in the
// subject of its e-mail too.
func TestFindingNotice(t *testing.T) {
	w := newWorld(t, msk(10, 20))
	payload, _ := json.Marshal(engine.ActionView{Type: "notify", At: msk(10, 15).Format(time.RFC3339), DealID: "D1",
		Rule: "missed_call_callback", Trigger: "finding.opened", Key: "missed_call_callback:D1/C1@20261123T071500Z:notify",
		Text: "Не перезвонили на пропущенный звонок вовремя", Recipients: []string{"roman", "olga"}})
	err := w.st.Update(w.ctx, "ws", func(tx funnelwatch.Tx) error {
		_, err := tx.InsertActions(w.ctx, &funnelwatch.ActionRecord{Key: "missed_call_callback:D1/C1@20261123T071500Z:notify",
			Type: "notify", Rule: "missed_call_callback", DealID: "D1", At: msk(10, 15), Payload: payload, Status: funnelwatch.ActionPending})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w.step()
	got := w.tg.Got("100")
	if len(got) != 1 || !strings.Contains(got[0], "<b>Нарушение регламента</b>") ||
		!strings.Contains(got[0], "Что не так: Не перезвонили на пропущенный звонок вовремя") {
		t.Fatalf("manager's notice: %q", got)
	}
	mails := w.smtp.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d e-mails", len(mails))
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(mails[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); subject != "Не перезвонили на пропущенный звонок вовремя: «ООО <Рога & Копыта>_1»" {
		t.Fatalf("e-mail subject %q", subject)
	}
}
