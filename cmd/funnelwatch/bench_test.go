package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Each benchmark runs at a smoke size and prints its figures beside its
// baseline and target.
func TestBench(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"Ingest", []string{"ingest", "--events", "3000", "--batch", "500"}, []string{"API path (HTTP+JSON+checks+fold, SQLite)", "baseline: raw SQLite insert", "of raw (target ≥ 50%)"}},
		{"IngestRules", []string{"ingest", "--rules", "--events", "3000", "--batch", "500"}, []string{"rules engine on", "(target ≥ 50,000)", "baseline: raw SQLite insert", "16 quality rules, 4 automations", "findings", "engine lag"}},
		{"IngestRulesDemo", []string{"ingest", "--rules", "--company", "demo", "--events", "3000", "--batch", "500"}, []string{"the demo company's", "14 quality rules, 11 automations", "findings", "of raw (target ≥ 50%)"}},
		{"Latency", []string{"latency", "--rate", "400", "--seconds", "0.3"}, []string{"event → finding stored: p50", "(target p99 < 50 ms); 30 of 30 markers found", "baseline: ingest round trip", "achieved"}},
		{"Memory", []string{"memory", "--deals", "1000"}, []string{"1000 open deals, 3000 events", "baseline: the deals in the Ingestor's cache", "with the engine holding them", "pending timers"}},
	} {
		// Distinct names: a '#' (of a repeated subtest name) in the
		// temporary directory's path would cut the SQLite file URI short.
		t.Run(c.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			args := append([]string{"bench"}, c.args...)
			args = append(args, "--dir", t.TempDir())
			if code := Main(context.Background(), args, &out, &errs); code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, errs.String())
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("%v: output lacks %q:\n%s", args, w, out.String())
				}
			}
		})
	}
	t.Run("Usage", func(t *testing.T) {
		var out, errs bytes.Buffer
		if code := Main(context.Background(), []string{"bench", "speed"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "bench latency") {
			t.Errorf("exit %d: %s", code, errs.String())
		}
	})
}
