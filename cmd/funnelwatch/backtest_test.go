package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestBacktestScenarios runs each scenario of testdata/scenarios — a
// story in the users' words, an event log and the findings worked out by
// hand — through `funnelwatch backtest --format json` with the contract
// example regulations, and compares the findings exactly.
func TestBacktestScenarios(t *testing.T) {
	dirs, err := filepath.Glob("../../testdata/scenarios/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			// DeepEqual tells an empty list from a missing one.
			var want struct {
				Until       string           `json:"until"`
				Mode        string           `json:"mode"`
				Regulations string           `json:"regulations"` // relative to the scenario; default its regulations.yaml or the contract example
				Story       string           `json:"story"`
				Violations  []map[string]any `json:"violations"`
				Actions     []map[string]any `json:"actions"`
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			regs := filepath.Join(dir, "regulations.yaml")
			if want.Regulations != "" {
				regs = filepath.Join(dir, want.Regulations)
			} else if _, err := os.Stat(regs); err != nil {
				regs = example
			}
			mode := want.Mode
			if mode == "" {
				mode = "simulate"
			}
			var out, errs bytes.Buffer
			args := []string{"backtest", "--regulations", regs, "--events", filepath.Join(dir, "events.ndjson"),
				"--until", want.Until, "--format", "json", "--mode", mode}
			if code := Main(context.Background(), args, &out, &errs); code != 0 {
				t.Fatalf("backtest exited %d: %s", code, errs.String())
			}
			if errs.Len() > 0 {
				t.Errorf("backtest complained: %s", errs.String())
			}
			var got struct {
				Violations []map[string]any `json:"violations"`
				Actions    []map[string]any `json:"actions"`
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("output is not the JSON contract: %v\n%s", err, out.String())
			}
			if want.Violations == nil || want.Actions == nil {
				t.Fatal("expected.json must list both violations and actions")
			}
			// The contract's fields are compared; the texts are checked apart.
			for _, v := range got.Violations {
				if v["message"] == nil || v["recommendation"] == nil {
					t.Errorf("finding without a message or recommendation: %v", v)
				}
				delete(v, "message")
				delete(v, "recommendation")
			}
			if !reflect.DeepEqual(got.Violations, want.Violations) {
				t.Errorf("violations: %s\n got  %s\n want %s", want.Story, jsonLines(got.Violations), jsonLines(want.Violations))
			}
			if !reflect.DeepEqual(got.Actions, want.Actions) {
				t.Errorf("actions: %s\n got  %s\n want %s", want.Story, jsonLines(got.Actions), jsonLines(want.Actions))
			}
		})
	}
}

func jsonLines(vs []map[string]any) string {
	var b strings.Builder
	for _, v := range vs {
		j, _ := json.Marshal(v)
		b.WriteString("\n  ")
		b.Write(j)
	}
	return b.String()
}

func TestBacktestSummaryAndCompare(t *testing.T) {
	strict := filepath.Join(t.TempDir(), "strict.yaml")
	raw, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	// The old regulations had no 10-minute grace for a missing next step.
	os.WriteFile(strict, bytes.Replace(raw, []byte("{rule: no_next_task, severity: violation, grace: 10m}"), []byte("{rule: no_next_task}"), 1), 0o600)
	var out, errs bytes.Buffer
	code := Main(context.Background(), []string{"backtest", "--mode", "observe", "--regulations", example, "--compare", strict,
		"--events", "../../testdata/scenarios/overdue_task/events.ndjson", "--until", "2026-11-02T11:30:00+03:00"}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	// Without grace the gap between 11:00 and 11:05 is a finding.
	for _, want := range []string{"1 findings", "2 findings", "task_overdue (violation)", "no_next_task (violation)", "was      1", "roman"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.ndjson")
	os.WriteFile(bad, []byte("{\"id\":\"x\"}\n"), 0o600)
	errs.Reset()
	if code := Main(context.Background(), []string{"backtest", "--regulations", example, "--events", bad}, &out, &errs); code != 1 ||
		!strings.Contains(errs.String(), "line 1: missing field: type") {
		t.Errorf("bad log: exit %d, %s", code, errs.String())
	}
}

// An expression rule speaks with the file's own words.
func TestBacktestMessagesFromTheFile(t *testing.T) {
	var out, errs bytes.Buffer
	dir := "../../testdata/scenarios/expr_paid_not_moved"
	code := Main(context.Background(), []string{"backtest", "--mode", "observe", "--regulations", "../../testdata/scenarios/rules.yaml",
		"--events", filepath.Join(dir, "events.ndjson"), "--format", "json"}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, want := range []string{`"message": "Оплата получена, а сделка на этапе «Контакт установлен»"`, `"recommendation": "Переведите сделку на этап «Готов к выдаче»"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, out.String())
		}
	}
}

// A long log is decoded in chunks on every core: the events come back in
// the file's order, blank lines are skipped, and of two malformed lines
// in different chunks the error names the first.
func TestReadEventLogInChunks(t *testing.T) {
	var b bytes.Buffer
	n := 3*logChunkLines + 17
	for i := range n {
		if i == logChunkLines+5 {
			b.WriteString("\n") // a blank line
		}
		fmt.Fprintf(&b, `{"id":"e%d","type":"note.added","at":"2026-11-02T10:00:00Z","note":{"id":"N%d","deal_id":"D1","text":"звонок %d"}}`+"\n", i, i, i)
	}
	path := filepath.Join(t.TempDir(), "log.ndjson")
	os.WriteFile(path, b.Bytes(), 0o600)
	events, err := readEventLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Fatalf("%d events, want %d", len(events), n)
	}
	for i, e := range events {
		if want := fmt.Sprintf("e%d", i); e.ID != want {
			t.Fatalf("event %d is %s, want %s", i, e.ID, want)
		}
	}
	lines := strings.Split(b.String(), "\n")
	lines[2*logChunkLines+9] = `{"id":"bad2"}`
	lines[logChunkLines+100] = `{"id":"bad1","type":"note.added"`
	os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600)
	_, err = readEventLog(path)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("line %d:", logChunkLines+101)) {
		t.Fatalf("error %v, want one naming line %d", err, logChunkLines+101)
	}
}
