package main

import (
	"encoding/json"
	"math"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"
)

// The funnel and managers reports on the demo company: the properties the
// demo is built to show (demo/company.go) and the identities between the
// figures, not tuned numbers — the company changes with the minute it is
// generated in.
func TestDemoReports(t *testing.T) {
	t.Setenv("FUNNELWATCH_API_TOKEN", "")
	base, out := start(t, "demo", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	m := regexp.MustCompile(`API token \(this run\): (\w+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no token printed: %s", out.String())
	}
	token := m[1]
	// The last 30 days of the history, which ends now: the mass closing
	// (16 to 23 days before the end) is in them.
	to := time.Now().UTC().Truncate(time.Minute)
	q := url.Values{"from": {to.AddDate(0, 0, -30).Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}

	t.Run("Managers", func(t *testing.T) {
		code, body := get(t, base+"/api/v1/reports/managers?"+q.Encode(), token)
		if code != 200 {
			t.Fatalf("managers: %d %s", code, body)
		}
		managers, names := managerFigures(t, body)
		if names["roman"] != "Роман Белов" {
			t.Errorf("roman's name = %q", names["roman"])
		}
		// Роман, the sloppy one, makes the largest share of the team's
		// violations and has by far the most overdue tasks; Иван, who
		// closed his pile at once, lost the most deals.
		most := func(field string) string {
			best := ""
			for u, f := range managers {
				if best == "" || f[field] > managers[best][field] {
					best = u
				}
			}
			return best
		}
		if u := most("violations_share"); u != "roman" {
			t.Errorf("the largest violations share is %s's (%v), not roman's (%v)", u, managers[u]["violations_share"], managers["roman"]["violations_share"])
		}
		if u := most("overdue_tasks"); u != "roman" {
			t.Errorf("the most overdue tasks are %s's (%v), not roman's (%v)", u, managers[u]["overdue_tasks"], managers["roman"]["overdue_tasks"])
		}
		if u := most("lost"); u != "ivan" {
			t.Errorf("the most lost deals are %s's (%v), not ivan's (%v)", u, managers[u]["lost"], managers["ivan"]["lost"])
		}
		// Identities each line keeps.
		var shares float64
		for u, f := range managers {
			shares += f["violations_share"]
			near := func(what string, got, want float64) {
				if math.Abs(got-want) > 0.01*math.Max(1, math.Abs(want)) {
					t.Errorf("%s: %s = %v, want %v", u, what, got, want)
				}
			}
			if n := f["won"] + f["lost"]; n > 0 {
				near("win_rate", f["win_rate"], f["won"]/n)
			}
			if f["won"] > 0 {
				near("avg_check × won", f["avg_check"]*f["won"], f["revenue"])
				if f["cycle_median_days"] <= 0 {
					t.Errorf("%s: cycle_median_days %v with %v won", u, f["cycle_median_days"], f["won"])
				}
			}
			if f["calls_answered"] > f["calls_in"]+f["calls_out"] || f["successful_contacts"] > f["calls_answered"] ||
				f["missed_not_returned"] > f["missed_calls"] || f["missed_calls"] > f["calls_in"] {
				t.Errorf("%s: calls do not add up: %v", u, f)
			}
			if f["calls_answered"] > 0 {
				near("avg_call_s × answered", f["avg_call_s"]*f["calls_answered"], f["talk_time_s"])
			}
		}
		if shares > 1+1e-9 {
			t.Errorf("violations shares add up to %v > 1", shares)
		}
		// A higher threshold leaves fewer successful contacts.
		q := url.Values{"from": q["from"], "to": q["to"], "successful_min_s": {"600"}}
		code, body = get(t, base+"/api/v1/reports/managers?"+q.Encode(), token)
		if code != 200 {
			t.Fatalf("managers at 600 s: %d %s", code, body)
		}
		strict, _ := managerFigures(t, body)
		if s, d := strict["roman"]["successful_contacts"], managers["roman"]["successful_contacts"]; s >= d {
			t.Errorf("roman's successful contacts: %v at 600 s, %v at 40 s", s, d)
		}
	})

	t.Run("Funnel", func(t *testing.T) {
		q := url.Values{"from": q["from"], "to": q["to"], "pipeline": {"sales"}}
		code, body := get(t, base+"/api/v1/reports/funnel?"+q.Encode(), token)
		if code != 200 {
			t.Fatalf("funnel: %d %s", code, body)
		}
		var funnel struct {
			Stages []struct {
				Stage, Type    string
				DealsNow       int     `json:"deals_now"`
				AmountNow      float64 `json:"amount_now"`
				Entries, Exits int
				ConversionNext float64  `json:"conversion_next"`
				ConversionWon  float64  `json:"conversion_won"`
				AvgHours       float64  `json:"avg_hours"`
				Bottleneck     *float64 `json:"bottleneck"`
			}
		}
		if err := json.Unmarshal([]byte(body), &funnel); err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, s := range funnel.Stages {
			order = append(order, s.Stage)
			if s.ConversionWon > s.ConversionNext || s.ConversionNext > 1 || s.AvgHours < 0 {
				t.Errorf("%s: conversions %v, %v; %v h", s.Stage, s.ConversionNext, s.ConversionWon, s.AvgHours)
			}
			if s.Type == "open" && s.Entries == 0 {
				t.Errorf("%s: no entries in 30 days", s.Stage)
			}
			// «Готов к выдаче» holds the deals hanging there without a
			// next step: dozens, worth ≥ 500 000, more than its SLA lets
			// it clear at the month's pace.
			if s.Stage == "ready" && (s.DealsNow < 12 || s.AmountNow < 500_000 || s.Bottleneck == nil || *s.Bottleneck <= 1) {
				t.Errorf("ready holds %d deals worth %v, bottleneck %v; want ≥ 12, ≥ 500 000, > 1", s.DealsNow, s.AmountNow, s.Bottleneck)
			}
		}
		want := []string{"target", "contact", "qualified", "waiting", "ready", "won", "lost"}
		if !slices.Equal(order, want) {
			t.Errorf("stages %v, want the regulations' order %v", order, want)
		}
	})
}

// managerFigures decodes the managers report into each manager's
// numbers (the week before, under "previous", left out) and names.
func managerFigures(t *testing.T, body string) (map[string]map[string]float64, map[string]string) {
	t.Helper()
	var raw map[string]map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	figures, names := map[string]map[string]float64{}, map[string]string{}
	for u, m := range raw {
		figures[u] = map[string]float64{}
		for k, v := range m {
			switch v := v.(type) {
			case float64:
				figures[u][k] = v
			case string:
				names[u] = v
			}
		}
		if _, ok := m["previous"].(map[string]any); !ok {
			t.Errorf("%s: no previous week", u)
		}
	}
	return figures, names
}
