package engine

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

func visitsFunnel() *funnelwatch.Funnel {
	st := func(id string, typ funnelwatch.StageType) funnelwatch.Stage {
		return funnelwatch.Stage{ID: id, Pipeline: "sales", Type: typ}
	}
	return &funnelwatch.Funnel{Pipelines: []funnelwatch.Pipeline{{ID: "sales", Stages: []funnelwatch.Stage{
		st("target", funnelwatch.StageOpen), st("contact", funnelwatch.StageOpen),
		st("won", funnelwatch.StageWon), st("lost", funnelwatch.StageLost),
	}}}}
}

var visitsBase = time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)

func minute(m int) time.Time { return visitsBase.Add(time.Duration(m) * time.Minute) }

// pendingVisits writes the aggregate's pending visit changes compactly.
func pendingVisits(a *Aggregate) (bool, []string) {
	reset, vs := a.stageVisits()
	out := []string{}
	for _, v := range vs {
		s := fmt.Sprintf("%s/%s %d..", v.Pipeline, v.Stage, int(v.Entered.Sub(visitsBase)/time.Minute))
		if v.Left != nil {
			s += fmt.Sprintf("%d → %s/%s", int(v.Left.Sub(visitsBase)/time.Minute), v.NextPipeline, v.NextStage)
		}
		out = append(out, s+" "+v.Responsible)
	}
	return reset, out
}

// The fold records each stay begun and ended; a stay begun and ended
// before a write is one change; the engine's own copies record nothing.
func TestFoldRecordsStageVisits(t *testing.T) {
	f := visitsFunnel()
	events := []funnelwatch.Event{
		{Type: funnelwatch.EventDealCreated, At: minute(0), Deal: &funnelwatch.DealPayload{ID: "D1", Pipeline: "sales", Responsible: "roman"}},
		{Type: funnelwatch.EventDealStageChanged, At: minute(10), DealID: "D1", ToStage: "contact"},
		{Type: funnelwatch.EventDealStageChanged, At: minute(15), DealID: "D1", ToStage: "contact"}, // no move
		{Type: funnelwatch.EventDealResponsibleChanged, At: minute(20), DealID: "D1", To: "olga"},
		{Type: funnelwatch.EventDealStageChanged, At: minute(30), DealID: "D1", ToStage: "won"},
	}
	a := Fold(f, events)
	reset, got := pendingVisits(a)
	want := []string{"sales/target 0..10 → sales/contact roman", "sales/contact 10..30 → sales/won roman", "sales/won 30.. olga"}
	if reset || !reflect.DeepEqual(got, want) {
		t.Errorf("fold: reset %v, %q\nwant %q", reset, got, want)
	}
	a.markAllDirty()
	if reset, _ := pendingVisits(a); !reset {
		t.Error("a re-fold does not replace the stored visits")
	}

	// Written: the next move closes the stay by its key, and a clone (a
	// batch's copy) keeps the change without sharing it.
	a.clearDirty()
	if a.visits != nil || a.dirty() {
		t.Error("visits kept after the write")
	}
	a.Apply(f, &funnelwatch.Event{Type: funnelwatch.EventDealStageChanged, At: minute(40), DealID: "D1", ToStage: "contact"})
	c := a.clone()
	c.Apply(f, &funnelwatch.Event{Type: funnelwatch.EventDealDeleted, At: minute(50), DealID: "D1"})
	_, got = pendingVisits(a)
	if want := []string{"sales/won 30..40 → sales/contact olga", "sales/contact 40.. olga"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after a write and a reopening: %q\nwant %q", got, want)
	}
	_, got = pendingVisits(c)
	if want := []string{"sales/won 30..40 → sales/contact olga", "sales/contact 40..50 → / olga"}; !reflect.DeepEqual(got, want) {
		t.Errorf("the clone after the deletion: %q\nwant %q", got, want)
	}

	u := newUntracked()
	for i := range events {
		u.Apply(f, &events[i])
	}
	if u.visits != nil {
		t.Error("an untracked aggregate records visits")
	}
}
