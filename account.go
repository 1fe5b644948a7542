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
