package telegram_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/funnelwatch/funnelwatch/telegram"
	"github.com/funnelwatch/funnelwatch/telegram/telegramtest"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a fake time that sleeping moves.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func newClient(srv *httptest.Server, clk *clock) *telegram.Client {
	return &telegram.Client{Token: "123:ABC", BaseURL: srv.URL, Now: clk.Now, Sleep: clk.Sleep}
}

func TestSendMessageEscapesDealNames(t *testing.T) {
	f, srv := telegramtest.Start(t)
	c := newClient(srv, &clock{now: time.Unix(1_700_000_000, 0)})
	name := `ООО "Рога & Копыта" <VIP> client_name_1`
	text := "<b>Просрочена задача</b> по сделке «" + telegram.Escape(name) + "»"
	if _, err := c.SendMessage(context.Background(), "100500", text); err != nil {
		t.Fatal(err)
	}
	got := f.Got("100500")
	if len(got) != 1 {
		t.Fatalf("messages: %q", got)
	}
	want := "<b>Просрочена задача</b> по сделке «ООО &quot;Рога &amp; Копыта&quot; &lt;VIP&gt; client_name_1»"
	if got[0] != want {
		t.Fatalf("sent %q\nwant %q", got[0], want)
	}
	// Unescaped, the same name is refused by the API's parser: the test
	// above would catch a missing Escape.
	if _, err := c.SendMessage(context.Background(), "100500", "<b>"+name+"</b>"); err == nil {
		t.Fatal("a raw < in a message was accepted by the fake; it should not be")
	}
}

func TestSendMessageSplitsLongText(t *testing.T) {
	f, srv := telegramtest.Start(t)
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	c := newClient(srv, clk)
	var b strings.Builder
	b.WriteString("<b>Отчёт за неделю</b>\n<i>")
	for i := range 400 {
		fmt.Fprintf(&b, "%d. Сделка «Клиент_%d &amp; Ко» — просрочена задача\n", i+1, i)
	}
	b.WriteString("</i>конец")
	sent, err := c.SendMessage(context.Background(), "-100200", b.String())
	if err != nil {
		t.Fatal(err)
	}
	got := f.Got("-100200")
	if len(got) < 5 || len(sent) != len(got) {
		t.Fatalf("%d parts sent, %d received; a %d-character text needs at least 5", len(sent), len(got), telegram.Visible(b.String()))
	}
	var joined strings.Builder
	for i, p := range got {
		if telegram.Visible(p) > telegram.MessageLimit {
			t.Errorf("part %d has %d characters", i, telegram.Visible(p))
		}
		if i < len(got)-1 && !strings.HasSuffix(p, "</i>") {
			t.Errorf("part %d does not close the open <i>: …%q", i, p[max(0, len(p)-40):])
		}
		if i > 0 && !strings.HasPrefix(p, "<i>") && i < len(got)-1 {
			t.Errorf("part %d does not reopen <i>: %q…", i, p[:40])
		}
		joined.WriteString(strings.ReplaceAll(strings.ReplaceAll(p, "<i>", ""), "</i>", ""))
	}
	// Nothing lost: every line arrives whole, in order.
	all := joined.String()
	last := -1
	for i := range 400 {
		line := fmt.Sprintf("%d. Сделка «Клиент_%d &amp; Ко» — просрочена задача", i+1, i)
		at := strings.Index(all, line)
		if at < 0 || at < last {
			t.Fatalf("line %d missing or out of order", i+1)
		}
		last = at
	}
	// One chat gets at most a message a second.
	if total := clk.now.Sub(time.Unix(1_700_000_000, 0)); total < time.Duration(len(got)-1)*time.Second {
		t.Errorf("%d messages to one chat in %s", len(got), total)
	}
}

func TestFloodControlIsHonoured(t *testing.T) {
	f, srv := telegramtest.Start(t)
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	c := newClient(srv, clk)
	f.Flood(2)
	if _, err := c.SendMessage(context.Background(), "100500", "просрочка"); err != nil {
		t.Fatal(err)
	}
	if got := f.Got("100500"); len(got) != 1 {
		t.Fatalf("delivered %d times, want once", len(got))
	}
	// Two 429s with retry_after 3: the client waited 3 s before each retry.
	var waited time.Duration
	for _, d := range clk.slept {
		waited += d
	}
	if waited < 6*time.Second {
		t.Fatalf("waited %s in all (%v); retry_after 3 twice needs 6 s", waited, clk.slept)
	}

	// A retry_after longer than MaxWait is handed back to the caller.
	f.Flood(1)
	c.MaxWait = 2 * time.Second
	_, err := c.SendMessage(context.Background(), "100500", "ещё")
	var apiErr *telegram.Error
	if !errors.As(err, &apiErr) || apiErr.RetryAfter != 3*time.Second || !apiErr.Temporary() {
		t.Fatalf("error %v, want a 429 with retry_after 3s", err)
	}
}

func TestNetworkFailureRetriedWithoutDuplicate(t *testing.T) {
	f, srv := telegramtest.Start(t)
	c := newClient(srv, &clock{now: time.Unix(1_700_000_000, 0)})
	f.Drop(2)
	if _, err := c.SendMessage(context.Background(), "100500", "пропущенный звонок"); err != nil {
		t.Fatal(err)
	}
	if got := f.Got("100500"); len(got) != 1 {
		t.Fatalf("delivered %d times, want once", len(got))
	}
	if f.Requests() != 3 {
		t.Fatalf("%d requests, want 3 (two dropped, one delivered)", f.Requests())
	}
	// Past its attempts the failure is returned, not swallowed.
	f.Drop(10)
	if _, err := c.SendMessage(context.Background(), "100500", "снова"); err == nil {
		t.Fatal("a message that never went through was reported sent")
	}
}

func TestPermanentErrorsAreNotRetried(t *testing.T) {
	f, srv := telegramtest.Start(t)
	c := newClient(srv, &clock{now: time.Unix(1_700_000_000, 0)})
	_, err := c.SendMessage(context.Background(), "404", "кому?")
	var apiErr *telegram.Error
	if !errors.As(err, &apiErr) || apiErr.Code != 400 || apiErr.Temporary() {
		t.Fatalf("error %v, want a permanent 400", err)
	}
	if f.Requests() != 1 {
		t.Fatalf("%d requests for a bad chat, want 1", f.Requests())
	}
	c.Token = "wrong"
	if _, err := c.SendMessage(context.Background(), "100500", "x"); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error %v: want a failure that does not print the token", err)
	}
}

func TestSendPhotoWithLongCaption(t *testing.T) {
	f, srv := telegramtest.Start(t)
	c := newClient(srv, &clock{now: time.Unix(1_700_000_000, 0)})
	png := []byte("\x89PNG\r\n\x1a\nnot really")
	caption := "<b>Нарушения по этапам</b>\n" + strings.Repeat("Этап «Целевой клиент»: 12 нарушений\n", 60)
	sent, err := c.SendPhoto(context.Background(), "100500", png, "stages.png", caption)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Photos("100500")) != 1 || string(f.Photos("100500")[0]) != string(png) {
		t.Fatal("the image did not arrive intact")
	}
	got := f.Got("100500")
	if len(got) < 2 || len(sent) != len(got) {
		t.Fatalf("%d messages; a %d-character caption needs the photo and a message", len(got), telegram.Visible(caption))
	}
	if telegram.Visible(got[0]) > telegram.CaptionLimit {
		t.Fatalf("caption of %d characters", telegram.Visible(got[0]))
	}
	if n := strings.Count(strings.Join(got, "\n"), "Этап «Целевой клиент»"); n != 60 {
		t.Fatalf("%d of 60 caption lines arrived", n)
	}
}

func TestSplit(t *testing.T) {
	cases := []struct {
		name  string // what the case shows
		in    string
		limit int
		want  []string
	}{
		{"short text is one part", "привет", 10, []string{"привет"}},
		{"cut between lines", "aaa\nbbb\nccc", 8, []string{"aaa\nbbb", "ccc"}},
		{"cut between words when a line is too long", "aaa bbb ccc", 8, []string{"aaa bbb", "ccc"}},
		{"a tag open at the cut is closed and reopened", "<b>aaa\nbbb</b>", 4, []string{"<b>aaa</b>", "<b>bbb</b>"}},
		{"an entity counts as one character", "&amp;&amp;&amp;\n&lt;", 3, []string{"&amp;&amp;&amp;", "&lt;"}},
		{"a word longer than the limit is cut anywhere", "abcdef", 4, []string{"abcd", "ef"}},
		{"an emoji counts two", "😀😀😀", 4, []string{"😀😀", "😀"}},
		{"nothing visible is no part", "<b> </b>", 10, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := telegram.Split(tc.in, tc.limit)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("telegram.Split(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
			}
		})
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("<b>Сделка «A &amp; B»</b>\nзадача просрочена", 10)
	f.Add("a <i>b <u>c</u> d</i> e\n\nf", 3)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		if limit < 2 || limit > 5000 {
			return
		}
		parts := telegram.Split(s, limit)
		for _, p := range parts {
			if telegram.Visible(p) > limit {
				t.Fatalf("part %q has %d visible characters, limit %d", p, telegram.Visible(p), limit)
			}
		}
		// Balanced input stays balanced in every part.
		if telegram.CheckHTML(s) == nil {
			for _, p := range parts {
				if err := telegram.CheckHTML(p); err != nil {
					t.Fatalf("telegram.Split(%q, %d) part %q: %v", s, limit, p, err)
				}
			}
		}
	})
}
