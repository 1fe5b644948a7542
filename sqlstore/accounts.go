package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// PasswordHash returns the user's stored password hash.
func (tx *Tx) PasswordHash(ctx context.Context, userID string) (string, error) {
	row, err := tx.queryRow(ctx, `SELECT password_hash FROM credentials WHERE workspace_id = ? AND user_id = ?`, tx.ws, userID)
	if err != nil {
		return "", fmt.Errorf("password of %s: %w", userID, err)
	}
	var hash string
	switch err := row.Scan(&hash); {
	case errors.Is(err, sql.ErrNoRows):
		return "", funnelwatch.Errorf(funnelwatch.ENOTFOUND, "user %q has no password", userID)
	case err != nil:
		return "", fmt.Errorf("password of %s: %w", userID, err)
	}
	return hash, nil
}

// SetPasswordHash sets or replaces the user's password hash.
func (tx *Tx) SetPasswordHash(ctx context.Context, userID, hash string, at time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO credentials (workspace_id, user_id, password_hash, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (workspace_id, user_id) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at`,
		tx.ws, userID, hash, micros(at))
	if err != nil {
		return fmt.Errorf("set password of %s: %w", userID, err)
	}
	return nil
}

// Session returns the session with the token hash.
func (tx *Tx) Session(ctx context.Context, tokenHash string) (*funnelwatch.Session, error) {
	row, err := tx.queryRow(ctx, `SELECT user_id, created_at, expires_at FROM sessions WHERE workspace_id = ? AND token_hash = ?`, tx.ws, tokenHash)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	s := &funnelwatch.Session{TokenHash: tokenHash}
	var created, expires int64
	switch err := row.Scan(&s.UserID, &created, &expires); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, funnelwatch.Errorf(funnelwatch.ENOTFOUND, "no such session")
	case err != nil:
		return nil, fmt.Errorf("session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	return s, nil
}

// CreateSession stores a new session. The conflict is found by the rows
// the insert affected, not by the driver's error text.
func (tx *Tx) CreateSession(ctx context.Context, s *funnelwatch.Session) error {
	res, err := tx.exec(ctx, `INSERT INTO sessions (workspace_id, token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (workspace_id, token_hash) DO NOTHING`, tx.ws, s.TokenHash, s.UserID, micros(s.CreatedAt), micros(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create session: %w", err)
	} else if n == 0 {
		return funnelwatch.Errorf(funnelwatch.ECONFLICT, "a session with this token already exists")
	}
	return nil
}

// DeleteSession ends one session.
func (tx *Tx) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := tx.exec(ctx, `DELETE FROM sessions WHERE workspace_id = ? AND token_hash = ?`, tx.ws, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of the user.
func (tx *Tx) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	res, err := tx.exec(ctx, `DELETE FROM sessions WHERE workspace_id = ? AND user_id = ?`, tx.ws, userID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of %s: %w", userID, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// DeleteExpiredSessions removes the sessions expired at now.
func (tx *Tx) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := tx.exec(ctx, `DELETE FROM sessions WHERE workspace_id = ? AND expires_at <= ?`, tx.ws, micros(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
