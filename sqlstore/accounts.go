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

// Credentials lists the users with a password or a session open at now.
func (tx *Tx) Credentials(ctx context.Context, now time.Time) ([]funnelwatch.Credential, error) {
	rows, err := tx.query(ctx, `SELECT user_id, MAX(set_at), SUM(open) FROM (
		SELECT user_id, updated_at AS set_at, 0 AS open FROM credentials WHERE workspace_id = ?
		UNION ALL
		SELECT user_id, 0 AS set_at, 1 AS open FROM sessions WHERE workspace_id = ? AND expires_at > ?
	) AS c GROUP BY user_id ORDER BY user_id`, tx.ws, tx.ws, micros(now))
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	defer rows.Close()
	var out []funnelwatch.Credential
	for rows.Next() {
		var c funnelwatch.Credential
		var set int64
		if err := rows.Scan(&c.UserID, &set, &c.Sessions); err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
		c.PasswordSetAt = fromMicrosOrZero(set)
		out = append(out, c)
	}
	return out, rows.Err()
}

const apiTokenColumns = `id, name, token_hash, prefix, created_by, created_at, revoked_at`

func scanAPIToken(sc interface{ Scan(...any) error }) (*funnelwatch.APIToken, error) {
	t := &funnelwatch.APIToken{}
	var created int64
	var revoked sql.NullInt64
	if err := sc.Scan(&t.ID, &t.Name, &t.Hash, &t.Prefix, &t.CreatedBy, &created, &revoked); err != nil {
		return nil, err
	}
	t.CreatedAt = fromMicros(created)
	if revoked.Valid {
		r := fromMicros(revoked.Int64)
		t.RevokedAt = &r
	}
	return t, nil
}

// APITokens lists the issued tokens, oldest first.
func (tx *Tx) APITokens(ctx context.Context) ([]*funnelwatch.APIToken, error) {
	rows, err := tx.query(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE workspace_id = ? ORDER BY created_at, id`, tx.ws)
	if err != nil {
		return nil, fmt.Errorf("api tokens: %w", err)
	}
	defer rows.Close()
	var out []*funnelwatch.APIToken
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, fmt.Errorf("api tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// APITokenByHash returns the token with the hash.
func (tx *Tx) APITokenByHash(ctx context.Context, hash string) (*funnelwatch.APIToken, error) {
	row, err := tx.queryRow(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE workspace_id = ? AND token_hash = ?`, tx.ws, hash)
	if err != nil {
		return nil, fmt.Errorf("api token: %w", err)
	}
	t, err := scanAPIToken(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, funnelwatch.Errorf(funnelwatch.ENOTFOUND, "no such API token")
	case err != nil:
		return nil, fmt.Errorf("api token: %w", err)
	}
	return t, nil
}

// CreateAPIToken stores an issued token.
func (tx *Tx) CreateAPIToken(ctx context.Context, t *funnelwatch.APIToken) error {
	res, err := tx.exec(ctx, `INSERT INTO api_tokens (workspace_id, `+apiTokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, tx.ws, t.ID, t.Name, t.Hash, t.Prefix, t.CreatedBy, micros(t.CreatedAt), microsPtr(t.RevokedAt))
	if err != nil {
		return fmt.Errorf("create api token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create api token: %w", err)
	} else if n == 0 {
		return funnelwatch.Errorf(funnelwatch.ECONFLICT, "an API token with this id or hash already exists")
	}
	return nil
}

// RevokeAPIToken revokes the token with the id at the time.
func (tx *Tx) RevokeAPIToken(ctx context.Context, id string, at time.Time) error {
	res, err := tx.exec(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE workspace_id = ? AND id = ?`, micros(at), tx.ws, id)
	if err != nil {
		return fmt.Errorf("revoke api token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke api token: %w", err)
	} else if n == 0 {
		return funnelwatch.Errorf(funnelwatch.ENOTFOUND, "no API token %q", id)
	}
	return nil
}
