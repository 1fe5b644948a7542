// Package funnelwatch holds the domain of the sales-funnel quality-control
// system: workspaces, users, pipelines, stages, deals, tasks, calls, notes
// and the append-only event log from which the current state is folded.
//
// Outside dependencies (SQLite, PostgreSQL, HTTP, Telegram, CRMs) live in
// their own packages around this one; this package uses the standard
// library only.
package funnelwatch

import "time"

// Role is a user's access role.
type Role string

// Access roles.
const (
	RoleAdmin      Role = "admin"
	RoleSupervisor Role = "supervisor"
	RoleManager    Role = "manager"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleSupervisor, RoleManager:
		return true
	}
	return false
}

// Sales roles of the documents (seed 003): who does which part of the sale.
const (
	SalesRoleQualifier = "qualifier"
	SalesRoleGenerator = "generator"
	SalesRoleConverter = "converter"
	SalesRoleFarmer    = "farmer"
	SalesRoleWarmer    = "warmer"
)

// ValidSalesRole reports whether s is a known sales role.
func ValidSalesRole(s string) bool {
	switch s {
	case SalesRoleQualifier, SalesRoleGenerator, SalesRoleConverter, SalesRoleFarmer, SalesRoleWarmer:
		return true
	}
	return false
}

// User is a member of the sales team, as declared in the regulations file.
type User struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Role       Role     `json:"role"`
	Supervisor string   `json:"supervisor,omitempty"`
	Team       string   `json:"team,omitempty"`
	SalesRole  string   `json:"sales_role,omitempty"`
	Schedule   Schedule `json:"schedule,omitzero"`
	Telegram   string   `json:"telegram,omitempty"`
	Email      string   `json:"email,omitempty"`
}

// Schedule is a user's work pattern. The zero value means "every day the
// company works". A shift schedule such as "3/3 from 2026-11-01" means
// OnDays working days then OffDays days off, cycling from Start.
type Schedule struct {
	OnDays  int       `json:"on_days,omitempty"`
	OffDays int       `json:"off_days,omitempty"`
	Start   time.Time `json:"start,omitzero"` // local midnight of the first working day
}

// IsZero reports whether s is the default (always on) schedule.
func (s Schedule) IsZero() bool { return s.OnDays == 0 && s.OffDays == 0 }

// OnShift reports whether the schedule has the user working on the calendar
// day of t (t's own location decides the day).
func (s Schedule) OnShift(t time.Time) bool {
	if s.IsZero() {
		return true
	}
	start := time.Date(s.Start.Year(), s.Start.Month(), s.Start.Day(), 0, 0, 0, 0, time.UTC)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	n := int(day.Sub(start).Hours() / 24)
	cycle := s.OnDays + s.OffDays
	n %= cycle
	if n < 0 {
		n += cycle
	}
	return n < s.OnDays
}

// PipelineKind says what a pipeline is for.
type PipelineKind string

// Pipeline kinds.
const (
	KindSales         PipelineKind = "sales"
	KindQualification PipelineKind = "qualification"
	KindWarmup        PipelineKind = "warmup"
	KindService       PipelineKind = "service"
	KindAutomatic     PipelineKind = "automatic"
)

// Valid reports whether k is a known pipeline kind.
func (k PipelineKind) Valid() bool {
	switch k {
	case KindSales, KindQualification, KindWarmup, KindService, KindAutomatic:
		return true
	}
	return false
}

// StageType says whether a stage is open or closes the deal.
type StageType string

// Stage types.
const (
	StageOpen StageType = "open"
	StageWon  StageType = "won"
	StageLost StageType = "lost"
)

// Closed reports whether a deal on a stage of this type is closed.
func (t StageType) Closed() bool { return t == StageWon || t == StageLost }

// Pipeline is a funnel (воронка) of ordered stages.
type Pipeline struct {
	ID     string       `json:"id"`
	Name   string       `json:"name"`
	Kind   PipelineKind `json:"kind"`
	Stages []Stage      `json:"stages"`
	// Lifetime is how long a deal may stay in the pipeline (0: no limit),
	// counted from its last entry into it.
	Lifetime time.Duration `json:"lifetime,omitempty"`
}

// Stage returns the stage with the given id.
func (p *Pipeline) Stage(id string) (*Stage, bool) {
	for i := range p.Stages {
		if p.Stages[i].ID == id {
			return &p.Stages[i], true
		}
	}
	return nil, false
}

// FirstOpen returns the first open stage, where new deals land by default.
func (p *Pipeline) FirstOpen() (*Stage, bool) {
	for i := range p.Stages {
		if p.Stages[i].Type == StageOpen {
			return &p.Stages[i], true
		}
	}
	return nil, false
}

// Stage is one step (этап) of a pipeline.
type Stage struct {
	ID             string        `json:"id"`
	Pipeline       string        `json:"pipeline"`
	Name           string        `json:"name"`
	Order          int           `json:"order"`
	Type           StageType     `json:"type"`
	SLA            time.Duration `json:"sla,omitempty"`
	Critical       bool          `json:"critical,omitempty"`
	RequiredFields []string      `json:"required_fields,omitempty"`
}

// Ref returns the pipeline-qualified reference "pipeline/stage".
func (s *Stage) Ref() string { return s.Pipeline + "/" + s.ID }
