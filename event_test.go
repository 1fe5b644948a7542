package funnelwatch_test

import (
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

func TestDecodeEvent(t *testing.T) {
	e, err := funnelwatch.DecodeEvent([]byte(`{"id":"evt-123","type":"deal.created","at":"2026-11-02T10:00:00+03:00",
		"deal":{"id":"D1","pipeline":"sales","stage":"target","responsible":"roman","amount":42000.5,"source":"avito",
		"contact":{"name":"Иван","phone":"+79123456789","email":"i@example.com"},"fields":{"paid":true,"car":"BMW"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "evt-123" || e.Type != funnelwatch.EventDealCreated || !e.At.Equal(time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("header = %+v", e)
	}
	d := e.Deal
	if d.ID != "D1" || d.Pipeline != "sales" || d.Stage != "target" || d.Responsible != "roman" || d.Amount != 42000.5 ||
		d.Contact.Phone != "+79123456789" || d.Fields["paid"] != true || d.Fields["car"] != "BMW" {
		t.Errorf("deal = %+v", d)
	}

	call, err := funnelwatch.DecodeEvent([]byte(`{"id":"c","type":"call","at":"2026-11-02T10:00:00Z",
		"call":{"id":"K1","user":"roman","direction":"in","phone":"89123456789","duration_s":0,"answered":false}}`))
	if err != nil {
		t.Fatal(err)
	}
	// A call without started_at started when the event happened.
	if !call.Call.StartedAt.Equal(call.At) || call.Call.Answered {
		t.Errorf("call = %+v", call.Call)
	}
}

func TestDecodeEventRejections(t *testing.T) {
	tests := []struct {
		name, in, reason string
	}{
		{"malformed JSON", `{"id":"x",`, "malformed JSON"},
		{"not an object", `[1,2]`, "wrong type"},
		{"no id", `{"type":"deal.deleted","at":"2026-11-02T10:00:00Z","deal_id":"D1"}`, "missing field: id"},
		{"no type", `{"id":"x","at":"2026-11-02T10:00:00Z"}`, "missing field: type"},
		{"unknown type", `{"id":"x","type":"deal.exploded","at":"2026-11-02T10:00:00Z"}`, `unknown event type "deal.exploded"`},
		{"no time", `{"id":"x","type":"deal.deleted","deal_id":"D1"}`, "missing field: at"},
		{"bad time", `{"id":"x","type":"deal.deleted","at":"02.11.2026 10:00","deal_id":"D1"}`, "bad time in at"},
		{"absurd time", `{"id":"x","type":"deal.deleted","at":"1970-01-01T00:00:00Z","deal_id":"D1"}`, "out of range"},
		{"bad due", `{"id":"x","type":"task.rescheduled","at":"2026-11-02T10:00:00Z","task_id":"T1","due":"tomorrow"}`, "bad time in due"},
		{"amount as string", `{"id":"x","type":"deal.created","at":"2026-11-02T10:00:00Z","deal":{"id":"D1","pipeline":"sales","amount":"много"}}`, "wrong type: deal.amount"},
		{"id as number", `{"id":17,"type":"deal.deleted","at":"2026-11-02T10:00:00Z","deal_id":"D1"}`, "wrong type: id"},
		{"deal without pipeline", `{"id":"x","type":"deal.created","at":"2026-11-02T10:00:00Z","deal":{"id":"D1"}}`, "missing field: deal.pipeline"},
		{"deal missing", `{"id":"x","type":"deal.created","at":"2026-11-02T10:00:00Z"}`, "missing field: deal"},
		{"stage change without stage", `{"id":"x","type":"deal.stage_changed","at":"2026-11-02T10:00:00Z","deal_id":"D1"}`, "missing field: to_stage"},
		{"task without deal", `{"id":"x","type":"task.created","at":"2026-11-02T10:00:00Z","task":{"id":"T1"}}`, "missing field: task.deal_id"},
		{"call direction", `{"id":"x","type":"call","at":"2026-11-02T10:00:00Z","call":{"id":"K1","direction":"sideways"}}`, "call.direction"},
		{"negative duration", `{"id":"x","type":"call","at":"2026-11-02T10:00:00Z","call":{"id":"K1","direction":"in","duration_s":-5}}`, "negative"},
		{"note without text holder", `{"id":"x","type":"note.added","at":"2026-11-02T10:00:00Z","note":{"id":"N1"}}`, "missing field: note.deal_id"},
		{"reschedule without due", `{"id":"x","type":"task.rescheduled","at":"2026-11-02T10:00:00Z","task_id":"T1"}`, "missing field: due"},
		{"trailing value", `{"id":"x","type":"deal.deleted","at":"2026-11-02T10:00:00Z","deal_id":"D1"} {}`, "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := funnelwatch.DecodeEvent([]byte(tt.in))
			if err == nil {
				t.Fatalf("accepted %s", tt.in)
			}
			if funnelwatch.ErrorCode(err) != funnelwatch.EINVALID || !strings.Contains(funnelwatch.ErrorMessage(err), tt.reason) {
				t.Errorf("error = %v, want EINVALID with %q", err, tt.reason)
			}
		})
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{
		`{"id":"e","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","amount":1}}`,
		`{"id":"e","type":"task.created","at":"2026-11-02T10:00:00Z","task":{"id":"T","deal_id":"D","due":"2026-11-02T10:15:00Z"}}`,
		`{"id":"e","type":"call","at":"2026-11-02T10:00:00Z","call":{"id":"C","direction":"in","duration_s":3}}`,
		`{"id":"e","type":"deal.updated","at":"2026-11-02T10:00:00Z","deal_id":"D","fields":{"a":null}}`,
		`{`, `null`, `[]`, `{"id":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := funnelwatch.DecodeEvent(data)
		if err != nil {
			if funnelwatch.ErrorCode(err) != funnelwatch.EINVALID || funnelwatch.ErrorMessage(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		// An accepted event has what every event needs.
		if e.ID == "" || !e.Type.Valid() || e.At.IsZero() {
			t.Fatalf("accepted an incomplete event: %+v", e)
		}
	})
}

func TestScheduleOnShift(t *testing.T) {
	msk := time.FixedZone("MSK", 3*3600)
	s := funnelwatch.Schedule{OnDays: 3, OffDays: 3, Start: time.Date(2026, 11, 1, 0, 0, 0, 0, msk)}
	// Three days on from 1 November, three off, and again.
	want := map[int]bool{1: true, 2: true, 3: true, 4: false, 5: false, 6: false, 7: true, 10: false, 13: true}
	for day, on := range want {
		if got := s.OnShift(time.Date(2026, 11, day, 12, 0, 0, 0, msk)); got != on {
			t.Errorf("OnShift(%d Nov) = %v, want %v", day, got, on)
		}
	}
	// Before the start the cycle runs backwards: 31 Oct is the last day off.
	if s.OnShift(time.Date(2026, 10, 31, 12, 0, 0, 0, msk)) {
		t.Error("31 Oct should be a day off")
	}
	if !(funnelwatch.Schedule{}).OnShift(time.Now()) {
		t.Error("the zero schedule is always on")
	}
}
