package mail_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"testing"

	"github.com/funnelwatch/funnelwatch/mail"
	"github.com/funnelwatch/funnelwatch/mail/smtptest"
)

func sender(srv *smtptest.Server, password string) *mail.Sender {
	return &mail.Sender{Config: mail.Config{Host: srv.Host, Port: srv.Port, Username: smtptest.Username, Password: password,
		From: "funnelwatch <fw@example.com>", TLSConfig: &tls.Config{RootCAs: srv.RootCAs, ServerName: "127.0.0.1"}}}
}

// Part is a leaf of a received MIME message.
type part struct {
	ctype, cid string
	body       []byte
}

// leaves walks a received message's MIME tree.
func leaves(t *testing.T, ctype string, body io.Reader, header func(string) string) []part {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(body)
		if header("Content-Transfer-Encoding") == "base64" {
			b = decode64(t, b)
		} else if header("Content-Transfer-Encoding") == "quoted-printable" {
			b, _ = io.ReadAll(newQP(bytes.NewReader(b)))
		}
		return []part{{ctype: mt, cid: header("Content-Id"), body: b}}
	}
	var out []part
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, leaves(t, p.Header.Get("Content-Type"), p, p.Header.Get)...)
	}
}

func TestSendOverSTARTTLSWithImage(t *testing.T) {
	srv := smtptest.Start(t)
	png := []byte("\x89PNG\r\n\x1a\n" + strings.Repeat("chart", 200))
	err := sender(srv, smtptest.Password).Send(context.Background(), mail.Message{
		To: []string{"rop@example.com"}, Subject: "Отчёт о качестве за неделю: 12 нарушений",
		HTML:   `<h1>Нарушения</h1><p>«Рога &amp; Копыта»</p><img src="cid:stages.png">`,
		Text:   "Нарушения\n«Рога & Копыта»",
		Images: []mail.Image{{Name: "stages.png", PNG: png}}, ID: "<report-2026-W47@funnelwatch>",
	})
	if err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails received", len(mails))
	}
	m := mails[0]
	if !m.TLS || !m.Auth || m.From != "fw@example.com" || len(m.To) != 1 || m.To[0] != "rop@example.com" {
		t.Fatalf("session: tls=%v auth=%v from=%q to=%q", m.TLS, m.Auth, m.From, m.To)
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != "Отчёт о качестве за неделю: 12 нарушений" {
		t.Fatalf("subject %q (%v)", subject, err)
	}
	if id := msg.Header.Get("Message-Id"); id != "<report-2026-W47@funnelwatch>" {
		t.Errorf("Message-ID %q", id)
	}
	var text, html, img bool
	for _, p := range leaves(t, msg.Header.Get("Content-Type"), msg.Body, msg.Header.Get) {
		switch p.ctype {
		case "text/plain":
			text = strings.Contains(string(p.body), "«Рога & Копыта»")
		case "text/html":
			html = strings.Contains(string(p.body), `<img src="cid:stages.png">`)
		case "image/png":
			img = bytes.Equal(p.body, png) && strings.Contains(p.cid, "stages.png")
		}
	}
	if !text || !html || !img {
		t.Fatalf("parts: text %v, html %v, inline image %v", text, html, img)
	}
}

func TestSendErrors(t *testing.T) {
	srv := smtptest.Start(t)
	var perm *mail.PermanentError
	// A wrong password is not a message the server will take later.
	if err := sender(srv, "wrong").Send(context.Background(), mail.Message{To: []string{"a@example.com"}, Subject: "x", Text: "x"}); err == nil {
		t.Fatal("sent with a wrong password")
	}
	// A 451 is temporary: the outbox tries again.
	srv.FailNext(1)
	err := sender(srv, smtptest.Password).Send(context.Background(), mail.Message{To: []string{"a@example.com"}, Subject: "x", Text: "x"})
	if err == nil || errors.As(err, &perm) {
		t.Fatalf("a 451 gave %v; want a temporary error", err)
	}
	if err := sender(srv, smtptest.Password).Send(context.Background(), mail.Message{To: []string{"not an address"}, Subject: "x", Text: "x"}); !errors.As(err, &perm) {
		t.Fatalf("a bad address gave %v; want a permanent error", err)
	}
	if len(srv.Mails()) != 0 {
		t.Fatalf("%d mails got through", len(srv.Mails()))
	}
}

func TestParseURL(t *testing.T) {
	c, err := mail.ParseURL("smtp://rop%40example.com:p%40ss@smtp.example.com:2525?from=fw@example.com")
	if err != nil || c.Host != "smtp.example.com" || c.Port != 2525 || c.Username != "rop@example.com" || c.Password != "p@ss" || c.From != "fw@example.com" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{"http://x", "smtp://host", "smtp://host?from=a@b&tls=maybe", "smtp://host:port?from=a@b"} {
		if _, err := mail.ParseURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
