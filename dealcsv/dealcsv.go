// Package dealcsv turns a CSV export of deals from another CRM into events
// of the ingest contract, through a column mapping: each row becomes a
// deal.created and, for closed deals, a deal.stage_changed at the close
// date.
package dealcsv

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/funnelwatch/funnelwatch"
)

// Mapping says which CSV columns carry which deal attributes and how their
// values translate into the regulations' ids.
type Mapping struct {
	Pipeline string // pipeline id every deal goes to

	// Columns, by header name. ID and Stage are required.
	ID, Stage, Responsible, Amount, Name, Created, Closed, LossReason, Source, Phone, Email string
	Fields                                                                                  []string // columns copied as custom fields, under their header names

	Stages map[string]string // CSV stage value → stage id of Pipeline (values not listed must equal a stage id)
	Users  map[string]string // CSV responsible value → user id (values not listed are slugged, see Slug)

	DateLayouts []string       // Go time layouts tried in order (default: RFC 3339, 2006-01-02, 02.01.2006)
	Location    *time.Location // for dates without a zone (default UTC)
	// MissingCreated is used as the creation time of rows without one;
	// zero means such rows are reported and skipped.
	MissingCreated time.Time
	// EventPrefix starts every generated event id, so re-importing the
	// same file is idempotent and two files do not collide.
	EventPrefix string
}

// RowError reports a row that could not be turned into events.
type RowError struct {
	Line   int // line in the CSV file, header is line 1
	Reason string
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// Result is what a conversion produced.
type Result struct {
	Events []funnelwatch.Event
	Rows   int        // data rows read
	Errors []RowError // rows skipped, with the reason
}

// Convert reads the CSV and converts each row. The funnel tells which
// stages close a deal; rows that cannot be converted are reported in
// Result.Errors and the rest are kept.
func Convert(r io.Reader, m Mapping, f *funnelwatch.Funnel) (*Result, error) {
	p, ok := f.Pipeline(m.Pipeline)
	if !ok {
		return nil, fmt.Errorf("unknown pipeline %q", m.Pipeline)
	}
	first, ok := p.FirstOpen()
	if !ok {
		return nil, fmt.Errorf("pipeline %q has no open stage", m.Pipeline)
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read CSV header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	need := func(what, name string, required bool) error {
		if name == "" {
			if required {
				return fmt.Errorf("mapping: the %s column is required", what)
			}
			return nil
		}
		if _, ok := col[name]; !ok {
			return fmt.Errorf("mapping: %s column %q is not in the header (%s)", what, name, strings.Join(header, ", "))
		}
		return nil
	}
	for _, c := range []struct {
		what, name string
		req        bool
	}{
		{"id", m.ID, true}, {"stage", m.Stage, true}, {"responsible", m.Responsible, false}, {"amount", m.Amount, false},
		{"name", m.Name, false}, {"created", m.Created, false}, {"closed", m.Closed, false},
		{"loss_reason", m.LossReason, false}, {"source", m.Source, false}, {"phone", m.Phone, false}, {"email", m.Email, false},
	} {
		if err := need(c.what, c.name, c.req); err != nil {
			return nil, err
		}
	}
	for _, fld := range m.Fields {
		if err := need("field", fld, true); err != nil {
			return nil, err
		}
	}
	layouts := m.DateLayouts
	if len(layouts) == 0 {
		layouts = []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02", "02.01.2006 15:04", "02.01.2006"}
	}
	loc := m.Location
	if loc == nil {
		loc = time.UTC
	}
	res := &Result{}
	line := 1
	for {
		rec, err := cr.Read()
		line++
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				res.Errors = append(res.Errors, RowError{Line: pe.Line, Reason: pe.Err.Error()})
				line = pe.Line
				continue
			}
			return nil, err
		}
		res.Rows++
		get := func(name string) string {
			if name == "" {
				return ""
			}
			if i := col[name]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		events, reason := m.row(get, p, first, layouts, loc, line)
		if reason != "" {
			res.Errors = append(res.Errors, RowError{Line: line, Reason: reason})
			continue
		}
		res.Events = append(res.Events, events...)
	}
	return res, nil
}

func (m *Mapping) row(get func(string) string, p *funnelwatch.Pipeline, first *funnelwatch.Stage, layouts []string, loc *time.Location, line int) ([]funnelwatch.Event, string) {
	id := get(m.ID)
	if id == "" {
		return nil, fmt.Sprintf("empty id (column %s)", m.ID)
	}
	raw := get(m.Stage)
	sid := raw
	if mapped, ok := m.Stages[raw]; ok {
		sid = mapped
	}
	stage, ok := p.Stage(sid)
	if !ok {
		return nil, fmt.Sprintf("stage %q (column %s) maps to no stage of pipeline %q", raw, m.Stage, p.ID)
	}
	parse := func(col, v string) (time.Time, string) {
		for _, l := range layouts {
			if t, err := time.ParseInLocation(l, v, loc); err == nil {
				return t, ""
			}
		}
		return time.Time{}, fmt.Sprintf("bad date %q in column %s (layouts %s)", v, col, strings.Join(layouts, ", "))
	}
	var created, closed time.Time
	if v := get(m.Created); v != "" {
		var reason string
		if created, reason = parse(m.Created, v); reason != "" {
			return nil, reason
		}
	}
	if v := get(m.Closed); v != "" {
		var reason string
		if closed, reason = parse(m.Closed, v); reason != "" {
			return nil, reason
		}
	}
	if created.IsZero() {
		created = m.MissingCreated
	}
	if created.IsZero() {
		return nil, fmt.Sprintf("no creation date (column %s is empty); give a default for such rows", m.Created)
	}
	if !closed.IsZero() && closed.Before(created) {
		return nil, fmt.Sprintf("closed %s before created %s", closed.Format("2006-01-02"), created.Format("2006-01-02"))
	}
	var amount float64
	if v := get(m.Amount); v != "" {
		a, err := strconv.ParseFloat(strings.ReplaceAll(strings.ReplaceAll(v, " ", ""), ",", "."), 64)
		if err != nil || a < 0 {
			return nil, fmt.Sprintf("bad amount %q in column %s", v, m.Amount)
		}
		amount = a
	}
	responsible := ""
	if v := get(m.Responsible); v != "" {
		responsible = v
		if u, ok := m.Users[v]; ok {
			responsible = u
		} else {
			responsible = Slug(v)
		}
	}
	deal := &funnelwatch.DealPayload{ID: id, Pipeline: p.ID, Stage: stage.ID, Responsible: responsible,
		Amount: amount, Source: get(m.Source), Name: get(m.Name)}
	if ph, em := get(m.Phone), get(m.Email); ph != "" || em != "" {
		deal.Contact = &funnelwatch.ContactInfo{Name: deal.Name, Phone: ph, Email: em}
	}
	for _, f := range m.Fields {
		if v := get(f); v != "" {
			if deal.Fields == nil {
				deal.Fields = map[string]any{}
			}
			deal.Fields[f] = v
		}
	}
	prefix := m.EventPrefix + id
	if !stage.Type.Closed() {
		return []funnelwatch.Event{{ID: prefix + ":created", Type: funnelwatch.EventDealCreated, At: created, Deal: deal}}, ""
	}
	// A closed deal was open first: create it on the first open stage and
	// close it at its close date (its creation date when there is none).
	deal.Stage = first.ID
	if closed.IsZero() {
		closed = created
	}
	return []funnelwatch.Event{
		{ID: prefix + ":created", Type: funnelwatch.EventDealCreated, At: created, Deal: deal},
		{ID: prefix + ":closed", Type: funnelwatch.EventDealStageChanged, At: closed, DealID: id, ToStage: stage.ID, LossReason: get(m.LossReason)},
	}, ""
}

// Slug turns a person's name into a user id: lower-case latin letters,
// digits and underscores ("Moses Frase" → "moses_frase").
func Slug(name string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
			under = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteString(translit(r))
			under = false
		case !under && b.Len() > 0:
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// translit spells a Cyrillic letter in latin (GOST-like, simplified), so
// that Russian names slug to readable ids.
func translit(r rune) string {
	const from = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
	to := []string{"a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"}
	i := 0
	for _, f := range from {
		if f == r {
			return to[i]
		}
		i++
	}
	return ""
}
