// Package webhook delivers the webhook actions of the regulations: a JSON
// POST signed with HMAC-SHA256, retried by the outbox dispatcher.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
)

// Headers a receiver reads.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTimestamp      = "X-Funnelwatch-Timestamp"
	// HeaderSignature is "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
	HeaderSignature = "X-Funnelwatch-Signature"
)

// Client posts webhook actions.
type Client struct {
	HTTP *http.Client // http.DefaultClient with a 10 s timeout when nil
	// Secret signs the body; no signature header when empty. It comes
	// from the environment (FUNNELWATCH_WEBHOOK_SECRET), never the file.
	Secret []byte
	Now    func() time.Time
}

// Body is what the receiver gets.
type Body struct {
	Key    string            `json:"key"`
	Rule   string            `json:"rule"`
	Type   string            `json:"type"`
	DealID string            `json:"deal_id,omitempty"`
	At     time.Time         `json:"at"`
	Action engine.ActionView `json:"action"`
}

// Deliver posts the action to its URL. A 2xx answer delivers it; a 4xx
// other than 408 and 429 fails it for good; anything else is retried.
func (c *Client) Deliver(ctx context.Context, a *funnelwatch.ActionRecord) error {
	var view engine.ActionView
	if err := json.Unmarshal(a.Payload, &view); err != nil || view.URL == "" {
		return engine.Permanent(fmt.Errorf("webhook action %s has no URL", a.Key))
	}
	body, err := json.Marshal(Body{Key: a.Key, Rule: a.Rule, Type: a.Type, DealID: a.DealID, At: a.At, Action: view})
	if err != nil {
		return engine.Permanent(err)
	}
	return c.Post(ctx, view.URL, a.Key, body)
}

// Post sends a signed JSON body to url with the idempotency key: the
// webhook's request, also used for the messenger gateway. A 2xx answer
// delivers it; a 4xx other than 408 and 429 fails it for good; anything
// else is retried. Extra headers (a gateway's Authorization) are added.
func (c *Client) Post(ctx context.Context, url, key string, body []byte, headers ...string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return engine.Permanent(fmt.Errorf("POST %s: %w", url, err))
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "funnelwatch")
	req.Header.Set(HeaderIdempotencyKey, key)
	req.Header.Set(HeaderTimestamp, ts)
	if len(c.Secret) > 0 {
		req.Header.Set(HeaderSignature, Sign(c.Secret, ts, body))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		return engine.Permanent(fmt.Errorf("POST %s: %s", url, resp.Status))
	}
	return fmt.Errorf("POST %s: %s", url, resp.Status)
}

// Sign returns the signature header's value for a body sent at ts.
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header against the body and timestamp, in
// constant time: what a receiver does.
func Verify(secret []byte, ts string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature))
}
