package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/funnelwatch/funnelwatch"
)

// InsertCall stores a call.
func (tx *Tx) InsertCall(ctx context.Context, c *funnelwatch.Call) error {
	_, err := tx.exec(ctx, `INSERT INTO calls (workspace_id, id, user_id, deal_id, direction, phone, started_at,
			duration_s, answered, recording_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (workspace_id, id) DO UPDATE SET user_id = excluded.user_id, deal_id = excluded.deal_id,
			direction = excluded.direction, phone = excluded.phone, started_at = excluded.started_at,
			duration_s = excluded.duration_s, answered = excluded.answered, recording_url = excluded.recording_url`,
		tx.ws, c.ID, c.User, c.DealID, c.Direction, c.Phone, micros(c.StartedAt), c.DurationS,
		boolInt(c.Answered), c.RecordingURL)
	if err != nil {
		return fmt.Errorf("insert call %s: %w", c.ID, err)
	}
	return nil
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

// InsertNote stores a note.
func (tx *Tx) InsertNote(ctx context.Context, n *funnelwatch.Note) error {
	_, err := tx.exec(ctx, `INSERT INTO notes (workspace_id, id, deal_id, author, text, at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (workspace_id, id) DO UPDATE SET deal_id = excluded.deal_id, author = excluded.author,
			text = excluded.text, at = excluded.at`,
		tx.ws, n.ID, n.DealID, n.Author, n.Text, micros(n.At))
	if err != nil {
		return fmt.Errorf("insert note %s: %w", n.ID, err)
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

// SaveContact inserts the contact or merges it into the stored one.
func (tx *Tx) SaveContact(ctx context.Context, c *funnelwatch.Contact) error {
	merged := *c
	old, err := tx.Contact(ctx, c.ID)
	switch {
	case err == nil:
		if merged.Name == "" {
			merged.Name = old.Name
		}
		merged.Phones = union(old.Phones, c.Phones)
		merged.Emails = union(old.Emails, c.Emails)
	case funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND:
		return err
	}
	phones, _ := json.Marshal(nonNil(merged.Phones))
	emails, _ := json.Marshal(nonNil(merged.Emails))
	_, err = tx.exec(ctx, `INSERT INTO contacts (workspace_id, id, name, phones, emails) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (workspace_id, id) DO UPDATE SET name = excluded.name, phones = excluded.phones, emails = excluded.emails`,
		tx.ws, merged.ID, merged.Name, string(phones), string(emails))
	if err != nil {
		return fmt.Errorf("save contact %s: %w", c.ID, err)
	}
	return nil
}

// Contact returns one contact.
func (tx *Tx) Contact(ctx context.Context, id string) (*funnelwatch.Contact, error) {
	row, err := tx.queryRow(ctx, `SELECT id, name, phones, emails FROM contacts WHERE workspace_id = ? AND id = ?`, tx.ws, id)
	if err != nil {
		return nil, err
	}
	var c funnelwatch.Contact
	var phones, emails string
	if err := row.Scan(&c.ID, &c.Name, &phones, &emails); err != nil {
		return nil, notFound(err, "contact %q not found", id)
	}
	if err := json.Unmarshal([]byte(phones), &c.Phones); err != nil {
		return nil, fmt.Errorf("decode phones of contact %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(emails), &c.Emails); err != nil {
		return nil, fmt.Errorf("decode e-mails of contact %s: %w", id, err)
	}
	return &c, nil
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
