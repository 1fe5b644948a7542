package notify

import (
	"context"
	"errors"

	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/telegram"
)

// Telegram sends notices as Telegram messages.
type Telegram struct{ Client *telegram.Client }

// Send sends the message's images as photos, then its HTML, to the chat.
// A refusal that trying again cannot fix (chat not found, bot blocked,
// bad token) is permanent.
func (t Telegram) Send(ctx context.Context, chat string, m Message) error {
	err := t.send(ctx, chat, m)
	var apiErr *telegram.Error
	if errors.As(err, &apiErr) && !apiErr.Temporary() {
		return engine.Permanent(err)
	}
	return err
}

func (t Telegram) send(ctx context.Context, chat string, m Message) error {
	for _, img := range m.Images {
		if _, err := t.Client.SendPhoto(ctx, chat, img.PNG, img.Name, img.Caption); err != nil {
			return err
		}
	}
	_, err := t.Client.SendMessage(ctx, chat, m.HTML)
	return err
}
