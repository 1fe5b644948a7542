package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
)

// perPage is the length of a page of findings.
const perPage = 50

type violationsData struct {
	Filter  violationQuery
	Items   []violationLine
	Total   int
	Page    int
	Prev    string
	Next    string
	Rules   []option
	Stages  []option
	Users   []option
	Message string
}

type option struct{ Value, Label string }

// violationQuery is the filter as the page's form writes it: days are
// dates in the workspace's timezone, the last one included.
type violationQuery struct {
	Rule, Stage, User, Severity, Open, From, To, Deal string
}

type violationLine struct {
	*funnelwatch.Violation
	RuleName funnelwatch.Text
	Deal     dealRef
	Evidence []option
}

// ruleName is what a rule is called on the pages: the file's message
// when it gives one, else the catalogue's; the id when neither.
func (s *Server) ruleName(rule string) funnelwatch.Text {
	if s.Regulations != nil {
		for _, q := range s.Regulations.Quality {
			if q.ID == rule && q.Message != "" {
				return funnelwatch.Text{RU: q.Message, EN: q.Message}
			}
		}
	}
	return ruleName(rule)
}

// ruleName is the catalogue's name of a rule, the id when it has none.
func ruleName(rule string) funnelwatch.Text {
	if t, ok := engine.Catalogue[rule]; ok {
		return funnelwatch.Text{RU: t.Message.RU, EN: t.Message.EN}
	}
	return funnelwatch.Text{RU: rule, EN: rule}
}

func (s *Server) parseViolationQuery(q url.Values) (violationQuery, funnelwatch.ViolationFilter, error) {
	vq := violationQuery{Rule: q.Get("rule"), Stage: q.Get("stage"), User: q.Get("user"), Severity: q.Get("severity"),
		Open: q.Get("open"), From: q.Get("from"), To: q.Get("to"), Deal: q.Get("deal")}
	f := funnelwatch.ViolationFilter{Rule: vq.Rule, Stage: vq.Stage, User: vq.User, DealID: vq.Deal,
		Severity: funnelwatch.Severity(vq.Severity)}
	switch f.Severity {
	case "", funnelwatch.SeverityViolation, funnelwatch.SeverityRemark:
	default:
		return vq, f, fmt.Errorf("severity: %q", vq.Severity)
	}
	switch vq.Open {
	case "true", "false":
		open := vq.Open == "true"
		f.Open = &open
	case "":
	default:
		return vq, f, fmt.Errorf("open: %q", vq.Open)
	}
	var err error
	if vq.From != "" {
		if f.From, err = time.ParseInLocation(time.DateOnly, vq.From, s.loc()); err != nil {
			return vq, f, fmt.Errorf("from: %q", vq.From)
		}
	}
	if vq.To != "" {
		var to time.Time
		if to, err = time.ParseInLocation(time.DateOnly, vq.To, s.loc()); err != nil {
			return vq, f, fmt.Errorf("to: %q", vq.To)
		}
		f.To = to.AddDate(0, 0, 1) // the last day is included
	}
	return vq, f, nil
}

func (s *Server) violationsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	vq, f, err := s.parseViolationQuery(q)
	d := violationsData{Filter: vq}
	if err != nil {
		d.Message = err.Error()
	}
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = max(d.Page, 1)
	if err := s.catchUp(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	var found []*funnelwatch.Violation
	var deals map[string]dealRef
	if d.Message == "" {
		err = s.Store.View(r.Context(), s.Workspace, func(tx funnelwatch.ReadTx) error {
			stx := scoped(tx, c.scope)
			var err error
			if d.Total, err = stx.CountViolations(r.Context(), f); err != nil {
				return err
			}
			// Newest first, a page at a time: the first page of a week's
			// 190,000 findings reads 25 of them.
			if (d.Page-1)*perPage >= d.Total {
				return nil
			}
			f.Newest, f.Offset, f.Limit = true, (d.Page-1)*perPage, perPage
			if found, err = stx.Violations(r.Context(), f); err != nil {
				return err
			}
			deals, err = findingDeals(r, tx, c, found)
			return err
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	for _, v := range found {
		d.Items = append(d.Items, violationLine{Violation: v, RuleName: s.ruleName(v.Rule), Deal: deals[v.DealID], Evidence: s.evidence(v.Evidence)})
	}
	pageURL := func(p int) string { return withParam(r, "page", strconv.Itoa(p)) }
	if d.Page > 1 {
		d.Prev = pageURL(d.Page - 1)
	}
	if d.Page*perPage < d.Total {
		d.Next = pageURL(d.Page + 1)
	}
	d.Rules, d.Stages, d.Users = s.filterOptions(c)
	s.render(w, r, c, http.StatusOK, "violations.html", view{Nav: "violations", Title: tr(c.lang, "viol.title"), Data: d})
}

// findingDeals reads the deals of the findings in one read.
func findingDeals(r *http.Request, tx funnelwatch.ReadTx, c *reqCtx, vs []*funnelwatch.Violation) (map[string]dealRef, error) {
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.DealID)
	}
	return dealRefs(r, tx, c, ids)
}

// filterOptions are the choices of the filter form: the rules of the
// catalogue and the file, the stages, the users of the scope.
func (s *Server) filterOptions(c *reqCtx) (rules, stages, users []option) {
	seen := map[string]bool{}
	if s.Regulations != nil {
		for _, q := range s.Regulations.Quality {
			if !seen[q.ID] {
				seen[q.ID] = true
				rules = append(rules, option{q.ID, q.ID})
			}
		}
	}
	for id := range engine.Catalogue {
		if !seen[id] {
			rules = append(rules, option{id, id})
		}
	}
	slices.SortFunc(rules, func(a, b option) int { return strings.Compare(a.Value, b.Value) })
	for _, p := range s.Funnel.Pipelines {
		for _, st := range p.Stages {
			if st.Type == funnelwatch.StageOpen {
				stages = append(stages, option{st.Ref(), p.Name + " → " + st.Name})
			}
		}
	}
	for _, u := range s.Funnel.Users {
		if c.scope.Sees(u.ID) {
			users = append(users, option{u.ID, u.Name})
		}
	}
	return rules, stages, users
}

// evidence lists a finding's evidence object as key, value lines, in the
// order the engine wrote them; times are shown in the company's timezone.
func (s *Server) evidence(raw json.RawMessage) []option {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var out []option
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return out
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return out
		}
		val := string(v)
		var str string
		if json.Unmarshal(v, &str) == nil {
			val = str
			if t, err := time.Parse(time.RFC3339, str); err == nil {
				val = t.In(s.loc()).Format("02.01.2006 15:04")
			}
		}
		out = append(out, option{fmt.Sprint(k), val})
	}
	return out
}

// withParam is the link to the requested page with one query parameter
// set and the others kept, the language aside (it is the user's, kept
// in a cookie).
func withParam(r *http.Request, key, value string) string {
	q := r.URL.Query()
	q.Del("lang")
	q.Set(key, value)
	return r.URL.Path + "?" + q.Encode()
}
