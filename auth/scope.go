package auth

import (
	"slices"

	"github.com/funnelwatch/funnelwatch"
)

// Scope is what a signed-in user may see: an admin everything, a
// supervisor their team (themselves and every user whose supervisor
// chain leads to them), a manager their own deals and findings.
type Scope struct {
	User  funnelwatch.User
	all   bool
	users map[string]bool
}

// ScopeOf returns the scope of user u in funnel f.
func ScopeOf(f *funnelwatch.Funnel, u funnelwatch.User) Scope {
	s := Scope{User: u, users: map[string]bool{u.ID: true}}
	switch u.Role {
	case funnelwatch.RoleAdmin:
		s.all = true
	case funnelwatch.RoleSupervisor:
		for _, o := range f.Users {
			if leadsTo(f, o, u.ID) {
				s.users[o.ID] = true
			}
		}
	}
	return s
}

// leadsTo reports whether o's supervisor chain reaches id; a cycle in the
// file's chain stops the walk.
func leadsTo(f *funnelwatch.Funnel, o funnelwatch.User, id string) bool {
	seen := map[string]bool{o.ID: true}
	for sup := o.Supervisor; sup != "" && !seen[sup]; {
		if sup == id {
			return true
		}
		seen[sup] = true
		next, ok := f.User(sup)
		if !ok {
			return false
		}
		sup = next.Supervisor
	}
	return false
}

// All reports whether the scope is the whole workspace.
func (s Scope) All() bool { return s.all }

// Sees reports whether the scope includes the user's deals and findings.
// Nobody's (an empty user: a deal without a responsible) is the admin's.
func (s Scope) Sees(userID string) bool { return s.all || s.users[userID] }

// Users lists the users of the scope, sorted; nil when it is everyone.
func (s Scope) Users() []string {
	if s.all {
		return nil
	}
	out := make([]string, 0, len(s.users))
	for u := range s.users {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// Only returns the single user of a manager's scope ("" for a wider one):
// a store filter by that user does the scoping in SQL.
func (s Scope) Only() string {
	if !s.all && len(s.users) == 1 {
		return s.User.ID
	}
	return ""
}
