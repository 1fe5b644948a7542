package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/funnelwatch/funnelwatch"
)

func testNotices(t *testing.T, open Opener) {
	s := open(t)
	ws, other := workspace(t, s), workspace(t, s)
	ctx := context.Background()
	n := func(key, target string, status funnelwatch.NoticeStatus, minute int) *funnelwatch.Notice {
		return &funnelwatch.Notice{ActionKey: key, Target: target, User: "roman", Status: status, At: at(minute),
			Text: "Просрочена задача «" + key + "» <b>&</b>"}
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		return tx.SaveNotices(ctx,
			n("A2", "telegram:100", funnelwatch.NoticeHeld, 20),
			n("A1", "telegram:100", funnelwatch.NoticeSent, 10),
			n("A1", "email:rop@example.com", funnelwatch.NoticeSent, 11),
			n("A3", "telegram:200", funnelwatch.NoticeHeld, 5))
	})
	update(t, s, other, func(tx funnelwatch.Tx) error {
		return tx.SaveNotices(ctx, n("A1", "telegram:100", funnelwatch.NoticeFailed, 1))
	})
	list := func(f funnelwatch.NoticeFilter) string {
		var out string
		view(t, s, ws, func(tx funnelwatch.ReadTx) error {
			ns, err := tx.Notices(ctx, f)
			for _, n := range ns {
				out += fmt.Sprintf("%s>%s:%s@%d ", n.ActionKey, n.Target, n.Status, int(n.At.Sub(at(0)).Minutes()))
			}
			return err
		})
		return out
	}
	cases := []struct {
		name string
		f    funnelwatch.NoticeFilter
		want string
	}{
		{"all of the workspace, by time", funnelwatch.NoticeFilter{},
			"A3>telegram:200:held@5 A1>telegram:100:sent@10 A1>email:rop@example.com:sent@11 A2>telegram:100:held@20 "},
		{"one action's targets", funnelwatch.NoticeFilter{ActionKey: "A1"},
			"A1>telegram:100:sent@10 A1>email:rop@example.com:sent@11 "},
		{"one target since a time", funnelwatch.NoticeFilter{Target: "telegram:100", Since: at(11)}, "A2>telegram:100:held@20 "},
		{"held ones", funnelwatch.NoticeFilter{Status: funnelwatch.NoticeHeld}, "A3>telegram:200:held@5 A2>telegram:100:held@20 "},
		{"a page's actions", funnelwatch.NoticeFilter{ActionKeys: []string{"A3", "A2"}}, "A3>telegram:200:held@5 A2>telegram:100:held@20 "},
	}
	for _, tc := range cases {
		if got := list(tc.f); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	// A held notice sent in a digest is replaced, text and all.
	sent := n("A2", "telegram:100", funnelwatch.NoticeSent, 30)
	sent.Text, sent.Error = "", ""
	update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.SaveNotices(ctx, sent) })
	if got := list(funnelwatch.NoticeFilter{ActionKey: "A2"}); got != "A2>telegram:100:sent@30 " {
		t.Fatalf("after the digest: %q", got)
	}
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		ns, err := tx.Notices(ctx, funnelwatch.NoticeFilter{ActionKey: "A1", Target: "email:rop@example.com"})
		if err == nil && (len(ns) != 1 || ns[0].Text != "Просрочена задача «A1» <b>&</b>" || ns[0].User != "roman") {
			t.Errorf("notice read back as %+v", ns)
		}
		return err
	})
	var others int
	view(t, s, other, func(tx funnelwatch.ReadTx) error {
		ns, err := tx.Notices(ctx, funnelwatch.NoticeFilter{})
		others = len(ns)
		return err
	})
	if others != 1 {
		t.Fatalf("the other workspace sees %d notices, want its 1", others)
	}
}
