package notify

import (
	"context"
	"errors"
	"strings"

	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/mail"
)

// Email sends notices as e-mails: the subject line, the HTML (Telegram's
// subset is valid HTML; its line breaks become <br>) and the plain text.
type Email struct{ Sender *mail.Sender }

// Send mails the notice to the address. A refusal the server calls
// permanent fails the target for good.
func (e Email) Send(ctx context.Context, address string, m Message) error {
	body := m.EmailHTML
	if body == "" {
		body = `<div style="font-family:sans-serif">` + strings.ReplaceAll(strings.TrimSpace(m.HTML), "\n", "<br>\n") + `</div>`
	}
	images := make([]mail.Image, 0, len(m.Images))
	for _, img := range m.Images {
		images = append(images, mail.Image{Name: img.Name, PNG: img.PNG})
	}
	err := e.Sender.Send(ctx, mail.Message{To: []string{address}, Subject: m.Subject, HTML: body, Text: m.Text, Images: images, ID: m.ID})
	var perm *mail.PermanentError
	if errors.As(err, &perm) {
		return engine.Permanent(err)
	}
	return err
}
