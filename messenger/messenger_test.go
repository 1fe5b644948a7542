package messenger_test

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
	"github.com/funnelwatch/funnelwatch/messenger"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/webhook"
)

const regs = `company: Склад
users:
  - {id: olga, role: manager}
pipelines:
  - id: couriers
    name: Курьеры
    kind: automatic
    stages:
      - {id: new, name: Звонок курьера}
      - {id: sent, name: Схема проезда отправлена, type: won}
`

// gateway is a messenger gateway that takes a message the second time
// it is offered (the first answers 503).
type gateway struct {
	mu   sync.Mutex
	seen int
	got  []messenger.Request
	hdr  []http.Header
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seen++
	if g.seen == 1 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var req messenger.Request
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	g.got = append(g.got, req)
	g.hdr = append(g.hdr, r.Header.Clone())
}

// A courier's call creates a deal; the directions template goes to the
// courier's phone (E.164) through the gateway, retried after a 503, with
// the gateway's token and the action's idempotency key. A deal with no
// phone fails at once: there is nobody to write to.
func TestMessageToTheCourier(t *testing.T) {
	ctx := context.Background()
	r, err := regulations.Parse([]byte(regs))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.EnsureWorkspace(ctx, "ws", "Склад")
	in := &engine.Ingestor{Store: st, Workspace: "ws", Funnel: &r.Funnel}
	var events []funnelwatch.Event
	for _, line := range []string{
		`{"id":"e1","type":"deal.created","at":"2026-11-23T10:00:00+03:00","deal":{"id":"C1","pipeline":"couriers","stage":"new","contact":{"name":"Курьер СДЭК","phone":"8 (912) 345-67-89"}}}`,
		`{"id":"e2","type":"deal.created","at":"2026-11-23T10:01:00+03:00","deal":{"id":"C2","pipeline":"couriers","stage":"new"}}`,
	} {
		e, err := funnelwatch.DecodeEvent([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if res, err := in.Ingest(ctx, events); err != nil || res.Count(engine.Accepted) != 2 {
		t.Fatalf("ingest: %v %+v", err, res)
	}
	text := "Склад: ул. Промышленная, 5, ворота 3. Видео: https://example.com/route. Телефон: +7 495 000-00-00"
	var actions []*funnelwatch.ActionRecord
	for _, deal := range []string{"C1", "C2"} {
		payload, _ := json.Marshal(engine.ActionView{Type: "message", DealID: deal, Rule: "courier_route", Key: "courier_route:" + deal + ":0",
			Template: text, Channel: "whatsapp"})
		actions = append(actions, &funnelwatch.ActionRecord{Key: "courier_route:" + deal + ":0", Type: "message", DealID: deal,
			Rule: "courier_route", At: time.Now(), Payload: payload, Status: funnelwatch.ActionPending})
	}
	if err := st.Update(ctx, "ws", func(tx funnelwatch.Tx) error { _, err := tx.InsertActions(ctx, actions...); return err }); err != nil {
		t.Fatal(err)
	}
	gw := &gateway{}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	now := time.Date(2026, 11, 23, 7, 2, 0, 0, time.UTC)
	d := &engine.Dispatcher{Store: st, Workspace: "ws", Now: func() time.Time { return now }, Deliverers: map[string]engine.Deliverer{
		"message": &messenger.Gateway{URL: srv.URL, Token: "gw-token", Client: &webhook.Client{}, Store: st, Workspace: "ws", Sync: in.Sync}}}
	if _, err := d.Step(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(5 * time.Second) // the backoff after the 503
	if _, err := d.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if len(gw.got) != 1 {
		var all []*funnelwatch.ActionRecord
		st.View(ctx, "ws", func(tx funnelwatch.ReadTx) error {
			var err error
			all, err = tx.Actions(ctx, funnelwatch.ActionFilter{})
			return err
		})
		for _, a := range all {
			t.Logf("%+v", a)
		}
		t.Fatalf("the gateway took %d messages, want 1", len(gw.got))
	}
	got := gw.got[0]
	if got.To != "+79123456789" || got.Text != text || got.Channel != "whatsapp" || got.DealID != "C1" || got.Name != "Курьер СДЭК" {
		t.Errorf("message %+v", got)
	}
	if h := gw.hdr[0]; h.Get("Authorization") != "Bearer gw-token" || h.Get("Idempotency-Key") != "courier_route:C1:0" {
		t.Errorf("headers %v", h)
	}
	status := func(key string) *funnelwatch.ActionRecord {
		var a *funnelwatch.ActionRecord
		st.View(ctx, "ws", func(tx funnelwatch.ReadTx) error { var err error; a, err = tx.Action(ctx, key); return err })
		return a
	}
	if a := status("courier_route:C1:0"); a.Status != funnelwatch.ActionDone || a.Attempts != 2 {
		t.Errorf("C1: %+v", a)
	}
	if a := status("courier_route:C2:0"); a.Status != funnelwatch.ActionFailed || a.LastError == "" {
		t.Errorf("C2 (no phone): %+v", a)
	}
}
