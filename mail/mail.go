// Package mail sends funnelwatch's e-mails (notices, reports) over SMTP:
// STARTTLS (or implicit TLS) and authentication through
// github.com/wneessen/go-mail, an HTML part with a plain-text alternative,
// and images embedded inline (cid:) for the reports' charts.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Config is where and how to send. It comes from the environment
// (FUNNELWATCH_SMTP_URL), never from a file in the repository.
type Config struct {
	Host     string
	Port     int    // 587 when 0 (STARTTLS), 465 with ImplicitTLS
	Username string // no authentication when empty
	Password string
	From     string // "Name <address>" or an address
	// TLS: "starttls" (default: required), "tls" (implicit, port 465),
	// "none" (a local relay only).
	TLS string
	// TLSConfig overrides the TLS settings (tests pass their own CA).
	TLSConfig *tls.Config
	Timeout   time.Duration // 30 s when 0
}

// ParseURL reads smtp://user:password@host:port?from=ADDRESS&tls=starttls|tls|none.
func ParseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return Config{}, fmt.Errorf("bad SMTP URL (want smtp://user:password@host:587?from=address)")
	}
	c := Config{Host: u.Hostname(), From: u.Query().Get("from"), TLS: u.Query().Get("tls")}
	if u.Scheme == "smtps" && c.TLS == "" {
		c.TLS = "tls"
	}
	switch c.TLS {
	case "", "starttls", "tls", "none":
	default:
		return Config{}, fmt.Errorf("bad tls=%q in the SMTP URL (starttls, tls or none)", c.TLS)
	}
	if p := u.Port(); p != "" {
		if c.Port, err = strconv.Atoi(p); err != nil {
			return Config{}, fmt.Errorf("bad port in the SMTP URL")
		}
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	if c.From == "" {
		return Config{}, errors.New("the SMTP URL needs ?from=address")
	}
	return c, nil
}

// Image is a picture shown inside the HTML part (<img src="cid:NAME">).
type Image struct {
	Name string // the file name and content id, e.g. "stages.png"
	PNG  []byte
}

// Message is one e-mail.
type Message struct {
	To      []string
	Subject string
	HTML    string
	Text    string
	Images  []Image
	// ID, when set, is the Message-ID (a retry of the same notice carries
	// the same one, so a mail client can tell a repeat).
	ID string
}

// Sender sends e-mails with one configuration.
type Sender struct {
	Config Config
}

// Send delivers the message. A refusal the server calls permanent (5xx,
// an invalid address) is returned as *PermanentError.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.Config.From); err != nil {
		return &PermanentError{fmt.Errorf("from address: %w", err)}
	}
	if err := msg.To(m.To...); err != nil {
		return &PermanentError{fmt.Errorf("to address: %w", err)}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	if m.ID != "" {
		msg.SetMessageIDWithValue(strings.Trim(m.ID, "<>"))
	} else {
		msg.SetMessageID()
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	for _, img := range m.Images {
		if err := msg.EmbedReader(img.Name, bytes.NewReader(img.PNG), gomail.WithFileContentID(img.Name),
			gomail.WithFileContentType(gomail.ContentType("image/png"))); err != nil {
			return fmt.Errorf("embed %s: %w", img.Name, err)
		}
	}
	c, err := s.client()
	if err != nil {
		return &PermanentError{err}
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
			return &PermanentError{err}
		}
		return err
	}
	return nil
}

func (s *Sender) client() (*gomail.Client, error) {
	cfg := s.Config
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithTimeout(timeout)}
	port := cfg.Port
	switch strings.ToLower(cfg.TLS) {
	case "tls":
		opts = append(opts, gomail.WithSSL())
		if port == 0 {
			port = 465
		}
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if port == 0 {
		port = 587
	}
	opts = append(opts, gomail.WithPort(port))
	if cfg.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(cfg.TLSConfig))
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	return gomail.NewClient(cfg.Host, opts...)
}

// PermanentError is a refusal that sending again cannot fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "e-mail refused: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }
