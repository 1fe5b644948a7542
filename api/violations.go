package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// ViolationView is a finding of a quality rule as the API shows it.
type ViolationView struct {
	ID             string               `json:"id"`
	Rule           string               `json:"rule"`
	Severity       funnelwatch.Severity `json:"severity"`
	Metric         string               `json:"metric,omitempty"`
	DealID         string               `json:"deal_id"`
	TaskID         string               `json:"task_id,omitempty"`
	CallID         string               `json:"call_id,omitempty"`
	User           string               `json:"user"`
	Pipeline       string               `json:"pipeline"`
	Stage          string               `json:"stage"`
	OpenedAt       time.Time            `json:"opened_at"`
	ResolvedAt     *time.Time           `json:"resolved_at"`
	Open           bool                 `json:"open"`
	Message        funnelwatch.Text     `json:"message"`
	Recommendation funnelwatch.Text     `json:"recommendation"`
	Evidence       json.RawMessage      `json:"evidence"`
	Amount         float64              `json:"amount"`
	WinRate        float64              `json:"win_rate"`
	MoneyAtRisk    float64              `json:"money_at_risk"`
}

func viewOf(v *funnelwatch.Violation) ViolationView {
	evidence := v.Evidence
	if t := bytes.TrimSpace(evidence); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		evidence = json.RawMessage(`{}`) // always an object, for clients that index it
	}
	return ViolationView{ID: v.ID, Rule: v.Rule, Severity: v.Severity, Metric: v.Metric, DealID: v.DealID, TaskID: v.TaskID,
		CallID: v.CallID, User: v.User, Pipeline: v.Pipeline, Stage: v.Stage, OpenedAt: v.OpenedAt, ResolvedAt: v.ResolvedAt,
		Open: v.Open(), Message: v.Message, Recommendation: v.Recommendation, Evidence: evidence, Amount: v.Amount,
		WinRate: v.WinRate, MoneyAtRisk: v.MoneyAtRisk}
}

// ViolationPage is a page of findings with the number of all the filter
// selects.
type ViolationPage struct {
	Page[ViolationView]
	Total int `json:"total"`
}

func (s *Server) listViolations(w http.ResponseWriter, r *http.Request) {
	offset, limit, err := pageParams(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	f, err := violationFilter(r.URL.Query())
	if err != nil {
		s.error(w, r, err)
		return
	}
	f.Offset, f.Limit = offset, limit+1
	var (
		found []*funnelwatch.Violation
		total int
	)
	err = s.view(r.Context(), func(tx funnelwatch.ReadTx) error {
		if found, err = tx.Violations(r.Context(), f); err != nil {
			return err
		}
		total, err = tx.CountViolations(r.Context(), f)
		return err
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	views := make([]ViolationView, len(found))
	for i, v := range found {
		views[i] = viewOf(v)
	}
	writeJSON(w, http.StatusOK, ViolationPage{Page: page(views, offset, limit), Total: total})
}

// violationFilter reads the filter of /violations from the query: from
// and to select the findings opened in the period, open_at those open at
// an instant, open those open now or resolved.
func violationFilter(q url.Values) (funnelwatch.ViolationFilter, error) {
	f := funnelwatch.ViolationFilter{DealID: q.Get("deal_id"), User: q.Get("user"), Rule: q.Get("rule"), Stage: q.Get("stage"),
		Severity: funnelwatch.Severity(q.Get("severity"))}
	switch f.Severity {
	case "", funnelwatch.SeverityViolation, funnelwatch.SeverityRemark:
	default:
		return f, funnelwatch.Errorf(funnelwatch.EINVALID, "severity must be violation or remark, not %q", f.Severity)
	}
	if v := q.Get("open"); v != "" {
		open, err := strconv.ParseBool(v)
		if err != nil {
			return f, funnelwatch.Errorf(funnelwatch.EINVALID, "open must be true or false")
		}
		f.Open = &open
	}
	var err error
	if f.From, err = timeParam(q, "from"); err != nil {
		return f, err
	}
	if f.To, err = timeParam(q, "to"); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, funnelwatch.Errorf(funnelwatch.EINVALID, "from must be before to")
	}
	if f.OpenAt, err = timeParam(q, "open_at"); err != nil {
		return f, err
	}
	return f, nil
}

// timeParam reads an RFC 3339 time from the query; zero when absent.
func timeParam(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil && strings.Contains(v, " ") {
		// An offset's "+" left unescaped in a URL arrives as a space.
		t, err = time.Parse(time.RFC3339, strings.Replace(v, " ", "+", 1))
	}
	if err != nil {
		return time.Time{}, funnelwatch.Errorf(funnelwatch.EINVALID, "%s must be an RFC 3339 time such as 2026-11-02T00:00:00+03:00, not %q", name, v)
	}
	return t, nil
}
