package storetest

import (
	"context"
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
}
