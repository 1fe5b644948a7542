package funnelwatch

import "time"

// Notice is one message of a notify action to one target — a Telegram
// chat or an e-mail address — with its delivery state. A notify action
// with several recipients has a notice per target, so a retry sends only
// to the targets that have not had it.
type Notice struct {
	ActionKey string
	Target    string // "telegram:CHAT" or "email:ADDRESS"
	User      string // the user it is for; "" for a chat or address the file names
	Status    NoticeStatus
	// Text is the notice's line for a digest (held notices are sent as
	// one summary).
	Text  string
	At    time.Time // when it was sent, held or failed
	Error string    // why it failed
}

// ID is the notice's identity: its action and target.
func (n *Notice) ID() string { return n.ActionKey + "|" + n.Target }

// NoticeStatus is where a notice is.
type NoticeStatus string

// Notice states.
const (
	NoticeSent   NoticeStatus = "sent"
	NoticeHeld   NoticeStatus = "held"   // waits for its target's digest
	NoticeFailed NoticeStatus = "failed" // refused for good (unknown chat, bad address)
)

// NoticeFilter selects notices. Zero fields do not filter.
type NoticeFilter struct {
	ActionKey  string
	ActionKeys []string // any of these actions
	Target     string
	Status     NoticeStatus
	Since      time.Time // At at or after
}
