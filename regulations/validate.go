package regulations

import (
	"slices"
	"sort"
	"strings"
)

// refKind is what a reference names.
type refKind int

const (
	refStage    refKind = iota // "pipeline/stage"
	refPipeline                // pipeline id
	refUser                    // user id
	refRole                    // a role or sales role some user has
)

// ref is a reference met while decoding, checked once the whole file is
// read: a lifetime may move deals to a pipeline declared after it.
type ref struct {
	kind  refKind
	key   string
	at    pos
	value string
}

func (c *checker) ref(kind refKind, key string, at pos, value string) {
	c.refs = append(c.refs, ref{kind: kind, key: key, at: at, value: value})
}

// checkRefs reports references to things the file does not declare, and
// supervisors that are missing or go round in a circle.
func (c *checker) checkRefs() {
	f := &c.r.Funnel
	roles := map[string]bool{}
	for _, u := range f.Users {
		roles[string(u.Role)] = true
		if u.SalesRole != "" {
			roles[u.SalesRole] = true
		}
	}
	for _, r := range c.refs {
		switch r.kind {
		case refStage:
			if _, ok := f.ResolveStage("", r.value); ok {
				continue
			}
			p, _, _ := strings.Cut(r.value, "/")
			if _, ok := c.pipelines[p]; !ok {
				c.errorf(r.at, r.key, "unknown stage %q (there is no pipeline %s)", "неизвестный этап %q (воронки %s нет)", r.value, p)
			} else {
				c.errorf(r.at, r.key, "unknown stage %q", "неизвестный этап %q", r.value)
			}
		case refPipeline:
			if _, ok := c.pipelines[r.value]; !ok {
				c.errorf(r.at, r.key, "unknown pipeline %q", "неизвестная воронка %q", r.value)
			}
		case refUser:
			if _, ok := c.userAt[r.value]; !ok {
				c.errorf(r.at, r.key, "unknown user %q", "неизвестный пользователь %q", r.value)
			}
		case refRole:
			if !roles[r.value] {
				c.errorf(r.at, r.key, "unknown role %q: no user has it as role or sales_role",
					"неизвестная роль %q: ни у одного пользователя нет её ни в role, ни в sales_role", r.value)
			}
		}
	}
	c.checkSupervisors()
}

// checkSupervisors reports a supervisor who is not a user, and chains of
// supervisors that loop (escalation would never reach anyone above).
func (c *checker) checkSupervisors() {
	f := &c.r.Funnel
	index := map[string]int{}
	for i, u := range f.Users {
		index[u.ID] = i
	}
	reported := map[string]bool{}
	for i, u := range f.Users {
		if u.Supervisor == "" {
			continue
		}
		meta := c.users[i]
		key := meta.path + ".supervisor"
		if _, ok := index[u.Supervisor]; !ok {
			c.errorf(meta.supAt, key, "unknown supervisor %q: no user has this id",
				"неизвестный руководитель %q: пользователя с таким id нет", u.Supervisor)
			continue
		}
		// Follow the chain up from u; a loop through u is reported once,
		// at the first of its users in the file.
		chain := []string{u.ID}
		for cur := u.Supervisor; cur != ""; {
			if cur == u.ID {
				if !reported[u.ID] {
					for _, id := range chain {
						reported[id] = true
					}
					c.errorf(meta.supAt, key, "supervisor cycle: %s", "руководители замыкаются в круг: %s", strings.Join(append(chain, u.ID), " → "))
				}
				break
			}
			if slices.Contains(chain, cur) {
				break // a loop above u, reported at its own users
			}
			chain = append(chain, cur)
			j, ok := index[cur]
			if !ok {
				break
			}
			cur = f.Users[j].Supervisor
		}
	}
}

// sortAutomations puts the automations in file order: on_enter lists are
// read with their pipelines, explicit automations later, and the order in
// which several automations on one trigger act should be the order the
// administrator reads.
func sortAutomations(as []Automation) {
	sort.SliceStable(as, func(i, j int) bool { return as[i].Line < as[j].Line })
}

// AutomationByID returns the automation with the given id; a stage's entry
// automation has the id "pipeline.stage.on_enter".
func (r *Regulations) AutomationByID(id string) (*Automation, bool) {
	for i := range r.Automations {
		if r.Automations[i].ID == id {
			return &r.Automations[i], true
		}
	}
	return nil, false
}

// RuleByID returns the quality rule with the given id: a catalogue id such
// as "stage_sla", or an expression rule's own id. For anomaly, listed once
// per metric, it returns the first.
func (r *Regulations) RuleByID(id string) (*QualityRule, bool) {
	for i := range r.Quality {
		if r.Quality[i].ID == id {
			return &r.Quality[i], true
		}
	}
	return nil, false
}
