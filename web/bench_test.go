package web_test

import (
	"io"
	"net/http"
	"slices"
	"testing"
	"time"
)

// BenchmarkPages times the pages over the demo company (about 50,000
// events, 90 days) as the head of sales, the widest scope, and reports
// the 50th and 95th percentiles of a page's answer (the target is p95 <
// 150 ms). Run: go test -run '^$' -bench Pages -benchtime 100x ./web
func BenchmarkPages(b *testing.B) {
	s := newDemoSite(b)
	for _, who := range []string{"sergey", "roman"} {
		c := browser(b)
		s.signIn(b, c, who, who+"-password")
		for _, path := range []string{"/", "/funnel", "/funnel?pipeline=avito", "/managers", "/managers/roman", "/regulations"} {
			b.Run(who+path, func(b *testing.B) {
				var took []time.Duration
				for b.Loop() {
					began := time.Now()
					resp, err := c.Get(s.URL + path)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("GET %s = %d", path, resp.StatusCode)
					}
					took = append(took, time.Since(began))
				}
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)/2])/1e6, "p50-ms")
				b.ReportMetric(float64(took[(len(took)*95+99)/100-1])/1e6, "p95-ms")
			})
		}
	}
}
