package notify

import (
	"context"
	"errors"

	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/telegram"
)

// Telegram sends notices as Telegram messages.
type Telegram struct{ Client *telegram.Client }

// Send sends the message's HTML to the chat. A refusal that trying again
// cannot fix (chat not found, bot blocked, bad token) is permanent.
func (t Telegram) Send(ctx context.Context, chat string, m Message) error {
	_, err := t.Client.SendMessage(ctx, chat, m.HTML)
	var apiErr *telegram.Error
	if errors.As(err, &apiErr) && !apiErr.Temporary() {
		return engine.Permanent(err)
	}
	return err
}
