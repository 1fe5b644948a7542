package auth

import (
	"context"
	"sync"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// DefaultTTL is how long a session lasts: a working week, so a manager
// signs in on Monday and not at every break.
const DefaultTTL = 7 * 24 * time.Hour

// Sessions signs the regulations file's users in and out of a workspace.
type Sessions struct {
	Store     funnelwatch.Store
	Workspace string
	Funnel    *funnelwatch.Funnel
	TTL       time.Duration // DefaultTTL when 0
	// Brake slows password guessing; nil: no brake.
	Brake *Brake
}

// ErrBadCredentials is the one answer to a wrong user or password: which
// of the two was wrong is not told.
var ErrBadCredentials = funnelwatch.Errorf(funnelwatch.EUNAUTHORIZED, "wrong user or password")

// ErrTooManyAttempts answers sign-ins while the brake holds.
var ErrTooManyAttempts = funnelwatch.Errorf(funnelwatch.EUNAUTHORIZED, "too many failed sign-ins; wait a minute")

// SignIn checks the password of the user and opens a session; it returns
// the token for the cookie. client names the browser's address for the
// brake.
func (m *Sessions) SignIn(ctx context.Context, userID, password, client string, now time.Time) (string, *funnelwatch.Session, error) {
	if m.Brake != nil && !m.Brake.Allow(userID, client, now) {
		return "", nil, ErrTooManyAttempts
	}
	u, known := m.Funnel.User(userID)
	var hash string
	err := m.Store.View(ctx, m.Workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		hash, err = tx.PasswordHash(ctx, userID)
		return err
	})
	if err != nil && funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
		return "", nil, err
	}
	// Check a password even for an unknown user, so the time taken does
	// not tell which users exist.
	if hash == "" {
		hash = dummyHash()
	}
	if !CheckPassword(hash, password) || !known || err != nil {
		if m.Brake != nil {
			m.Brake.Fail(userID, client, now)
		}
		return "", nil, ErrBadCredentials
	}
	if m.Brake != nil {
		m.Brake.Succeed(userID, client)
	}
	token := NewToken()
	ttl := m.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	s := &funnelwatch.Session{TokenHash: HashToken(token), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err = m.Store.Update(ctx, m.Workspace, func(tx funnelwatch.Tx) error {
		// Sweep the expired sessions now and then: at each sign-in.
		if _, err := tx.DeleteExpiredSessions(ctx, now); err != nil {
			return err
		}
		return tx.CreateSession(ctx, s)
	})
	if err != nil {
		return "", nil, err
	}
	return token, s, nil
}

// Authenticate returns the user of a session token. An unknown, expired
// or signed-out token, or a user no longer in the regulations file, is
// EUNAUTHORIZED.
func (m *Sessions) Authenticate(ctx context.Context, token string, now time.Time) (funnelwatch.User, error) {
	if token == "" {
		return funnelwatch.User{}, funnelwatch.Errorf(funnelwatch.EUNAUTHORIZED, "not signed in")
	}
	var s *funnelwatch.Session
	err := m.Store.View(ctx, m.Workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		s, err = tx.Session(ctx, HashToken(token))
		return err
	})
	switch {
	case funnelwatch.ErrorCode(err) == funnelwatch.ENOTFOUND:
		return funnelwatch.User{}, funnelwatch.Errorf(funnelwatch.EUNAUTHORIZED, "not signed in")
	case err != nil:
		return funnelwatch.User{}, err
	case s.Expired(now):
		return funnelwatch.User{}, funnelwatch.Errorf(funnelwatch.EUNAUTHORIZED, "the session has expired")
	}
	u, ok := m.Funnel.User(s.UserID)
	if !ok {
		return funnelwatch.User{}, funnelwatch.Errorf(funnelwatch.EUNAUTHORIZED, "user %q is no longer in the regulations", s.UserID)
	}
	return *u, nil
}

// SignOut ends the session of the token.
func (m *Sessions) SignOut(ctx context.Context, token string) error {
	return m.Store.Update(ctx, m.Workspace, func(tx funnelwatch.Tx) error {
		return tx.DeleteSession(ctx, HashToken(token))
	})
}

// SetPassword sets a user's password and ends their sessions. The user
// must be in the regulations file and the password MinPasswordLen long.
func (m *Sessions) SetPassword(ctx context.Context, userID, password string, now time.Time) error {
	if _, ok := m.Funnel.User(userID); !ok {
		return funnelwatch.Errorf(funnelwatch.ENOTFOUND, "user %q is not in the regulations file", userID)
	}
	if len([]rune(password)) < MinPasswordLen {
		return funnelwatch.Errorf(funnelwatch.EINVALID, "the password must be at least %d characters", MinPasswordLen)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return m.Store.Update(ctx, m.Workspace, func(tx funnelwatch.Tx) error {
		if err := tx.SetPasswordHash(ctx, userID, hash, now); err != nil {
			return err
		}
		_, err := tx.DeleteUserSessions(ctx, userID)
		return err
	})
}

// HasPassword reports whether the user has a password set.
func (m *Sessions) HasPassword(ctx context.Context, userID string) (bool, error) {
	err := m.Store.View(ctx, m.Workspace, func(tx funnelwatch.ReadTx) error {
		_, err := tx.PasswordHash(ctx, userID)
		return err
	})
	if funnelwatch.ErrorCode(err) == funnelwatch.ENOTFOUND {
		return false, nil
	}
	return err == nil, err
}

var (
	dummyOnce sync.Once
	dummy     string
)

func dummyHash() string {
	dummyOnce.Do(func() { dummy, _ = HashPassword("funnelwatch: no such user") })
	return dummy
}
