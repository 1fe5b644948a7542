package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch/telegram/telegramtest"
)

// TestServeNotifiesOverTelegram: with a bot token in the environment, the
// server's overdue robot (overdue_notify of the contract example: the
// responsible and the supervisor) reaches the supervisor's Telegram chat
// through the outbox — the whole path from an ingested event to a message.
func TestServeNotifiesOverTelegram(t *testing.T) {
	tg, srv := telegramtest.Start(t)
	t.Setenv("FUNNELWATCH_API_TOKEN", "s3cret")
	t.Setenv("FUNNELWATCH_TELEGRAM_TOKEN", tg.Token)
	t.Setenv("FUNNELWATCH_TELEGRAM_URL", srv.URL)
	t.Setenv("FUNNELWATCH_BASE_URL", "https://funnelwatch.example.com")
	db := "sqlite:" + filepath.Join(t.TempDir(), "fw.db")
	url, _ := start(t, "serve", "--regulations", example, "--db", db, "--addr", "127.0.0.1:0")
	created := time.Now().Add(-2 * time.Hour).Format(time.RFC3339)
	due := time.Now().Add(-30 * time.Minute).Format(time.RFC3339)
	body := `[{"id":"e1","type":"deal.created","at":"` + created + `","deal":{"id":"D1","pipeline":"sales","stage":"contact","responsible":"roman","name":"Иванов & сыновья <опт>","amount":42000}},
	{"id":"e2","type":"task.created","at":"` + created + `","task":{"id":"T1","deal_id":"D1","assignee":"roman","text":"Перезвонить клиенту","due":"` + due + `"}}]`
	req, _ := http.NewRequest("POST", url+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ingest: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range tg.Got("100500") { // sergey's chat in the example
			if strings.Contains(m, "Просрочена задача") && strings.Contains(m, "«Перезвонить клиенту»") &&
				strings.Contains(m, "Иванов &amp; сыновья &lt;опт&gt;") &&
				strings.Contains(m, `href="https://funnelwatch.example.com/deals/D1"`) {
				// roman has no chat or address in the example: his notice
				// is recorded failed, the action is done for sergey.
				// The message may arrive a moment before its delivery is
				// recorded: poll the outbox until it says so.
				var code int
				var actions string
				for time.Now().Before(deadline) {
					code, actions = get(t, url+"/api/v1/actions?type=notify&deal_id=D1", "s3cret")
					if code == 200 && strings.Contains(actions, `"status":"done"`) &&
						strings.Contains(actions, `{"target":"telegram:100500","user":"sergey","status":"sent"`) &&
						strings.Contains(actions, `"target":"user:roman"`) {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
				t.Fatalf("notify actions: %d %s", code, actions)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the supervisor's chat got no overdue notice; it got %q", tg.Got("100500"))
}
