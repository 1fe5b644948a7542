// Package telegramtest is a fake Telegram Bot API for tests: it answers
// sendMessage and sendPhoto the way the API documents (ok/result, or
// ok=false with error_code, description and parameters.retry_after),
// parses HTML the way the API does, and can be told to flood-control,
// drop connections or fail.
package telegramtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/funnelwatch/funnelwatch/telegram"
)

// Fake replays the Bot API's documented answers: {"ok":true,"result":
// Message} for a good request, {"ok":false,"error_code":…,"description":…,
// "parameters":{"retry_after":…}} otherwise. It keeps what each chat got.
type Fake struct {
	Token string

	mu       sync.Mutex
	got      map[string][]string // chat → texts (captions for photos)
	photos   map[string][][]byte
	requests int
	flood    int            // answer this many requests with 429 retry_after 3
	drop     int            // close this many connections before reading the request
	fail     map[string]int // chat → answer this many of its requests with 500
	nextID   int64
}

// Start serves a fake Bot API for the bot token "123:ABC" until the test ends.
func Start(t testing.TB) (*Fake, *httptest.Server) {
	f := &Fake{Token: "123:ABC", got: map[string][]string{}, photos: map[string][][]byte{}, fail: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// Got returns the texts (and photo captions) a chat received, in order.
func (f *Fake) Got(chat string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got[chat]...)
}

// Photos returns the images a chat received.
func (f *Fake) Photos(chat string) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.photos[chat]...)
}

// Requests counts the requests served.
func (f *Fake) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// Flood answers the next n requests with 429 and retry_after 3.
func (f *Fake) Flood(n int) { f.mu.Lock(); f.flood = n; f.mu.Unlock() }

// Drop closes the next n connections before reading their request: the
// network failed and nothing arrived.
func (f *Fake) Drop(n int) { f.mu.Lock(); f.drop = n; f.mu.Unlock() }

// Fail answers the chat's next n requests with 500 Internal Server Error.
func (f *Fake) Fail(chat string, n int) { f.mu.Lock(); f.fail[chat] = n; f.mu.Unlock() }

func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if f.drop > 0 {
		f.drop--
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // the network failed: nothing was sent
		}
		return
	}
	answer := func(code int, desc string, retry int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		body := map[string]any{"ok": false, "error_code": code, "description": desc}
		if retry > 0 {
			body["parameters"] = map[string]int{"retry_after": retry}
		}
		_ = json.NewEncoder(w).Encode(body)
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/bot"+f.Token+"/")
	if !ok {
		answer(http.StatusUnauthorized, "Unauthorized", 0)
		return
	}
	if f.flood > 0 {
		f.flood--
		answer(http.StatusTooManyRequests, "Too Many Requests: retry after 3", 3)
		return
	}
	var chat, text string
	switch method {
	case "sendMessage":
		var req struct {
			ChatID    string `json:"chat_id"`
			Text      string `json:"text"`
			ParseMode string `json:"parse_mode"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ParseMode != "HTML" {
			answer(http.StatusBadRequest, "Bad Request: message text is empty", 0)
			return
		}
		chat, text = req.ChatID, req.Text
	case "sendPhoto":
		if err := r.ParseMultipartForm(10 << 20); err != nil {
			answer(http.StatusBadRequest, "Bad Request: there is no photo in the request", 0)
			return
		}
		chat, text = r.FormValue("chat_id"), r.FormValue("caption")
		file, _, err := r.FormFile("photo")
		if err != nil {
			answer(http.StatusBadRequest, "Bad Request: there is no photo in the request", 0)
			return
		}
		png, _ := io.ReadAll(file)
		f.photos[chat] = append(f.photos[chat], png)
	default:
		answer(http.StatusNotFound, "Not Found", 0)
		return
	}
	if f.fail[chat] > 0 {
		f.fail[chat]--
		answer(http.StatusInternalServerError, "Internal Server Error", 0)
		return
	}
	if chat == "404" {
		answer(http.StatusBadRequest, "Bad Request: chat not found", 0)
		return
	}
	if err := CheckHTML(text); err != nil {
		answer(http.StatusBadRequest, "Bad Request: can't parse entities: "+err.Error(), 0)
		return
	}
	if n := telegram.Visible(text); n > telegram.MessageLimit || (method == "sendPhoto" && n > telegram.CaptionLimit) {
		answer(http.StatusBadRequest, "Bad Request: message is too long", 0)
		return
	}
	f.got[chat] = append(f.got[chat], text)
	f.nextID++
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"ok":true,"result":{"message_id":%d,"chat":{"id":%s},"date":1700000000}}`, f.nextID, chat)
}

// CheckHTML parses the way Telegram's HTML mode does: tags balanced, a raw
// "<", ">" or "&" outside an entity is an error.
func CheckHTML(s string) error { return telegram.CheckHTML(s) }
