package dealcsv_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/dealcsv"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

// mavenDir holds the public Maven CRM export (a copy of shared/data/maven-crm).
const mavenDir = "../testdata/maven"

func mavenMapping() dealcsv.Mapping {
	return dealcsv.Mapping{
		Pipeline: "b2b", ID: "opportunity_id", Stage: "deal_stage", Responsible: "sales_agent",
		Amount: "close_value", Name: "account", Created: "engage_date", Closed: "close_date",
		Fields:      []string{"product"},
		Stages:      map[string]string{"Prospecting": "prospecting", "Engaging": "engaging", "Won": "won", "Lost": "lost"},
		DateLayouts: []string{"02-01-06"},
		EventPrefix: "maven:",
	}
}

// TestMavenExport imports the real public export and checks the funnel it
// produces against figures counted straight from the CSV.
func TestMavenExport(t *testing.T) {
	path := filepath.Join(mavenDir, "sales_pipeline.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	regs, err := regulations.ParseFile("../testdata/maven/regulations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := dealcsv.Convert(f, mavenMapping(), &regs.Funnel)
	if err != nil {
		t.Fatal(err)
	}

	// Count the export independently.
	raw, _ := os.ReadFile(path)
	recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	byStage := map[string]int{}
	undated := 0
	wonValue := 0.0
	wonBy := map[string]int{}
	for _, r := range recs[1:] {
		byStage[r[4]]++
		if r[5] == "" {
			undated++
			continue
		}
		if r[4] == "Won" {
			v, _ := strconv.ParseFloat(r[7], 64)
			wonValue += v
			wonBy[dealcsv.Slug(r[1])]++
		}
	}
	if res.Rows != len(recs)-1 {
		t.Errorf("rows = %d, want %d", res.Rows, len(recs)-1)
	}
	// Prospecting rows carry no dates: they are reported, not invented.
	if len(res.Errors) != undated || undated == 0 {
		t.Errorf("skipped %d rows, want the %d without an engage date", len(res.Errors), undated)
	}
	if len(res.Errors) > 0 && !strings.Contains(res.Errors[0].Reason, "no creation date") {
		t.Errorf("reason = %q", res.Errors[0].Reason)
	}
	wantEvents := byStage["Engaging"] + 2*(byStage["Won"]+byStage["Lost"])
	if len(res.Events) != wantEvents {
		t.Errorf("events = %d, want %d", len(res.Events), wantEvents)
	}

	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "maven.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.EnsureWorkspace(ctx, "m", "Maven"); err != nil {
		t.Fatal(err)
	}
	in := &engine.Ingestor{Store: store, Workspace: "m", Funnel: &regs.Funnel}
	for i := 0; i < len(res.Events); i += 2000 {
		part := res.Events[i:min(i+2000, len(res.Events))]
		r, err := in.Ingest(ctx, part)
		if err != nil {
			t.Fatal(err)
		}
		if n := r.Count(engine.Rejected); n > 0 {
			for j, reason := range r.Reasons {
				if reason != "" {
					t.Fatalf("%d events rejected, e.g. %s: %s", n, part[j].ID, reason)
				}
			}
		}
	}
	if err := in.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	err = store.View(ctx, "m", func(tx funnelwatch.ReadTx) error {
		won, err := tx.Deals(ctx, funnelwatch.DealFilter{Status: funnelwatch.DealWon})
		if err != nil {
			return err
		}
		if len(won) != byStage["Won"] {
			t.Errorf("won deals = %d, want %d", len(won), byStage["Won"])
		}
		sum := 0.0
		perAgent := map[string]int{}
		for _, d := range won {
			sum += d.Amount
			perAgent[d.Responsible]++
			if d.ClosedAt == nil || d.ClosedAt.Before(d.CreatedAt) {
				t.Fatalf("won deal %s closed %v, created %v", d.ID, d.ClosedAt, d.CreatedAt)
			}
		}
		if sum != wonValue {
			t.Errorf("won value = %.0f, want %.0f", sum, wonValue)
		}
		for agent, n := range wonBy {
			if perAgent[agent] != n {
				t.Errorf("%s won %d, want %d", agent, perAgent[agent], n)
			}
		}
		open, err := tx.Deals(ctx, funnelwatch.DealFilter{Status: funnelwatch.DealOpen})
		if err != nil {
			return err
		}
		if len(open) != byStage["Engaging"] {
			t.Errorf("open deals = %d, want %d", len(open), byStage["Engaging"])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Importing again is idempotent: every event is a duplicate.
	r, err := in.Ingest(ctx, res.Events[:1000])
	if err != nil {
		t.Fatal(err)
	}
	if r.Count(engine.Duplicate) != 1000 {
		t.Errorf("re-import: %d duplicates of 1000", r.Count(engine.Duplicate))
	}
}

func TestBadRows(t *testing.T) {
	regs, err := regulations.ParseFile("../testdata/maven/regulations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in := "opportunity_id,sales_agent,deal_stage,engage_date,close_date,close_value\n" +
		"A1,Moses Frase,Won,20-10-16,01-03-17,1054\n" + // line 2: fine
		",Moses Frase,Won,20-10-16,01-03-17,1\n" + // line 3: no id
		"A3,Moses Frase,Negotiating,20-10-16,,\n" + // line 4: unknown stage
		"A4,Moses Frase,Won,2016/10/20,01-03-17,5\n" + // line 5: bad date
		"A5,Moses Frase,Won,20-10-16,01-03-16,5\n" + // line 6: closed before created
		"A6,Moses Frase,Lost,20-10-16,01-03-17,lots\n" + // line 7: bad amount
		"A7,Moses Frase,Engaging,20-10-16,,\n" // line 8: fine
	m := mavenMapping()
	m.Name, m.Fields = "", nil
	res, err := dealcsv.Convert(strings.NewReader(in), m, &regs.Funnel)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{3: "empty id", 4: `stage "Negotiating"`, 5: "bad date", 6: "before created", 7: "bad amount"}
	if len(res.Errors) != len(want) {
		t.Fatalf("errors = %+v", res.Errors)
	}
	for _, e := range res.Errors {
		if !strings.Contains(e.Reason, want[e.Line]) {
			t.Errorf("line %d: %q, want %q", e.Line, e.Reason, want[e.Line])
		}
	}
	if len(res.Events) != 3 {
		t.Fatalf("events = %d, want 3 (A1 created+won, A7 created)", len(res.Events))
	}
	won := res.Events[1]
	if won.Type != funnelwatch.EventDealStageChanged || won.ToStage != "won" || !won.At.Equal(time.Date(2017, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("close event = %+v", won)
	}
	if res.Events[0].Deal.Stage != "prospecting" || res.Events[0].Deal.Responsible != "moses_frase" {
		t.Errorf("created event = %+v", res.Events[0].Deal)
	}
	if _, err := dealcsv.Convert(strings.NewReader(in), dealcsv.Mapping{Pipeline: "b2b", ID: "nope", Stage: "deal_stage"}, &regs.Funnel); err == nil ||
		!strings.Contains(err.Error(), `"nope" is not in the header`) {
		t.Errorf("missing column error = %v", err)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Moses Frase":    "moses_frase",
		"Mei-Mei Johns":  "mei_mei_johns",
		"Роман Петров":   "roman_petrov",
		"  Щукин  Юрий ": "shchukin_yuriy",
	} {
		if got := dealcsv.Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzConvert(f *testing.F) {
	regs, err := regulations.ParseFile("../testdata/maven/regulations.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("opportunity_id,sales_agent,deal_stage,engage_date,close_date,close_value\nA1,Moses Frase,Won,20-10-16,01-03-17,1054\n")
	f.Add("opportunity_id,deal_stage\n\"A1,Won\n")
	f.Add("x\n")
	m := mavenMapping()
	m.Name, m.Fields, m.Responsible, m.Amount, m.Closed, m.Created = "", nil, "", "", "", ""
	m.MissingCreated = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, in string) {
		res, err := dealcsv.Convert(strings.NewReader(in), m, &regs.Funnel)
		if err != nil {
			return
		}
		for _, e := range res.Errors {
			if e.Line < 2 || e.Reason == "" {
				t.Fatalf("row error without a place or reason: %+v", e)
			}
		}
		for _, e := range res.Events {
			if e.ID == "" || e.At.IsZero() {
				t.Fatalf("incomplete event %+v", e)
			}
		}
	})
}
