package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/webhook"
)

// receiver is a webhook endpoint that answers with the statuses it is
// given, in turn, and records what it got.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []http.Header
	bodies   [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, req.Header.Clone())
	r.bodies = append(r.bodies, body)
	status := http.StatusOK
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	w.WriteHeader(status)
}

func action(t *testing.T, key, url string) *funnelwatch.ActionRecord {
	t.Helper()
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	x := &engine.Action{Type: "webhook", At: at, DealID: "D1", Rule: "to_1c", Trigger: "deal.won", Key: key, URL: url}
	payload, err := json.Marshal(x.View(time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return &funnelwatch.ActionRecord{Key: key, Type: "webhook", Rule: "to_1c", DealID: "D1", At: at, Payload: payload,
		Status: funnelwatch.ActionPending, NextAttemptAt: at}
}

func TestDeliverSignsAndNamesTheAction(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	secret := []byte("s3cret")
	c := &webhook.Client{Secret: secret, Now: func() time.Time { return time.Unix(1700000000, 0) }}
	if err := c.Deliver(context.Background(), action(t, "to_1c:e7:0", srv.URL)); err != nil {
		t.Fatal(err)
	}
	h, body := rcv.got[0], rcv.bodies[0]
	if h.Get(webhook.HeaderIdempotencyKey) != "to_1c:e7:0" || h.Get(webhook.HeaderTimestamp) != "1700000000" {
		t.Errorf("headers %v", h)
	}
	if !webhook.Verify(secret, "1700000000", body, h.Get(webhook.HeaderSignature)) {
		t.Errorf("signature %q does not verify", h.Get(webhook.HeaderSignature))
	}
	if webhook.Verify([]byte("other"), "1700000000", body, h.Get(webhook.HeaderSignature)) {
		t.Error("a signature verified with the wrong secret")
	}
	var b webhook.Body
	if err := json.Unmarshal(body, &b); err != nil || b.Key != "to_1c:e7:0" || b.DealID != "D1" || b.Action.Rule != "to_1c" {
		t.Errorf("body %s (%v)", body, err)
	}
}

func TestDeliverClassifiesFailures(t *testing.T) {
	rcv := &receiver{statuses: []int{500, 429, 404}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	c := &webhook.Client{}
	ctx := context.Background()
	for i, permanent := range []bool{false, false, true} {
		err := c.Deliver(ctx, action(t, "k", srv.URL))
		if err == nil || engine.IsPermanent(err) != permanent {
			t.Errorf("answer %d: err %v, permanent %v, want %v", i, err, engine.IsPermanent(err), permanent)
		}
	}
	if err := c.Deliver(ctx, action(t, "k", "")); !engine.IsPermanent(err) {
		t.Errorf("no URL: %v, want a permanent failure", err)
	}
	srv.Close()
	if err := c.Deliver(ctx, action(t, "k", srv.URL)); err == nil || engine.IsPermanent(err) {
		t.Errorf("unreachable: %v, want a failure to retry", err)
	}
}

// TestDispatcherRetriesWithBackoff runs the outbox dispatcher on a real
// store against the receiver: a 500 is retried after the backoff, then
// delivered once; a 404 fails at once with the reason kept.
func TestDispatcherRetriesWithBackoff(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureWorkspace(ctx, "ws", "Test"); err != nil {
		t.Fatal(err)
	}
	rcv := &receiver{statuses: []int{500, 200}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	defer gone.Close()
	err = st.Update(ctx, "ws", func(tx funnelwatch.Tx) error {
		_, err := tx.InsertActions(ctx, action(t, "a", srv.URL), action(t, "b", gone.URL))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 2, 10, 0, 1, 0, time.UTC)
	d := &engine.Dispatcher{Store: st, Workspace: "ws", Now: func() time.Time { return now },
		Deliverers: map[string]engine.Deliverer{"webhook": &webhook.Client{}}}
	get := func(key string) *funnelwatch.ActionRecord {
		var a *funnelwatch.ActionRecord
		if err := st.View(ctx, "ws", func(tx funnelwatch.ReadTx) error { var err error; a, err = tx.Action(ctx, key); return err }); err != nil {
			t.Fatal(err)
		}
		return a
	}
	if n, err := d.Step(ctx); err != nil || n != 2 {
		t.Fatalf("first step: %d attempts, %v", n, err)
	}
	a := get("a")
	if a.Status != funnelwatch.ActionPending || a.Attempts != 1 || !a.NextAttemptAt.Equal(now.Add(5*time.Second)) || a.LastError == "" {
		t.Errorf("after a 500: %+v", a)
	}
	if b := get("b"); b.Status != funnelwatch.ActionFailed || b.Attempts != 1 {
		t.Errorf("after a 404: %+v", b)
	}
	if n, _ := d.Step(ctx); n != 0 {
		t.Errorf("%d attempts before the backoff passed", n)
	}
	now = now.Add(5 * time.Second)
	if n, err := d.Step(ctx); err != nil || n != 1 {
		t.Fatalf("after the backoff: %d attempts, %v", n, err)
	}
	if a := get("a"); a.Status != funnelwatch.ActionDone || a.Attempts != 2 || a.DoneAt == nil || !a.DoneAt.Equal(now) {
		t.Errorf("after the retry: %+v", a)
	}
	now = now.Add(time.Hour)
	if n, _ := d.Step(ctx); n != 0 || len(rcv.got) != 2 {
		t.Errorf("delivered actions were tried again: %d attempts, %d requests", n, len(rcv.got))
	}
}

func TestDefaultBackoff(t *testing.T) {
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second}
	for i, w := range want {
		if got := engine.DefaultBackoff(i + 1); got != w {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w)
		}
	}
	if got := engine.DefaultBackoff(30); got != time.Hour {
		t.Errorf("attempt 30: %v, want the one-hour cap", got)
	}
}
