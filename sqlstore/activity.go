package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/funnelwatch/funnelwatch"
)

// InsertCalls stores calls; a repeated id replaces the call.
func (tx *Tx) InsertCalls(ctx context.Context, calls ...*funnelwatch.Call) error {
	rows := make([][]any, 0, len(calls))
	for _, c := range lastByID(calls, func(c *funnelwatch.Call) string { return c.ID }) {
		rows = append(rows, []any{c.ID, c.User, c.DealID, c.Direction, c.Phone, micros(c.StartedAt), c.DurationS,
			boolInt(c.Answered), c.RecordingURL})
	}
	cols := []string{"id", "user_id", "deal_id", "direction", "phone", "started_at", "duration_s", "answered", "recording_url"}
	if err := tx.upsert(ctx, "calls", cols, nil, rows); err != nil {
		return fmt.Errorf("insert calls: %w", err)
	}
	return nil
}

// lastByID keeps the last of items sharing an id, in first-seen order: a
// multi-row upsert may not touch one row twice.
func lastByID[T any](items []T, id func(T) string) []T {
	pos := make(map[string]int, len(items))
	out := make([]T, 0, len(items))
	for _, it := range items {
		if i, ok := pos[id(it)]; ok {
			out[i] = it
			continue
		}
		pos[id(it)] = len(out)
		out = append(out, it)
	}
	return out
}

// Calls lists a deal's calls in time order.
func (tx *Tx) Calls(ctx context.Context, dealID string) ([]*funnelwatch.Call, error) {
	rows, err := tx.query(ctx, `SELECT id, user_id, deal_id, direction, phone, started_at, duration_s, answered,
		recording_url FROM calls WHERE workspace_id = ? AND deal_id = ? ORDER BY started_at, id`, tx.ws, dealID)
	if err != nil {
		return nil, fmt.Errorf("calls of %s: %w", dealID, err)
	}
	defer rows.Close()
	var out []*funnelwatch.Call
	for rows.Next() {
		var c funnelwatch.Call
		var started int64
		var answered int
		if err := rows.Scan(&c.ID, &c.User, &c.DealID, &c.Direction, &c.Phone, &started, &c.DurationS,
			&answered, &c.RecordingURL); err != nil {
			return nil, err
		}
		c.StartedAt = fromMicros(started)
		c.Answered = answered != 0
		out = append(out, &c)
	}
	return out, rows.Err()
}

// InsertNotes stores notes; a repeated id replaces the note.
func (tx *Tx) InsertNotes(ctx context.Context, notes ...*funnelwatch.Note) error {
	rows := make([][]any, 0, len(notes))
	for _, n := range lastByID(notes, func(n *funnelwatch.Note) string { return n.ID }) {
		rows = append(rows, []any{n.ID, n.DealID, n.Author, n.Text, micros(n.At)})
	}
	if err := tx.upsert(ctx, "notes", []string{"id", "deal_id", "author", "text", "at"}, nil, rows); err != nil {
		return fmt.Errorf("insert notes: %w", err)
	}
	return nil
}

// Notes lists a deal's notes in time order.
func (tx *Tx) Notes(ctx context.Context, dealID string) ([]*funnelwatch.Note, error) {
	rows, err := tx.query(ctx, `SELECT id, deal_id, author, text, at FROM notes
		WHERE workspace_id = ? AND deal_id = ? ORDER BY at, id`, tx.ws, dealID)
	if err != nil {
		return nil, fmt.Errorf("notes of %s: %w", dealID, err)
	}
	defer rows.Close()
	var out []*funnelwatch.Note
	for rows.Next() {
		var n funnelwatch.Note
		var at int64
		if err := rows.Scan(&n.ID, &n.DealID, &n.Author, &n.Text, &at); err != nil {
			return nil, err
		}
		n.At = fromMicros(at)
		out = append(out, &n)
	}
	return out, rows.Err()
}

// SaveContacts inserts contacts or merges them into the stored ones: the
// name is kept when the new one is empty, phones and e-mails are united.
func (tx *Tx) SaveContacts(ctx context.Context, contacts ...*funnelwatch.Contact) error {
	if len(contacts) == 0 {
		return nil
	}
	merged := map[string]*funnelwatch.Contact{}
	var order []string
	for _, c := range contacts {
		m, ok := merged[c.ID]
		if !ok {
			cp := *c
			merged[c.ID] = &cp
			order = append(order, c.ID)
			continue
		}
		mergeContact(m, c)
	}
	err := chunked(order, func(ids []string) error {
		args := []any{tx.ws}
		for _, id := range ids {
			args = append(args, id)
		}
		rows, err := tx.run.QueryContext(ctx, tx.s.q(`SELECT id, name, phones, emails FROM contacts WHERE workspace_id = ? AND id IN `+placeholders(1, len(ids))), args...)
		if err != nil {
			return err
		}
		stored, err := scanContacts(rows)
		if err != nil {
			return err
		}
		for _, old := range stored {
			m := merged[old.ID]
			mergeContact(old, m)
			merged[old.ID] = old
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save contacts: %w", err)
	}
	rows := make([][]any, 0, len(order))
	for _, id := range order {
		c := merged[id]
		phones, _ := json.Marshal(nonNil(c.Phones))
		emails, _ := json.Marshal(nonNil(c.Emails))
		rows = append(rows, []any{c.ID, c.Name, string(phones), string(emails)})
	}
	if err := tx.upsert(ctx, "contacts", []string{"id", "name", "phones", "emails"}, nil, rows); err != nil {
		return fmt.Errorf("save contacts: %w", err)
	}
	return nil
}

// mergeContact folds newer into c.
func mergeContact(c, newer *funnelwatch.Contact) {
	if newer.Name != "" {
		c.Name = newer.Name
	}
	c.Phones = union(c.Phones, newer.Phones)
	c.Emails = union(c.Emails, newer.Emails)
}

// Contact returns one contact.
func (tx *Tx) Contact(ctx context.Context, id string) (*funnelwatch.Contact, error) {
	rows, err := tx.query(ctx, `SELECT id, name, phones, emails FROM contacts WHERE workspace_id = ? AND id = ?`, tx.ws, id)
	if err != nil {
		return nil, fmt.Errorf("contact %s: %w", id, err)
	}
	cs, err := scanContacts(rows)
	if err != nil {
		return nil, fmt.Errorf("contact %s: %w", id, err)
	}
	if len(cs) == 0 {
		return nil, funnelwatch.Errorf(funnelwatch.ENOTFOUND, "contact %q not found", id)
	}
	return cs[0], nil
}

func scanContacts(rows *sql.Rows) ([]*funnelwatch.Contact, error) {
	defer rows.Close()
	var out []*funnelwatch.Contact
	for rows.Next() {
		var c funnelwatch.Contact
		var phones, emails string
		if err := rows.Scan(&c.ID, &c.Name, &phones, &emails); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(phones), &c.Phones); err != nil {
			return nil, fmt.Errorf("decode phones of contact %s: %w", c.ID, err)
		}
		if err := json.Unmarshal([]byte(emails), &c.Emails); err != nil {
			return nil, fmt.Errorf("decode e-mails of contact %s: %w", c.ID, err)
		}
		out = append(out, &c)
	}
	return out, rows.Err()
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
