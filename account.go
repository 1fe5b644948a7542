package funnelwatch

import "time"

// Session is a signed-in browser. The store keeps a hash of the token the
// cookie carries, never the token itself, so a copy of the database does
// not sign anyone in.
type Session struct {
	TokenHash string // hex SHA-256 of the cookie's token
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Expired reports whether the session has ended at now.
func (s *Session) Expired(now time.Time) bool { return !now.Before(s.ExpiresAt) }

// APIToken is a token for the API an admin issued (DESIGN §4.2: the API
// takes `Authorization: Bearer <token>`). The store keeps its hash, never
// the token: the token is shown once, when issued.
type APIToken struct {
	ID        string // short and random, names the token in lists and forms
	Name      string // what it is for: «amoCRM», «1С», «скрипт отчётов»
	Hash      string // hex SHA-256 of the token
	Prefix    string // the token's first characters, to recognise it by
	CreatedBy string // the admin's user id
	CreatedAt time.Time
	RevokedAt *time.Time // nil while the token works
}

// Credential is what the store holds of a user's sign-in: when the
// password was last set (zero: never) and how many sessions are open.
type Credential struct {
	UserID        string
	PasswordSetAt time.Time
	Sessions      int
}
