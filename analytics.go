package funnelwatch

import "time"

// StageVisit is one stay of a deal on a stage, from its entry until it
// left: moved to another stage (of this pipeline or another one, closing
// as won or lost included) or left the funnel (deleted). The funnel
// report counts entries, exits, conversions and times in stage from
// visits. The state tables keep them as a projection of the log, like
// deals: a deal's visits are those its events fold into.
//
// A visit is identified by its deal, pipeline, stage and entry time.
type StageVisit struct {
	DealID   string    `json:"deal_id"`
	Pipeline string    `json:"pipeline"`
	Stage    string    `json:"stage"`
	Entered  time.Time `json:"entered_at"`
	// Left is when the deal left the stage; nil while it is there.
	Left *time.Time `json:"left_at,omitempty"`
	// NextPipeline and NextStage are where the deal went; both empty
	// while it is on the stage, or when it left the funnel (deleted).
	NextPipeline string `json:"next_pipeline,omitempty"`
	NextStage    string `json:"next_stage,omitempty"`
	// Responsible is the deal's responsible when it entered the stage.
	Responsible string `json:"responsible,omitempty"`
}

// StageVisitFilter selects stage visits. Zero fields do not filter; the
// time bounds are from inclusive, to exclusive.
type StageVisitFilter struct {
	Pipeline               string
	DealIDs                []string // only visits of these deals
	EnteredFrom, EnteredTo time.Time
	LeftFrom, LeftTo       time.Time // selects closed visits only
}

// CallStats sums a user's calls of one direction started in a period.
type CallStats struct {
	User      string
	Direction string // in or out
	Calls     int
	Answered  int
	// Successful counts the answered calls that lasted at least the
	// threshold the query was given (a successful contact).
	Successful int
	TalkS      int64 // the duration of the answered calls, in seconds
}

// MissedCall is an incoming call nobody answered, with the moment it was
// returned: the start of the first later call to the same phone (or, for
// a call with no phone, on the same deal) that was outgoing or answered,
// by anyone. Returned is nil while it has not been.
type MissedCall struct {
	Call     Call
	Returned *time.Time
}

// TaskStats counts a user's tasks in a period.
type TaskStats struct {
	User string
	// Created counts the tasks assigned to the user that were created in
	// the period.
	Created int
	// Overdue counts the tasks assigned to the user whose due time fell
	// in the period, before its end (or before now), and that were not
	// done by it: done late, or still open then (a deletion closes a task
	// like a completion).
	Overdue int
}
