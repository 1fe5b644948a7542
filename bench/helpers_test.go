package bench_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

// benchRegulations are the regulations `funnelwatch bench` runs: every
// rule the synthetic log can trip and the contract example's robots.
func benchRegulations(tb testing.TB) *regulations.Regulations {
	tb.Helper()
	regs, err := regulations.ParseFile("../cmd/funnelwatch/bench_regulations.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	return regs
}

var storetestBase = time.Date(2026, 8, 1, 9, 0, 0, 0, time.UTC)

func storetestOpen(t *testing.T) funnelwatch.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func storetestOpenB(t testing.TB) funnelwatch.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
