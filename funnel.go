package funnelwatch

import (
	"strings"
	"time"
)

// Funnel is the static shape of a workspace — its pipelines, stages and
// users — against which incoming events are checked. The regulations file
// declares it.
type Funnel struct {
	Company   string
	Location  *time.Location
	Pipelines []Pipeline
	Users     []User
}

// Pipeline returns the pipeline with the given id.
func (f *Funnel) Pipeline(id string) (*Pipeline, bool) {
	for i := range f.Pipelines {
		if f.Pipelines[i].ID == id {
			return &f.Pipelines[i], true
		}
	}
	return nil, false
}

// User returns the user with the given id.
func (f *Funnel) User(id string) (*User, bool) {
	for i := range f.Users {
		if f.Users[i].ID == id {
			return &f.Users[i], true
		}
	}
	return nil, false
}

// UserName is how pages, reports and notices name a user: their name in
// the regulations, else their id (a nil funnel knows no names).
func (f *Funnel) UserName(id string) string {
	if f != nil {
		if u, ok := f.User(id); ok && u.Name != "" {
			return u.Name
		}
	}
	return id
}

// ResolveStage resolves a stage reference: a bare stage id within the
// pipeline from, or a pipeline-qualified "pipeline/stage".
func (f *Funnel) ResolveStage(from, ref string) (*Stage, bool) {
	pid, sid := from, ref
	if p, s, ok := strings.Cut(ref, "/"); ok {
		pid, sid = p, s
	}
	p, ok := f.Pipeline(pid)
	if !ok {
		return nil, false
	}
	return p.Stage(sid)
}
