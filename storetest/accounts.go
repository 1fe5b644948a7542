package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/funnelwatch/funnelwatch"
)

// testAccounts: password hashes and sessions are kept per workspace, a
// session is found by its token hash only, and deleting ends it.
func testAccounts(t *testing.T, open Opener) {
	s := open(t)
	ws, other := workspace(t, s), workspace(t, s)
	ctx := context.Background()

	t.Run("PasswordHash", func(t *testing.T) {
		view(t, s, ws, func(tx funnelwatch.ReadTx) error {
			if _, err := tx.PasswordHash(ctx, "anna"); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
				t.Errorf("no password yet: err = %v, want ENOTFOUND", err)
			}
			return nil
		})
		update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.SetPasswordHash(ctx, "anna", "h1", at(0)) })
		update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.SetPasswordHash(ctx, "anna", "h2", at(1)) })
		view(t, s, ws, func(tx funnelwatch.ReadTx) error {
			if h, err := tx.PasswordHash(ctx, "anna"); err != nil || h != "h2" {
				t.Errorf("PasswordHash = %q, %v; want the replaced h2", h, err)
			}
			return nil
		})
		view(t, s, other, func(tx funnelwatch.ReadTx) error {
			if _, err := tx.PasswordHash(ctx, "anna"); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
				t.Errorf("another workspace sees the password: err = %v", err)
			}
			return nil
		})
	})

	t.Run("Sessions", func(t *testing.T) {
		s1 := &funnelwatch.Session{TokenHash: "t1", UserID: "anna", CreatedAt: at(0), ExpiresAt: at(60)}
		s2 := &funnelwatch.Session{TokenHash: "t2", UserID: "anna", CreatedAt: at(0), ExpiresAt: at(600)}
		s3 := &funnelwatch.Session{TokenHash: "t3", UserID: "roman", CreatedAt: at(0), ExpiresAt: at(30)}
		update(t, s, ws, func(tx funnelwatch.Tx) error {
			for _, x := range []*funnelwatch.Session{s1, s2, s3} {
				if err := tx.CreateSession(ctx, x); err != nil {
					return err
				}
			}
			return nil
		})
		err := s.Update(ctx, ws, func(tx funnelwatch.Tx) error { return tx.CreateSession(ctx, s1) })
		if funnelwatch.ErrorCode(err) != funnelwatch.ECONFLICT {
			t.Errorf("the same token twice: err = %v, want ECONFLICT", err)
		}
		view(t, s, ws, func(tx funnelwatch.ReadTx) error {
			got, err := tx.Session(ctx, "t1")
			if err != nil {
				t.Fatalf("Session: %v", err)
			}
			if got.UserID != "anna" || !got.CreatedAt.Equal(at(0)) || !got.ExpiresAt.Equal(at(60)) {
				t.Errorf("Session = %+v, want %+v", got, s1)
			}
			if got.Expired(at(59)) || !got.Expired(at(60)) {
				t.Errorf("Expired: a session ends at its expiry")
			}
			return nil
		})
		view(t, s, other, func(tx funnelwatch.ReadTx) error {
			if _, err := tx.Session(ctx, "t1"); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
				t.Errorf("another workspace finds the session: err = %v", err)
			}
			return nil
		})
		var expired, annas int
		update(t, s, ws, func(tx funnelwatch.Tx) error {
			var err error
			if expired, err = tx.DeleteExpiredSessions(ctx, at(60)); err != nil {
				return err
			}
			annas, err = tx.DeleteUserSessions(ctx, "anna")
			return err
		})
		if expired != 2 || annas != 1 {
			t.Errorf("deleted %d expired (want t1, t3: 2) and %d of anna's (want t2: 1)", expired, annas)
		}
		update(t, s, ws, func(tx funnelwatch.Tx) error {
			if err := tx.CreateSession(ctx, &funnelwatch.Session{TokenHash: "t4", UserID: "vera", CreatedAt: at(0), ExpiresAt: at(90)}); err != nil {
				return err
			}
			return tx.DeleteSession(ctx, "t4")
		})
		view(t, s, ws, func(tx funnelwatch.ReadTx) error {
			for _, h := range []string{"t1", "t2", "t3", "t4"} {
				if _, err := tx.Session(ctx, h); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
					t.Errorf("session %s still there: err = %v", h, err)
				}
			}
			return nil
		})
	})
	t.Run("Credentials", func(t *testing.T) {
		s := open(t)
		ws, other := workspace(t, s), workspace(t, s)
		update(t, s, ws, func(tx funnelwatch.Tx) error {
			if err := tx.SetPasswordHash(ctx, "olga", "h", at(5)); err != nil {
				return err
			}
			if err := tx.SetPasswordHash(ctx, "anna", "h", at(7)); err != nil {
				return err
			}
			for i, x := range []*funnelwatch.Session{
				{TokenHash: "a1", UserID: "anna", CreatedAt: at(8), ExpiresAt: at(100)},
				{TokenHash: "a2", UserID: "anna", CreatedAt: at(9), ExpiresAt: at(200)},
				{TokenHash: "a3", UserID: "anna", CreatedAt: at(9), ExpiresAt: at(50)}, // expired at 60
				{TokenHash: "r1", UserID: "roman", CreatedAt: at(9), ExpiresAt: at(100)},
			} {
				if err := tx.CreateSession(ctx, x); err != nil {
					return fmt.Errorf("session %d: %w", i, err)
				}
			}
			return nil
		})
		view(t, s, ws, func(tx funnelwatch.ReadTx) error {
			got, err := tx.Credentials(ctx, at(60))
			if err != nil {
				t.Fatal(err)
			}
			want := []funnelwatch.Credential{
				{UserID: "anna", PasswordSetAt: at(7), Sessions: 2},
				{UserID: "olga", PasswordSetAt: at(5)},
				{UserID: "roman", Sessions: 1}, // a session, no password any more
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Credentials =\n%+v\nwant\n%+v", got, want)
			}
			return nil
		})
		view(t, s, other, func(tx funnelwatch.ReadTx) error {
			if got, err := tx.Credentials(ctx, at(60)); err != nil || len(got) != 0 {
				t.Errorf("another workspace: %+v, %v", got, err)
			}
			return nil
		})
	})

	t.Run("APITokens", func(t *testing.T) {
		s := open(t)
		ws, other := workspace(t, s), workspace(t, s)
		t1 := &funnelwatch.APIToken{ID: "k1", Name: "amoCRM", Hash: "h1", Prefix: "abc123", CreatedBy: "sergey", CreatedAt: at(1)}
		t2 := &funnelwatch.APIToken{ID: "k2", Name: "1С", Hash: "h2", Prefix: "def456", CreatedBy: "sergey", CreatedAt: at(2)}
		update(t, s, ws, func(tx funnelwatch.Tx) error {
			if err := tx.CreateAPIToken(ctx, t2); err != nil {
				return err
			}
			return tx.CreateAPIToken(ctx, t1)
		})
		for _, dup := range []*funnelwatch.APIToken{
			{ID: "k1", Name: "x", Hash: "h9", Prefix: "p", CreatedBy: "s", CreatedAt: at(3)},
			{ID: "k9", Name: "x", Hash: "h1", Prefix: "p", CreatedBy: "s", CreatedAt: at(3)},
		} {
			err := s.Update(ctx, ws, func(tx funnelwatch.Tx) error { return tx.CreateAPIToken(ctx, dup) })
			if funnelwatch.ErrorCode(err) != funnelwatch.ECONFLICT {
				t.Errorf("token %s/%s again: err = %v, want ECONFLICT", dup.ID, dup.Hash, err)
			}
		}
		update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.RevokeAPIToken(ctx, "k2", at(10)) })
		update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.RevokeAPIToken(ctx, "k2", at(20)) })
		if err := s.Update(ctx, ws, func(tx funnelwatch.Tx) error { return tx.RevokeAPIToken(ctx, "nope", at(10)) }); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
			t.Errorf("revoking a token never issued: err = %v, want ENOTFOUND", err)
		}
		revoked := at(10)
		t2.RevokedAt = &revoked
		view(t, s, ws, func(tx funnelwatch.ReadTx) error {
			got, err := tx.APITokens(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, []*funnelwatch.APIToken{t1, t2}) {
				t.Errorf("APITokens = %+v %+v, want k1 then k2 revoked at its first revocation", got[0], got[len(got)-1])
			}
			if k, err := tx.APITokenByHash(ctx, "h2"); err != nil || !reflect.DeepEqual(k, t2) {
				t.Errorf("APITokenByHash(h2) = %+v, %v", k, err)
			}
			if _, err := tx.APITokenByHash(ctx, "h3"); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
				t.Errorf("an unknown hash: err = %v, want ENOTFOUND", err)
			}
			return nil
		})
		view(t, s, other, func(tx funnelwatch.ReadTx) error {
			if _, err := tx.APITokenByHash(ctx, "h1"); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
				t.Errorf("another workspace finds the token: err = %v", err)
			}
			return nil
		})
	})
}
