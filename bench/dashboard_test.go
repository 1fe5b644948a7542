package bench_test

import (
	"context"
	"testing"

	"github.com/funnelwatch/funnelwatch/bench"
)

// BenchmarkDashboard times the dashboard and funnel pages and the quality
// and funnel reports over a company of 20,000 deals and 400,000 events
// (`funnelwatch bench dashboard` does 1,000,000 deals). The figures are
// custom metrics, milliseconds, beside the sign-in page's.
func BenchmarkDashboard(b *testing.B) {
	for b.Loop() {
		r, err := bench.RunDashboard(context.Background(), bench.DashboardConfig{Dir: b.TempDir(), Deals: 20_000, Events: 400_000, Requests: 30, Warmup: 2, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.Log("\n" + r.String())
		for _, t := range r.Timings {
			b.ReportMetric(float64(t.P95)/1e6, "ms-p95-"+metricName(t.Name))
		}
	}
}

func metricName(s string) string {
	out := []rune{}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			out = append(out, r)
		case len(out) > 0 && out[len(out)-1] != '-':
			out = append(out, '-')
		}
	}
	return string(out)
}
