package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/funnelwatch/funnelwatch"
)

// APITokenPrefix starts every token an admin issues, so a leaked one is
// recognisable (and findable by secret scanners) as funnelwatch's.
const APITokenPrefix = "fw_"

// MaxTokenName bounds a token's name, in characters.
const MaxTokenName = 100

// APITokens issues, checks and revokes the API tokens of a workspace.
// The store keeps a token's SHA-256, never the token.
type APITokens struct {
	Store     funnelwatch.Store
	Workspace string
}

// Issue makes a token named name for the admin by; it returns the token,
// to be shown once. A name is required.
func (k *APITokens) Issue(ctx context.Context, name, by string, now time.Time) (string, *funnelwatch.APIToken, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", nil, funnelwatch.Errorf(funnelwatch.EINVALID, "a token needs a name: what it is for")
	case utf8.RuneCountInString(name) > MaxTokenName:
		return "", nil, funnelwatch.Errorf(funnelwatch.EINVALID, "a token's name is at most %d characters", MaxTokenName)
	}
	token := APITokenPrefix + NewToken()
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	t := &funnelwatch.APIToken{ID: hex.EncodeToString(id), Name: name, Hash: HashToken(token),
		Prefix: token[:len(APITokenPrefix)+6], CreatedBy: by, CreatedAt: now}
	err := k.Store.Update(ctx, k.Workspace, func(tx funnelwatch.Tx) error { return tx.CreateAPIToken(ctx, t) })
	if err != nil {
		return "", nil, err
	}
	return token, t, nil
}

// Valid reports whether token is an issued token not revoked.
func (k *APITokens) Valid(ctx context.Context, token string) (bool, error) {
	if !strings.HasPrefix(token, APITokenPrefix) {
		return false, nil
	}
	var t *funnelwatch.APIToken
	err := k.Store.View(ctx, k.Workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		t, err = tx.APITokenByHash(ctx, HashToken(token))
		return err
	})
	switch {
	case funnelwatch.ErrorCode(err) == funnelwatch.ENOTFOUND:
		return false, nil
	case err != nil:
		return false, err
	}
	return t.RevokedAt == nil, nil
}

// Revoke ends the token with the id: the API refuses it from now on.
func (k *APITokens) Revoke(ctx context.Context, id string, now time.Time) error {
	return k.Store.Update(ctx, k.Workspace, func(tx funnelwatch.Tx) error { return tx.RevokeAPIToken(ctx, id, now) })
}
