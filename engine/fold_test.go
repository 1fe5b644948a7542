package engine_test

import (
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/storetest"
)

func decode(t *testing.T, lines ...string) []funnelwatch.Event {
	t.Helper()
	var out []funnelwatch.Event
	for _, l := range lines {
		e, err := funnelwatch.DecodeEvent([]byte(l))
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		out = append(out, e)
	}
	return out
}

func msk(day, hour, minute int) time.Time {
	return time.Date(2026, 11, day, hour-3, minute, 0, 0, time.UTC)
}

// A deal's life in the main pipeline, to warm-up and back, closed and
// reopened: the fold keeps the times the rules count from.
func TestFoldDealLife(t *testing.T) {
	f := storetest.Funnel()
	events := decode(t,
		`{"id":"1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","responsible":"roman","amount":5000,"fields":{"car":"BMW","paid":false}}}`,
		`{"id":"2","type":"deal.stage_changed","at":"2026-11-02T11:00:00+03:00","deal_id":"D1","to_stage":"contact"}`,
		`{"id":"3","type":"deal.stage_changed","at":"2026-11-02T11:30:00+03:00","deal_id":"D1","to_stage":"contact"}`,
		`{"id":"4","type":"deal.updated","at":"2026-11-02T12:00:00+03:00","deal_id":"D1","amount":7000,"fields":{"paid":true,"car":null}}`,
	)
	a := engine.Fold(f, events)
	d := a.Deal
	if d.Stage != "contact" || !d.StageEnteredAt.Equal(msk(2, 11, 0)) {
		t.Errorf("a move to the stage the deal is on must change nothing: stage %s entered %s", d.Stage, d.StageEnteredAt)
	}
	if d.Amount != 7000 || d.Fields["paid"] != true || d.Fields["car"] != nil || len(d.Fields) != 1 {
		t.Errorf("update: amount %v fields %v", d.Amount, d.Fields)
	}
	if d.Stage != "contact" || d.Stage == "" || d.Status != funnelwatch.DealOpen || d.Pipeline != "sales" {
		t.Errorf("deal = %+v", d)
	}

	// The lifetime moves it to warm-up: a new pipeline, a new lifetime.
	events = append(events, decode(t,
		`{"id":"5","type":"deal.stage_changed","at":"2026-11-09T10:00:00+03:00","deal_id":"D1","to_stage":"warmup/new"}`,
		`{"id":"6","type":"deal.responsible_changed","at":"2026-11-09T10:00:00+03:00","deal_id":"D1","to":"olga"}`,
		`{"id":"7","type":"deal.stage_changed","at":"2026-11-10T10:00:00+03:00","deal_id":"D1","to_stage":"sales/contact"}`,
	)...)
	d = engine.Fold(f, events).Deal
	if d.Pipeline != "sales" || !d.PipelineEnteredAt.Equal(msk(10, 10, 0)) || d.Responsible != "olga" {
		t.Errorf("back from warm-up: pipeline %s entered %s, responsible %s", d.Pipeline, d.PipelineEnteredAt, d.Responsible)
	}

	// Lost with a reason, then reopened: no longer closed, the reason
	// goes, the lifetime keeps counting from the last entry.
	events = append(events, decode(t,
		`{"id":"8","type":"deal.stage_changed","at":"2026-11-11T10:00:00+03:00","deal_id":"D1","to_stage":"lost","loss_reason":" купил у конкурента "}`,
	)...)
	d = engine.Fold(f, events).Deal
	if d.Status != funnelwatch.DealLost || d.ClosedAt == nil || !d.ClosedAt.Equal(msk(11, 10, 0)) || d.LossReason != "купил у конкурента" {
		t.Errorf("lost: %+v", d)
	}
	events = append(events, decode(t,
		`{"id":"9","type":"deal.stage_changed","at":"2026-11-12T10:00:00+03:00","deal_id":"D1","to_stage":"ready"}`,
	)...)
	d = engine.Fold(f, events).Deal
	if d.Status != funnelwatch.DealOpen || d.ClosedAt != nil || d.LossReason != "" || !d.PipelineEnteredAt.Equal(msk(10, 10, 0)) {
		t.Errorf("reopened: %+v", d)
	}
	events = append(events, decode(t,
		`{"id":"10","type":"deal.stage_changed","at":"2026-11-13T10:00:00+03:00","deal_id":"D1","to_stage":"won"}`,
		`{"id":"11","type":"deal.deleted","at":"2026-11-14T10:00:00+03:00","deal_id":"D1"}`,
	)...)
	d = engine.Fold(f, events).Deal
	if d.Status != funnelwatch.DealWon || d.DeletedAt == nil || d.Open() {
		t.Errorf("won then deleted: %+v", d)
	}
	if !d.LastEventAt.Equal(msk(14, 10, 0)) || !d.UpdatedAt.Equal(msk(14, 10, 0)) {
		t.Errorf("times: last event %s, updated %s", d.LastEventAt, d.UpdatedAt)
	}
}

func TestFoldTasks(t *testing.T) {
	f := storetest.Funnel()
	a := engine.Fold(f, decode(t,
		`{"id":"1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","responsible":"roman"}}`,
		`{"id":"2","type":"task.created","at":"2026-11-02T10:00:00+03:00","actor":"sergey","task":{"id":"T1","deal_id":"D1","due":"2026-11-02T10:15:00+03:00","text":"Позвонить","kind":"call"}}`,
		`{"id":"3","type":"task.rescheduled","at":"2026-11-02T10:10:00+03:00","task_id":"T1","due":"2026-11-02T12:00:00+03:00"}`,
		`{"id":"4","type":"task.rescheduled","at":"2026-11-02T11:50:00+03:00","task_id":"T1","due":"2026-11-03T12:00:00+03:00"}`,
		`{"id":"5","type":"task.created","at":"2026-11-02T10:20:00+03:00","task":{"id":"T2","deal_id":"D1","assignee":"olga"}}`,
		`{"id":"6","type":"task.deleted","at":"2026-11-02T10:30:00+03:00","task_id":"T2"}`,
		`{"id":"7","type":"task.completed","at":"2026-11-02T10:40:00+03:00","task_id":"T2","result":"late"}`,
		`{"id":"8","type":"call","at":"2026-11-02T13:00:00+03:00","call":{"id":"C1","direction":"out","deal_id":"D1","duration_s":10}}`,
	))
	t1, t2 := a.Tasks.Get("T1"), a.Tasks.Get("T2")
	if t1.Assignee != "roman" || t1.CreatedBy != "sergey" || t1.Reschedules != 2 || !t1.Due.Equal(msk(3, 12, 0)) || !t1.Open() {
		t.Errorf("T1 = %+v", t1)
	}
	// A deleted task is closed without a result; a later completion
	// does not reopen or overwrite it.
	if !t2.Deleted || t2.Open() || !t2.CompletedAt.Equal(msk(2, 10, 30)) || t2.Result != "" {
		t.Errorf("T2 = %+v", t2)
	}
	// Calls move the deal's last event but not its own update time.
	if !a.Deal.LastEventAt.Equal(msk(2, 13, 0)) || !a.Deal.UpdatedAt.Equal(msk(2, 10, 0)) {
		t.Errorf("deal times: last %s updated %s", a.Deal.LastEventAt, a.Deal.UpdatedAt)
	}
}

func TestContactOf(t *testing.T) {
	if c := engine.ContactOf(&funnelwatch.ContactInfo{Name: " Иван ", Phone: "8 (912) 345-67-89", Email: "I@X.ru"}); c == nil ||
		c.ID != "tel:+79123456789" || c.Name != "Иван" || c.Emails[0] != "i@x.ru" {
		t.Errorf("contact = %+v", c)
	}
	if c := engine.ContactOf(&funnelwatch.ContactInfo{Email: "I@X.ru"}); c == nil || c.ID != "mail:i@x.ru" {
		t.Errorf("e-mail contact = %+v", c)
	}
	if c := engine.ContactOf(&funnelwatch.ContactInfo{Name: "Без телефона"}); c != nil {
		t.Errorf("a contact with no phone and no e-mail cannot be deduplicated: %+v", c)
	}
}

// Every rule of the catalogue speaks both languages.
func TestCatalogueTexts(t *testing.T) {
	for _, id := range regulations.Rules {
		if id == regulations.RuleExpr {
			continue
		}
		tx, ok := engine.Catalogue[id]
		if !ok || tx.Message.RU == "" || tx.Message.EN == "" || tx.Recommendation.RU == "" || tx.Recommendation.EN == "" {
			t.Errorf("rule %s lacks a message or recommendation in Russian or English: %+v", id, tx)
		}
	}
}
