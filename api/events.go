package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
)

// IngestResponse is the answer to POST /api/v1/events.
type IngestResponse struct {
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Duplicate  int         `json:"duplicate"` // the same count, for clients that use the singular
	Rejected   int         `json:"rejected"`
	Errors     []Rejection `json:"errors"`
}

// Rejection names a rejected event and why.
type Rejection struct {
	Index  int    `json:"index"` // 0-based position in the batch (line for NDJSON, counting non-empty lines)
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) {
	limit := s.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		s.error(w, r, funnelwatch.Errorf(funnelwatch.ETOOLARGE, "request body over %d bytes: send smaller batches", limit))
		return
	case err != nil:
		s.error(w, r, funnelwatch.Errorf(funnelwatch.EINVALID, "reading body: %v", err))
		return
	}
	raws, err := SplitBatch(body, r.Header.Get("Content-Type"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	resp, err := Ingest(r.Context(), s.Ingestor, raws)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// Ingest decodes each raw event, ingests the well-formed ones in one
// batch and reports the fate of every event.
func Ingest(ctx context.Context, in *engine.Ingestor, raws []json.RawMessage) (*IngestResponse, error) {
	resp := &IngestResponse{Errors: []Rejection{}}
	events := make([]funnelwatch.Event, 0, len(raws))
	pos := make([]int, 0, len(raws))
	for i, raw := range raws {
		e, err := funnelwatch.DecodeEvent(raw)
		if err != nil {
			resp.Errors = append(resp.Errors, Rejection{Index: i, ID: peekID(raw), Reason: funnelwatch.ErrorMessage(err)})
			continue
		}
		events = append(events, e)
		pos = append(pos, i)
	}
	res, err := in.Ingest(ctx, events)
	if err != nil {
		return nil, err
	}
	for j, o := range res.Outcomes {
		switch o {
		case engine.Accepted:
			resp.Accepted++
		case engine.Duplicate:
			resp.Duplicates++
		case engine.Rejected:
			resp.Errors = append(resp.Errors, Rejection{Index: pos[j], ID: events[j].ID, Reason: res.Reasons[j]})
		}
	}
	slices.SortFunc(resp.Errors, func(a, b Rejection) int { return a.Index - b.Index })
	resp.Duplicate = resp.Duplicates
	resp.Rejected = len(resp.Errors)
	return resp, nil
}

// SplitBatch splits a request body into raw events: NDJSON (one event per
// non-empty line) when the content type says so, else a JSON array of
// events or a single event object. A malformed line of NDJSON is kept as
// it is and rejected on its own later; a JSON array must parse as a whole.
func SplitBatch(body []byte, contentType string) ([]json.RawMessage, error) {
	if isNDJSON(contentType) {
		return splitLines(body)
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return nil, funnelwatch.Errorf(funnelwatch.EINVALID, "empty body: send a JSON array of events or NDJSON")
	case trimmed[0] == '{':
		if json.Valid(trimmed) {
			return []json.RawMessage{trimmed}, nil
		}
		// Several objects without a content type: treat as NDJSON.
		return splitLines(body)
	case trimmed[0] != '[':
		return nil, funnelwatch.Errorf(funnelwatch.EINVALID, "body must be a JSON array of events, or NDJSON with Content-Type: application/x-ndjson")
	}
	if json.Valid(trimmed) {
		raws := splitArray(trimmed)
		if len(raws) == 0 {
			return nil, funnelwatch.Errorf(funnelwatch.EINVALID, "empty batch: the array has no events")
		}
		return raws, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(trimmed, &raws); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, funnelwatch.Errorf(funnelwatch.EINVALID, "malformed JSON array at byte %d: %v", se.Offset, se)
		}
		return nil, funnelwatch.Errorf(funnelwatch.EINVALID, "malformed JSON array: %v", err)
	}
	if len(raws) == 0 {
		return nil, funnelwatch.Errorf(funnelwatch.EINVALID, "empty batch: the array has no events")
	}
	return raws, nil
}

// splitArray returns the elements of a valid JSON array, each as
// json.Unmarshal into []json.RawMessage gives it (the value's bytes,
// without the space around it), but in one pass and without copying:
// the body stays the request's, and each event keeps a compact copy of
// its own (funnelwatch.DecodeEvent).
func splitArray(a []byte) []json.RawMessage {
	var raws []json.RawMessage
	i := skipSpace(a, 1) // past '['
	for a[i] != ']' {
		start, depth := i, 0
	value:
		for ; ; i++ {
			switch a[i] {
			case '"':
				for i++; a[i] != '"'; i++ {
					if a[i] == '\\' {
						i++
					}
				}
			case '{', '[':
				depth++
			case '}', ']':
				if depth == 0 {
					break value // the array's end
				}
				depth--
			case ',':
				if depth == 0 {
					break value
				}
			}
		}
		raws = append(raws, bytes.TrimRight(a[start:i], " \t\r\n"))
		if a[i] == ',' {
			i = skipSpace(a, i+1)
		}
	}
	return raws
}

// skipSpace returns the position of the first byte at or after i that is
// not JSON white space.
func skipSpace(a []byte, i int) int {
	for i < len(a) && (a[i] == ' ' || a[i] == '\t' || a[i] == '\r' || a[i] == '\n') {
		i++
	}
	return i
}

func isNDJSON(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.Contains(ct, "ndjson") || strings.Contains(ct, "jsonlines") || strings.Contains(ct, "json-seq")
}

func splitLines(body []byte) ([]json.RawMessage, error) {
	var raws []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), len(body)+1)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		raws = append(raws, json.RawMessage(bytes.Clone(line)))
	}
	if err := sc.Err(); err != nil {
		return nil, funnelwatch.Errorf(funnelwatch.EINVALID, "reading NDJSON: %v", err)
	}
	if len(raws) == 0 {
		return nil, funnelwatch.Errorf(funnelwatch.EINVALID, "empty body: no events")
	}
	return raws, nil
}

// peekID extracts the id of an event that failed to decode, so its
// rejection can name it.
func peekID(raw []byte) string {
	var v struct {
		ID any `json:"id"`
	}
	if err := json.Unmarshal(raw, &v); err == nil {
		if v.ID == nil {
			return ""
		}
		return fmt.Sprint(v.ID)
	}
	// Malformed JSON: the id is usually written first, so a cut-off line
	// still names it.
	if m := leadingID.FindSubmatch(raw); m != nil {
		return string(m[1])
	}
	return ""
}

var leadingID = regexp.MustCompile(`^\s*\{\s*"id"\s*:\s*"([^"\\]{1,200})"`)
