// Package demo generates a company to show funnelwatch on: «ЗолотаревАвто
// (демо)», an air-suspension workshop like the one of the seed documents —
// eight managers on 3/3 shifts, a qualifier on the Avito chats, a warm-up
// manager, a head of sales — with its regulations file and three months of
// CRM history as events of the ingest contract (DESIGN §4.1).
//
// The history has the habits the documents complain about, in amounts a
// dashboard can show: overdue tasks, deals hanging without a next step on
// «Целевой клиент» and «Готов к выдаче», one manager (Roman) making about
// half of the team's violations, a mass closing, content-free comments,
// missed calls returned late or never, backward moves, losses without a
// reason, required fields left empty or filled with junk, tasks
// rescheduled again and again without a call.
//
// The log is what a CRM that already runs some robots records: the robot
// tasks of «Целевой клиент», of new Avito chats and of losses are in it as
// ordinary task.created events without an actor. It is meant to be read as
// history (backtest --mode observe, or ingest); the regulations' own
// automations would set those tasks again.
//
// Generation is deterministic: the same Options give the same bytes.
package demo

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	_ "time/tzdata" // the history is in Moscow time wherever the binary runs

	"github.com/funnelwatch/funnelwatch"
)

// regulationsYAML is the company's regulations file (DESIGN §4.4).
//
//go:embed regulations.yaml
var regulationsYAML []byte

// Timezone is the company's timezone; every event time is in it.
const Timezone = "Europe/Moscow"

// Options says which company to generate.
type Options struct {
	Seed int64     // same seed and same End: byte-identical output
	End  time.Time // last moment of history (the CLI passes "now" truncated to the minute)
	Days int       // length of the history in days (default 90)
	// LeadsPerDay is the mean number of new sales leads a day (Avito,
	// calls, site forms, repeat clients); the other pipelines scale with
	// it. The default gives a log of about 50,000 events over 90 days.
	LeadsPerDay int
}

// Defaults of Options.
const (
	DefaultDays        = 90
	DefaultLeadsPerDay = 22
)

// Company is a generated company: its regulations and its history.
type Company struct {
	Regulations []byte              // a complete regulations file (DESIGN §4.4)
	Events      []funnelwatch.Event // sorted by At (stable), every event valid against Regulations
}

// Generate returns the company the options describe.
func Generate(opts Options) (*Company, error) {
	if opts.End.IsZero() {
		return nil, errors.New("demo: Options.End is required (the last moment of the history)")
	}
	if opts.Days < 0 || opts.LeadsPerDay < 0 {
		return nil, fmt.Errorf("demo: Days (%d) and LeadsPerDay (%d) must not be negative", opts.Days, opts.LeadsPerDay)
	}
	if opts.Days == 0 {
		opts.Days = DefaultDays
	}
	if opts.LeadsPerDay == 0 {
		opts.LeadsPerDay = DefaultLeadsPerDay
	}
	loc, err := time.LoadLocation(Timezone)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	g := newGen(opts, loc)
	g.run()
	return &Company{Regulations: bytes.Clone(regulationsYAML), Events: g.flatten()}, nil
}

// WriteNDJSON writes the events, one JSON object a line, as the ingest API
// and `funnelwatch import` take them.
func (c *Company) WriteNDJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range c.Events {
		if err := enc.Encode(&c.Events[i]); err != nil {
			return fmt.Errorf("demo: event %s: %w", c.Events[i].ID, err)
		}
	}
	return nil
}
