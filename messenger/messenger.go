// Package messenger delivers the regulations' message actions — a
// template sent to the deal's client (the «Курьеры» pipeline of seed 000:
// directions to the warehouse, a video, a phone number) — through a
// messenger gateway over HTTP (WhatsApp, Telegram or SMS behind it).
package messenger

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/webhook"
)

// Gateway posts messages to a messenger gateway.
type Gateway struct {
	// URL receives the messages (FUNNELWATCH_MESSENGER_URL).
	URL string
	// Token, when set, is sent as a bearer token (FUNNELWATCH_MESSENGER_TOKEN).
	Token string
	// Client signs and posts (its Secret signs the body as webhooks are).
	Client    *webhook.Client
	Store     funnelwatch.Store
	Workspace string
	// Sync, when set, brings the state tables up to the log before the
	// deal's contact is read (they are written behind it).
	Sync func(context.Context) error
}

// Request is what the gateway receives.
type Request struct {
	Key     string `json:"key"` // the idempotency key, also in the Idempotency-Key header
	Channel string `json:"channel,omitempty"`
	To      string `json:"to"` // the client's phone, E.164
	Name    string `json:"name,omitempty"`
	Text    string `json:"text"`
	DealID  string `json:"deal_id"`
}

// Deliver sends the action's template to the phone of the deal's contact.
// A deal without a contact phone fails the action for good (there is
// nobody to write to); the gateway's answers are classified as webhooks'.
func (g *Gateway) Deliver(ctx context.Context, a *funnelwatch.ActionRecord) error {
	var view engine.ActionView
	if err := json.Unmarshal(a.Payload, &view); err != nil || strings.TrimSpace(view.Template) == "" {
		return engine.Permanent(fmt.Errorf("message action %s has no template", a.Key))
	}
	if g.Sync != nil {
		if err := g.Sync(ctx); err != nil {
			return err
		}
	}
	var phone, name string
	err := g.Store.View(ctx, g.Workspace, func(tx funnelwatch.ReadTx) error {
		d, err := tx.Deal(ctx, a.DealID)
		if err != nil {
			return err
		}
		if d.ContactID == "" {
			return nil
		}
		c, err := tx.Contact(ctx, d.ContactID)
		if err != nil {
			return err
		}
		if len(c.Phones) > 0 {
			phone = c.Phones[0]
		}
		name = c.Name
		return nil
	})
	if funnelwatch.ErrorCode(err) == funnelwatch.ENOTFOUND {
		return engine.Permanent(fmt.Errorf("message %s: %v", a.Key, err))
	}
	if err != nil {
		return err
	}
	if phone == "" {
		return engine.Permanent(fmt.Errorf("message %s: deal %s has no client phone", a.Key, a.DealID))
	}
	body, err := json.Marshal(Request{Key: a.Key, Channel: view.Channel, To: phone, Name: name, Text: view.Template, DealID: a.DealID})
	if err != nil {
		return engine.Permanent(err)
	}
	var headers []string
	if g.Token != "" {
		headers = []string{"Authorization", "Bearer " + g.Token}
	}
	return g.Client.Post(ctx, g.URL, a.Key, body, headers...)
}
