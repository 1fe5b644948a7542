package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// ActionRecordView is an action of the outbox as the API shows it: what
// an automation decided and where its delivery is.
type ActionRecordView struct {
	Key           string                   `json:"key"`
	Type          string                   `json:"type"`
	Rule          string                   `json:"rule"`
	DealID        string                   `json:"deal_id"`
	At            time.Time                `json:"at"`
	Status        funnelwatch.ActionStatus `json:"status"`
	Attempts      int                      `json:"attempts"`
	NextAttemptAt *time.Time               `json:"next_attempt_at"`
	LastError     string                   `json:"last_error,omitempty"`
	DoneAt        *time.Time               `json:"done_at"`
	Action        json.RawMessage          `json:"action"`
	// Notices are a notice's or report's deliveries, one per target
	// (a Telegram chat, an e-mail address, an unreachable user).
	Notices []NoticeView `json:"notices,omitempty"`
}

// NoticeView is one target's delivery of a notice.
type NoticeView struct {
	Target string                   `json:"target"`
	User   string                   `json:"user,omitempty"`
	Status funnelwatch.NoticeStatus `json:"status"`
	At     time.Time                `json:"at"`
	Error  string                   `json:"error,omitempty"`
}

func actionViewOf(a *funnelwatch.ActionRecord) ActionRecordView {
	payload := a.Payload
	if t := bytes.TrimSpace(payload); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		payload = json.RawMessage(`{}`)
	}
	v := ActionRecordView{Key: a.Key, Type: a.Type, Rule: a.Rule, DealID: a.DealID, At: a.At, Status: a.Status,
		Attempts: a.Attempts, LastError: a.LastError, DoneAt: a.DoneAt, Action: payload}
	if a.Status == funnelwatch.ActionPending && !a.NextAttemptAt.IsZero() {
		next := a.NextAttemptAt
		v.NextAttemptAt = &next
	}
	return v
}

// listActions serves GET /api/v1/actions?deal_id=&rule=&type=&status=:
// the outbox, by time.
func (s *Server) listActions(w http.ResponseWriter, r *http.Request) {
	offset, limit, err := pageParams(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	q := r.URL.Query()
	f := funnelwatch.ActionFilter{DealID: q.Get("deal_id"), Rule: q.Get("rule"), Type: q.Get("type"),
		Status: funnelwatch.ActionStatus(q.Get("status")), Offset: offset, Limit: limit + 1}
	switch f.Status {
	case "", funnelwatch.ActionObserved, funnelwatch.ActionPending, funnelwatch.ActionDone, funnelwatch.ActionFailed:
	default:
		s.error(w, r, funnelwatch.Errorf(funnelwatch.EINVALID, "status must be observed, pending, done or failed, not %q", f.Status))
		return
	}
	var found []*funnelwatch.ActionRecord
	var notices []*funnelwatch.Notice
	err = s.view(r.Context(), func(tx funnelwatch.ReadTx) error {
		found, err = tx.Actions(r.Context(), f)
		if err != nil {
			return err
		}
		var keys []string
		for _, a := range found[:min(len(found), limit)] {
			if a.Type == "notify" || a.Type == "report" {
				keys = append(keys, a.Key)
			}
		}
		if len(keys) > 0 {
			notices, err = tx.Notices(r.Context(), funnelwatch.NoticeFilter{ActionKeys: keys})
		}
		return err
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	byAction := map[string][]NoticeView{}
	for _, n := range notices {
		byAction[n.ActionKey] = append(byAction[n.ActionKey], NoticeView{Target: n.Target, User: n.User, Status: n.Status, At: n.At, Error: n.Error})
	}
	views := make([]ActionRecordView, len(found))
	for i, a := range found {
		views[i] = actionViewOf(a)
		views[i].Notices = byAction[a.Key]
	}
	writeJSON(w, http.StatusOK, page(views, offset, limit))
}
