// Package telegram is a client of the two Telegram Bot API methods
// funnelwatch needs — sendMessage (HTML parse mode, split past 4,096
// characters) and sendPhoto (chart images) — that keeps to the API's rate
// limits: one message a second per chat, and a 429's retry_after.
//
// A hand-written client rather than a bot framework: two methods, no
// updates to poll, and the retry and rate policy is ours to test.
package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultBaseURL is the Bot API's address.
const DefaultBaseURL = "https://api.telegram.org"

// Client sends messages as one bot.
type Client struct {
	// Token is the bot's token; it comes from the environment
	// (FUNNELWATCH_TELEGRAM_TOKEN), never from a file in the repository.
	Token string
	// BaseURL is DefaultBaseURL when empty (a local fake in tests).
	BaseURL string
	HTTP    *http.Client // a client with a 30 s timeout when nil
	// PerChat is the least time between two messages to one chat
	// (default 1 s: Telegram's advice; groups allow 20 a minute).
	PerChat time.Duration
	// MaxWait is the longest retry_after waited for inside a call
	// (default 1 min); a longer one is returned as *Error for the caller
	// to schedule.
	MaxWait time.Duration
	// Attempts is how many times a request is tried when the network
	// fails or Telegram answers 429 or 5xx (default 4).
	Attempts int
	// Sleep waits (tests pass a fake clock); time-based when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is time.Now when nil.
	Now func() time.Time

	mu   sync.Mutex
	next map[string]time.Time // per chat: the earliest time of its next message
}

// Error is an answer of the Bot API with ok=false.
type Error struct {
	Method      string
	Code        int    // error_code (the HTTP status)
	Description string // Telegram's own words, e.g. "Bad Request: chat not found"
	RetryAfter  time.Duration
}

func (e *Error) Error() string {
	s := fmt.Sprintf("telegram %s: %d %s", e.Method, e.Code, e.Description)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Temporary reports whether trying again later can succeed: flood
// control (429) and server errors; a bad request, a blocked bot or a
// wrong token cannot.
func (e *Error) Temporary() bool { return e.Code == http.StatusTooManyRequests || e.Code >= 500 }

// Message is a sent message as the API returns it.
type Message struct {
	MessageID int64 `json:"message_id"`
}

// SendMessage sends an HTML-mode text to a chat, split into as many
// messages as the 4,096-character limit needs; it returns the messages
// sent. When a part fails, the parts before it have been sent: the error
// says how many.
func (c *Client) SendMessage(ctx context.Context, chatID, html string) ([]Message, error) {
	parts := Split(html, MessageLimit)
	if len(parts) == 0 {
		return nil, errors.New("telegram sendMessage: empty message")
	}
	var sent []Message
	for i, p := range parts {
		m, err := c.sendText(ctx, chatID, p)
		if err != nil {
			if i > 0 {
				err = fmt.Errorf("part %d of %d: %w", i+1, len(parts), err)
			}
			return sent, err
		}
		sent = append(sent, m)
	}
	return sent, nil
}

func (c *Client) sendText(ctx context.Context, chatID, text string) (Message, error) {
	body, _ := json.Marshal(map[string]any{
		"chat_id": chatID, "text": text, "parse_mode": "HTML",
		"link_preview_options": map[string]bool{"is_disabled": true},
	})
	return c.call(ctx, "sendMessage", chatID, func() (io.Reader, string) {
		return bytes.NewReader(body), "application/json"
	})
}

// SendPhoto sends a PNG image with an HTML-mode caption. A caption past
// the 1,024-character limit is cut between lines and its rest follows as
// messages.
func (c *Client) SendPhoto(ctx context.Context, chatID string, png []byte, filename, caption string) ([]Message, error) {
	var rest string
	if visible(caption) > CaptionLimit {
		parts := Split(caption, CaptionLimit)
		caption = parts[0]
		rest = strings.Join(parts[1:], "\n")
	}
	m, err := c.call(ctx, "sendPhoto", chatID, func() (io.Reader, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		_ = w.WriteField("chat_id", chatID)
		if caption != "" {
			_ = w.WriteField("caption", caption)
			_ = w.WriteField("parse_mode", "HTML")
		}
		fw, _ := w.CreateFormFile("photo", filename)
		_, _ = fw.Write(png)
		_ = w.Close()
		return &b, w.FormDataContentType()
	})
	if err != nil {
		return nil, err
	}
	sent := []Message{m}
	if rest != "" {
		more, err := c.SendMessage(ctx, chatID, rest)
		sent = append(sent, more...)
		if err != nil {
			return sent, fmt.Errorf("caption's rest: %w", err)
		}
	}
	return sent, nil
}

// call posts one request, keeping the per-chat pace, and tries again
// after a network failure, a 5xx or a 429 (waiting its retry_after).
func (c *Client) call(ctx context.Context, method, chatID string, body func() (io.Reader, string)) (Message, error) {
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	var last error
	for attempt := 1; attempt <= attempts; attempt++ {
		if err := c.pace(ctx, chatID); err != nil {
			return Message{}, err
		}
		m, err := c.post(ctx, method, body)
		if err == nil {
			return m, nil
		}
		last = err
		wait := time.Duration(attempt) * time.Second // network failure, 5xx
		var apiErr *Error
		if errors.As(err, &apiErr) {
			if !apiErr.Temporary() {
				return Message{}, err
			}
			if apiErr.RetryAfter > 0 {
				wait = apiErr.RetryAfter
			}
		}
		if wait > c.maxWait() || attempt == attempts {
			break
		}
		c.hold(chatID, wait)
	}
	return Message{}, last
}

func (c *Client) maxWait() time.Duration {
	if c.MaxWait > 0 {
		return c.MaxWait
	}
	return time.Minute
}

// pace waits until the chat may get its next message and books the slot.
func (c *Client) pace(ctx context.Context, chatID string) error {
	per := c.PerChat
	if per == 0 {
		per = time.Second
	}
	c.mu.Lock()
	if c.next == nil {
		c.next = map[string]time.Time{}
	}
	now := c.now()
	at := c.next[chatID]
	if at.Before(now) {
		at = now
	}
	c.next[chatID] = at.Add(per)
	c.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return c.sleep(ctx, d)
	}
	return nil
}

// hold keeps the chat quiet for d (after a 429 or a failure).
func (c *Client) hold(chatID string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.now().Add(d); t.After(c.next[chatID]) {
		c.next[chatID] = t
	}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type apiResponse struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

func (c *Client) post(ctx context.Context, method string, body func() (io.Reader, string)) (Message, error) {
	if c.Token == "" {
		return Message{}, &Error{Method: method, Code: http.StatusUnauthorized, Description: "no bot token (FUNNELWATCH_TELEGRAM_TOKEN)"}
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	r, ctype := body()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/bot"+c.Token+"/"+method, r)
	if err != nil {
		return Message{}, err
	}
	req.Header.Set("Content-Type", ctype)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The URL holds the token: say which method failed, not where.
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return Message{}, fmt.Errorf("telegram %s: %w", method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Message{}, fmt.Errorf("telegram %s: reading the answer: %w", method, err)
	}
	var ar apiResponse
	if err := json.Unmarshal(raw, &ar); err != nil {
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return Message{}, &Error{Method: method, Code: resp.StatusCode, Description: http.StatusText(resp.StatusCode)}
		}
		return Message{}, fmt.Errorf("telegram %s: HTTP %d, not a Bot API answer", method, resp.StatusCode)
	}
	if !ar.OK {
		code := ar.ErrorCode
		if code == 0 {
			code = resp.StatusCode
		}
		return Message{}, &Error{Method: method, Code: code, Description: ar.Description,
			RetryAfter: time.Duration(ar.Parameters.RetryAfter) * time.Second}
	}
	var m Message
	if err := json.Unmarshal(ar.Result, &m); err != nil {
		return Message{}, fmt.Errorf("telegram %s: result: %w", method, err)
	}
	return m, nil
}
