// Package notify delivers the regulations' notify actions: it resolves
// recipients (users, chats, addresses) to targets on a channel (Telegram,
// e-mail), renders the notice in Russian, holds notices through the
// workspace's quiet hours, turns a flood to one person into a digest, and
// records each target's delivery (sent, held, failed) so a retry sends
// only what has not gone out.
package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/ru"
)

// Channel sends a notice to an address of its own kind (a chat id, an
// e-mail address). Its errors say whether trying again can help: a
// Permanent one (engine.Permanent) fails the target for good.
type Channel interface {
	Send(ctx context.Context, address string, n Message) error
}

// Message is a notice or a report as the channels send it.
type Message struct {
	Subject string // one line: the e-mail subject
	HTML    string // Telegram's HTML subset (b, i, a): the Telegram text, and the e-mail's HTML part unless EmailHTML is set
	Text    string // plain text: the e-mail's text part
	// EmailHTML, when set, is the e-mail's HTML part (a report's richer
	// layout, its images shown with <img src="cid:NAME">).
	EmailHTML string
	Images    []Image // charts: Telegram photos before the text, e-mail inline images
	// ID identifies this message to this target (the e-mail's Message-ID):
	// a repeat after a crash carries the same one, so a mail client shows
	// it once.
	ID string
}

// Image is a PNG picture of a message.
type Image struct {
	Name    string // file name and e-mail content id, e.g. "stages.png"
	Caption string // the photo's caption in Telegram (HTML subset)
	PNG     []byte
}

// Notifier is the outbox's deliverer of notify actions.
type Notifier struct {
	Store     funnelwatch.Store
	Workspace string
	// Regs gives the users (their chats and addresses), the timezone,
	// the quiet hours and the digest limits.
	Regs *regulations.Regulations
	// Channels by name: "telegram", "email". A target whose channel is
	// not configured waits (the action stays pending) until it is.
	Channels map[string]Channel
	// BaseURL, when set, links a notice to the deal's page.
	BaseURL string
	// Sync, when set, brings the state tables up to the log before a
	// notice reads its deal and task (they are written behind it).
	Sync func(context.Context) error
	// Report renders a report action (type "report": a scheduled quality
	// report); report actions fail without it.
	Report func(ctx context.Context, a *funnelwatch.ActionRecord) (Message, error)
	Now    func() time.Time
	Logger *slog.Logger
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// target is where one recipient's notice goes.
type target struct {
	key  string // "telegram:CHAT", "email:ADDRESS"
	user string // "" for a chat or address the file names
}

func (t target) channel() (name, address string) {
	name, address, _ = strings.Cut(t.key, ":")
	return name, address
}

// targets resolves the action's recipients; a user goes to their Telegram
// chat when they have one, else to their e-mail — or only by the channel
// the action names. Recipients with no way to reach them are returned
// apart, to be recorded as failed.
func (n *Notifier) targets(recipients []string, channel string) (ts []target, unreachable []string) {
	seen := map[string]bool{}
	add := func(t target) {
		if !seen[t.key] {
			seen[t.key] = true
			ts = append(ts, t)
		}
	}
	for _, r := range recipients {
		switch {
		case strings.HasPrefix(r, "chat:"):
			add(target{key: "telegram:" + strings.TrimPrefix(r, "chat:")})
		case strings.HasPrefix(r, "email:"):
			add(target{key: r})
		default:
			u, ok := n.Regs.User(r)
			switch {
			case ok && channel == "email" && u.Email != "":
				add(target{key: "email:" + u.Email, user: r})
			case ok && channel == "telegram" && u.Telegram != "":
				add(target{key: "telegram:" + u.Telegram, user: r})
			case channel != "":
				unreachable = append(unreachable, r)
			case ok && u.Telegram != "":
				add(target{key: "telegram:" + u.Telegram, user: r})
			case ok && u.Email != "":
				add(target{key: "email:" + u.Email, user: r})
			default:
				unreachable = append(unreachable, r)
			}
		}
	}
	return ts, unreachable
}

// Deliver sends the notify action to each of its targets that has not
// had it. It returns nil when every target is done (sent or failed for
// good), engine.Defer while notices are held (quiet hours, a digest), and
// an error to retry when a channel failed for now.
func (n *Notifier) Deliver(ctx context.Context, a *funnelwatch.ActionRecord) error {
	var view engine.ActionView
	if err := json.Unmarshal(a.Payload, &view); err != nil {
		return engine.Permanent(fmt.Errorf("notify action %s: %v", a.Key, err))
	}
	now := n.now().In(n.location())
	if quiet, until := n.Regs.Notifications.Quiet(now); quiet {
		return engine.Defer(until, "тихие часы до "+until.Format("15:04"))
	}
	ts, unreachable := n.targets(view.Recipients, view.Channel)
	var done map[string]*funnelwatch.Notice
	if err := n.Store.View(ctx, n.Workspace, func(tx funnelwatch.ReadTx) error {
		ns, err := tx.Notices(ctx, funnelwatch.NoticeFilter{ActionKey: a.Key})
		done = make(map[string]*funnelwatch.Notice, len(ns))
		for _, x := range ns {
			done[x.Target] = x
		}
		return err
	}); err != nil {
		return err
	}
	var record []*funnelwatch.Notice
	for _, u := range unreachable {
		key := "user:" + u
		if done[key] == nil {
			record = append(record, &funnelwatch.Notice{ActionKey: a.Key, Target: key, User: u, Status: funnelwatch.NoticeFailed,
				At: now, Error: unreachableWhy(view.Channel)})
		}
	}
	if err := n.save(ctx, record...); err != nil {
		return err
	}
	var msg *Message
	var retry error
	var release time.Time // the earliest held digest's time
	sent, failed := 0, len(unreachable)
	for _, t := range ts {
		prev := done[t.key]
		switch {
		case prev != nil && prev.Status == funnelwatch.NoticeSent:
			sent++
			continue
		case prev != nil && prev.Status == funnelwatch.NoticeFailed:
			failed++
			continue
		case prev != nil && prev.Status == funnelwatch.NoticeHeld:
			due := prev.At.Add(n.Regs.Notifications.DigestWithin)
			if now.Before(due) {
				release = earliest(release, due)
				continue
			}
			err := n.sendDigest(ctx, t, now)
			if err != nil {
				retry = errors.Join(retry, err)
			} else {
				sent++
			}
			continue
		}
		if msg == nil {
			m, err := n.message(ctx, a, &view)
			if err != nil {
				return err
			}
			msg = &m
		}
		if a.Type == ActionReport { // a report is never folded into a digest
		} else if held, due, err := n.holdForDigest(ctx, a.Key, t, msg, now); err != nil {
			return err
		} else if held {
			if now.Before(due) {
				release = earliest(release, due)
			} else if err := n.sendDigest(ctx, t, now); err != nil {
				retry = errors.Join(retry, err)
			} else {
				sent++
			}
			continue
		}
		m := *msg
		m.ID = messageID(a.Key, t.key)
		err := n.send(ctx, t, m)
		switch {
		case err == nil:
			sent++
			err = n.save(ctx, &funnelwatch.Notice{ActionKey: a.Key, Target: t.key, User: t.user, Status: funnelwatch.NoticeSent, At: now})
		case engine.IsPermanent(err):
			failed++
			err = n.save(ctx, &funnelwatch.Notice{ActionKey: a.Key, Target: t.key, User: t.user, Status: funnelwatch.NoticeFailed,
				At: now, Error: err.Error()})
		default:
			retry = errors.Join(retry, fmt.Errorf("%s: %w", t.key, err))
			err = nil
		}
		if err != nil {
			return err
		}
	}
	switch {
	case retry != nil:
		return retry
	case !release.IsZero():
		return engine.Defer(release, "ждёт сводки до "+release.Format("15:04"))
	case sent == 0 && failed > 0:
		return engine.Permanent(fmt.Errorf("no recipient of %s could be reached", a.Key))
	}
	return nil
}

// ActionReport is the outbox type of a scheduled report; Notifier
// delivers it as it delivers notify actions.
const ActionReport = "report"

// message renders what the action says.
func (n *Notifier) message(ctx context.Context, a *funnelwatch.ActionRecord, v *engine.ActionView) (Message, error) {
	if a.Type != ActionReport {
		return n.render(ctx, a, v)
	}
	if n.Report == nil {
		return Message{}, engine.Permanent(fmt.Errorf("report %s: reports are not set up", a.Key))
	}
	return n.Report(ctx, a)
}

// unreachableWhy says why a user could not be reached.
func unreachableWhy(channel string) string {
	switch channel {
	case "email":
		return "у пользователя нет e-mail в регламенте"
	case "telegram":
		return "у пользователя нет Telegram в регламенте"
	}
	return "у пользователя нет ни Telegram, ни e-mail в регламенте"
}

// messageID is a stable Message-ID for an action's notice to a target.
func messageID(key, target string) string {
	h := sha256.Sum256([]byte(key + "|" + target))
	return hex.EncodeToString(h[:12]) + "@funnelwatch"
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func (n *Notifier) location() *time.Location {
	if n.Regs.Location != nil {
		return n.Regs.Location
	}
	return time.UTC
}

func (n *Notifier) save(ctx context.Context, ns ...*funnelwatch.Notice) error {
	if len(ns) == 0 {
		return nil
	}
	return n.Store.Update(ctx, n.Workspace, func(tx funnelwatch.Tx) error { return tx.SaveNotices(ctx, ns...) })
}

// send passes a message to the target's channel.
func (n *Notifier) send(ctx context.Context, t target, m Message) error {
	name, address := t.channel()
	ch := n.Channels[name]
	if ch == nil {
		return fmt.Errorf("channel %s is not configured", name)
	}
	return ch.Send(ctx, address, m)
}

// holdForDigest holds the notice when its target has already had the
// digest's limit of notices within its window; it returns when the digest
// goes out.
func (n *Notifier) holdForDigest(ctx context.Context, key string, t target, m *Message, now time.Time) (bool, time.Time, error) {
	cfg := n.Regs.Notifications
	if cfg.DigestOver <= 0 {
		return false, time.Time{}, nil
	}
	var recent []*funnelwatch.Notice
	if err := n.Store.View(ctx, n.Workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		recent, err = tx.Notices(ctx, funnelwatch.NoticeFilter{Target: t.key, Since: now.Add(-cfg.DigestWithin)})
		return err
	}); err != nil {
		return false, time.Time{}, err
	}
	count := 0
	var held *funnelwatch.Notice
	for _, x := range recent {
		switch x.Status {
		case funnelwatch.NoticeSent:
			count++
		case funnelwatch.NoticeHeld:
			if held == nil {
				held = x
			}
		}
	}
	if held == nil && count < cfg.DigestOver {
		return false, time.Time{}, nil
	}
	// Held with the others, in one window for the whole digest: it goes
	// when the first held notice's window has passed.
	heldAt := now
	if held != nil {
		heldAt = held.At
	}
	err := n.save(ctx, &funnelwatch.Notice{ActionKey: key, Target: t.key, User: t.user, Status: funnelwatch.NoticeHeld,
		At: heldAt, Text: m.Subject})
	return true, heldAt.Add(cfg.DigestWithin), err
}

// sendDigest sends the target's held notices as one summary and marks
// them all sent (they may belong to other actions, which then find their
// notice sent).
func (n *Notifier) sendDigest(ctx context.Context, t target, now time.Time) error {
	var held []*funnelwatch.Notice
	if err := n.Store.View(ctx, n.Workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		held, err = tx.Notices(ctx, funnelwatch.NoticeFilter{Target: t.key, Status: funnelwatch.NoticeHeld})
		return err
	}); err != nil {
		return err
	}
	if len(held) == 0 {
		return nil
	}
	m := digest(held, n.Regs.Notifications.DigestWithin)
	if err := n.send(ctx, t, m); err != nil {
		if engine.IsPermanent(err) {
			for _, h := range held {
				h.Status, h.At, h.Error = funnelwatch.NoticeFailed, now, err.Error()
			}
			return n.save(ctx, held...)
		}
		return fmt.Errorf("digest to %s: %w", t.key, err)
	}
	for _, h := range held {
		h.Status, h.At = funnelwatch.NoticeSent, now
	}
	return n.save(ctx, held...)
}

// digest is one summary of held notices.
func digest(held []*funnelwatch.Notice, within time.Duration) Message {
	lines := make([]string, 0, len(held))
	for _, h := range held {
		lines = append(lines, h.Text)
	}
	slices.Sort(lines)
	title := fmt.Sprintf("Сводка: %d %s", len(held), ru.Plural(len(held), "уведомление", "уведомления", "уведомлений"))
	var html, text strings.Builder
	html.WriteString("<b>" + esc(title) + "</b>\n")
	fmt.Fprintf(&html, "<i>За %s их пришло бы слишком много — собрали в одно сообщение.</i>\n", esc(humanDuration(within)))
	text.WriteString(title + "\n")
	for _, l := range lines {
		html.WriteString("• " + esc(l) + "\n")
		text.WriteString("• " + l + "\n")
	}
	return Message{Subject: title, HTML: html.String(), Text: text.String()}
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		h := int(d / time.Hour)
		return fmt.Sprintf("%d %s", h, ru.Plural(h, "час", "часа", "часов"))
	default:
		m := int(d / time.Minute)
		return fmt.Sprintf("%d мин", m)
	}
}

// SendNow sends a message to recipients at once, outside the outbox (the
// `funnelwatch report --send` command): quiet hours and digests do not
// apply. It returns the targets that could not be reached, with why.
func (n *Notifier) SendNow(ctx context.Context, recipients []string, m Message) error {
	ts, unreachable := n.targets(recipients, "")
	var errs []error
	for _, u := range unreachable {
		errs = append(errs, fmt.Errorf("%s: no Telegram chat or e-mail in the regulations", u))
	}
	for _, t := range ts {
		if err := n.send(ctx, t, m); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.key, err))
		}
	}
	return errors.Join(errs...)
}
