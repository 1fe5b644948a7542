package api

import (
	"net/http"
	"strconv"

	"github.com/funnelwatch/funnelwatch"
)

// Page is one page of a list.
type Page[T any] struct {
	Items  []T `json:"items"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
	// NextOffset is where the next page starts; absent on the last page.
	NextOffset *int `json:"next_offset,omitempty"`
}

const (
	defaultLimit = 100
	maxLimit     = 1000
)

// pageParams reads limit and offset from the query.
func pageParams(r *http.Request) (offset, limit int, err error) {
	limit = defaultLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxLimit {
			return 0, 0, funnelwatch.Errorf(funnelwatch.EINVALID, "limit must be 1..%d", maxLimit)
		}
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, funnelwatch.Errorf(funnelwatch.EINVALID, "offset must be a non-negative integer")
		}
	}
	return offset, limit, nil
}

// page trims one extra fetched item into NextOffset.
func page[T any](items []T, offset, limit int) Page[T] {
	p := Page[T]{Items: items, Offset: offset, Limit: limit}
	if len(items) > limit {
		p.Items = items[:limit]
		next := offset + limit
		p.NextOffset = &next
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p
}

// DealView is a deal with what hangs on it.
type DealView struct {
	*funnelwatch.Deal
	Contact *funnelwatch.Contact `json:"contact,omitempty"`
	Tasks   []*funnelwatch.Task  `json:"tasks"`
	Calls   []*funnelwatch.Call  `json:"calls"`
	Notes   []*funnelwatch.Note  `json:"notes"`
}

func (s *Server) getDeal(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var v DealView
	err := s.view(r.Context(), func(tx funnelwatch.ReadTx) error {
		d, err := tx.Deal(r.Context(), id)
		if err != nil {
			return err
		}
		v.Deal = d
		if d.ContactID != "" {
			if v.Contact, err = tx.Contact(r.Context(), d.ContactID); err != nil && funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
				return err
			}
		}
		if v.Tasks, err = tx.Tasks(r.Context(), funnelwatch.TaskFilter{DealID: id}); err != nil {
			return err
		}
		if v.Calls, err = tx.Calls(r.Context(), id); err != nil {
			return err
		}
		v.Notes, err = tx.Notes(r.Context(), id)
		return err
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	v.Tasks, v.Calls, v.Notes = nonNil(v.Tasks), nonNil(v.Calls), nonNil(v.Notes)
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) listDeals(w http.ResponseWriter, r *http.Request) {
	offset, limit, err := pageParams(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	q := r.URL.Query()
	f := funnelwatch.DealFilter{Pipeline: q.Get("pipeline"), Stage: q.Get("stage"), Responsible: q.Get("responsible"),
		Status: funnelwatch.DealStatus(q.Get("status")), Offset: offset, Limit: limit + 1}
	var deals []*funnelwatch.Deal
	err = s.view(r.Context(), func(tx funnelwatch.ReadTx) error {
		deals, err = tx.Deals(r.Context(), f)
		return err
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page(deals, offset, limit))
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	offset, limit, err := pageParams(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	q := r.URL.Query()
	f := funnelwatch.TaskFilter{DealID: q.Get("deal_id"), Assignee: q.Get("assignee"), Offset: offset, Limit: limit + 1}
	if v := q.Get("open"); v != "" {
		open, perr := strconv.ParseBool(v)
		if perr != nil {
			s.error(w, r, funnelwatch.Errorf(funnelwatch.EINVALID, "open must be true or false"))
			return
		}
		f.Open = &open
	}
	var tasks []*funnelwatch.Task
	err = s.view(r.Context(), func(tx funnelwatch.ReadTx) error {
		tasks, err = tx.Tasks(r.Context(), f)
		return err
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page(tasks, offset, limit))
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
