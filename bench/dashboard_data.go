package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// DashboardData says what BuildDashboardData writes.
type DashboardData struct {
	Deals  int // deals created over Days, evenly spread
	Events int // events in the log at least: the deals' own, topped up with notes
	Days   int // length of the history (90 when 0)
	Seed   uint64
	Now    time.Time // the end of the history
	// Chunk is how many deals a write transaction holds (2,000 when 0).
	Chunk int
	// Progress, when set, is told after each transaction.
	Progress func(deals, events int)
}

// DashboardCounts is what BuildDashboardData wrote.
type DashboardCounts struct {
	Deals, OpenDeals, Visits, Tasks, Calls, Notes, Findings, OpenFindings, Events int
}

// BuildDashboardData fills the workspace of a fresh store with a company
// of d.Deals deals on the funnel's pipelines over d.Days days ending at
// d.Now, written in bulk with the store's own write methods rather than
// folded from the log by the Ingestor and the engine (which would take
// hours at a million deals): for each deal, in one pass,
//
//   - its walk through the open stages of its pipeline (70 % sales, the
//     rest spread over the other pipelines) with stays of 20 minutes
//     plus an exponential time of mean 30 hours (10 days for one stay in
//     ten), lost with 15 % odds after each stage and won after
//     the last; a walk that reaches the present stays open there;
//   - a stage visit per stay (the funnel report's projection);
//   - a task per stay, due a day after entry, completed within 0–2 days
//     (so a third are late) unless the stay is still going; 20 % of the
//     open deals have no open task;
//   - a call per stay (70 % answered);
//   - the findings the rules would hold for that history: stage_sla
//     when a stay outlasted its stage's SLA (resolved when it left),
//     task_overdue when a task went past its due time (resolved when it
//     was done), no_next_task for an open deal without a task,
//     lost_without_reason (a remark) for a third of the lost deals;
//   - the log's events of all that (deal.created, deal.stage_changed,
//     task.created, task.completed, call: about 13 a deal), then
//     note.added events (and their notes) spread over the deal's life so
//     that the log holds d.Events events (when that is more).
//
// The deal rows are what the fold writes for that log; the projection
// and engine checkpoints are set to the log's end, so a reader has
// nothing to catch up.
func BuildDashboardData(ctx context.Context, store funnelwatch.Store, workspace string, f *funnelwatch.Funnel, d DashboardData) (DashboardCounts, error) {
	var out DashboardCounts
	days := cmp.Or(d.Days, 90)
	chunk := cmp.Or(d.Chunk, 2000)
	rng := rand.New(rand.NewPCG(d.Seed, d.Seed^0xda5b))
	start := d.Now.Add(-time.Duration(days) * 24 * time.Hour)
	span := d.Now.Sub(start)

	type pipe struct {
		p         funnelwatch.Pipeline
		open      []funnelwatch.Stage
		won, lost string
	}
	var pipes []pipe
	for _, p := range f.Pipelines {
		pp := pipe{p: p}
		stages := slices.Clone(p.Stages)
		slices.SortStableFunc(stages, func(a, b funnelwatch.Stage) int { return cmp.Compare(a.Order, b.Order) })
		for _, s := range stages {
			switch s.Type {
			case funnelwatch.StageWon:
				pp.won = cmp.Or(pp.won, s.ID)
			case funnelwatch.StageLost:
				pp.lost = cmp.Or(pp.lost, s.ID)
			default:
				pp.open = append(pp.open, s)
			}
		}
		if len(pp.open) > 0 && pp.won != "" && pp.lost != "" {
			pipes = append(pipes, pp)
		}
	}
	if len(pipes) == 0 {
		return out, fmt.Errorf("bench: the funnel has no pipeline with open, won and lost stages")
	}
	var managers []string
	for _, u := range f.Users {
		if u.Role == funnelwatch.RoleManager {
			managers = append(managers, u.ID)
		}
	}
	if len(managers) == 0 {
		return out, fmt.Errorf("bench: the funnel has no managers")
	}
	pickPipe := func() pipe {
		if len(pipes) == 1 || rng.IntN(100) < 70 {
			return pipes[0]
		}
		return pipes[1+rng.IntN(len(pipes)-1)]
	}
	nextEvent := 0

	type batch struct {
		deals    []*funnelwatch.Deal
		visits   []*funnelwatch.StageVisit
		tasks    []*funnelwatch.Task
		calls    []*funnelwatch.Call
		notes    []*funnelwatch.Note
		findings []*funnelwatch.Violation
		events   []*funnelwatch.Event
	}
	var b batch
	var lastSeq int64
	flush := func() error {
		slices.SortStableFunc(b.events, func(x, y *funnelwatch.Event) int { return x.At.Compare(y.At) })
		err := store.Update(ctx, workspace, func(tx funnelwatch.Tx) error {
			if err := tx.SaveDeals(ctx, b.deals...); err != nil {
				return err
			}
			if err := tx.SaveStageVisits(ctx, b.visits...); err != nil {
				return err
			}
			if err := tx.SaveTasks(ctx, b.tasks...); err != nil {
				return err
			}
			if err := tx.InsertCalls(ctx, b.calls...); err != nil {
				return err
			}
			if err := tx.InsertNotes(ctx, b.notes...); err != nil {
				return err
			}
			if err := tx.SaveViolations(ctx, b.findings...); err != nil {
				return err
			}
			seq, err := tx.InsertEvents(ctx, b.events)
			if err != nil {
				return err
			}
			lastSeq = max(lastSeq, seq)
			return nil
		})
		if err != nil {
			return err
		}
		out.Events += len(b.events)
		if d.Progress != nil {
			d.Progress(out.Deals, out.Events)
		}
		b = batch{}
		return nil
	}

	ev := func(e funnelwatch.Event) {
		nextEvent++
		e.ID = fmt.Sprintf("e%010d", nextEvent)
		e.ReceivedAt = e.At
		b.events = append(b.events, &e)
	}
	finding := func(rule, dealID, taskID, user, pipeline, stage string, sev funnelwatch.Severity, opened time.Time, resolved *time.Time, amount float64) {
		if resolved != nil && resolved.After(d.Now) {
			resolved = nil
		}
		out.Findings++
		if resolved == nil {
			out.OpenFindings++
		}
		b.findings = append(b.findings, &funnelwatch.Violation{
			ID: fmt.Sprintf("%s:%s:%s:%d", rule, dealID, taskID, opened.UnixMicro()), Rule: rule, Severity: sev,
			DealID: dealID, TaskID: taskID, User: user, Pipeline: pipeline, Stage: stage, OpenedAt: opened, ResolvedAt: resolved,
			Message:        funnelwatch.Text{RU: "Нарушение регламента: " + rule, EN: "Regulations broken: " + rule},
			Recommendation: funnelwatch.Text{RU: "Проверьте сделку", EN: "Check the deal"},
			Evidence:       json.RawMessage(`{"stage":"` + stage + `"}`),
			Amount:         amount, WinRate: 0.3, MoneyAtRisk: amount * 0.3,
		})
	}
	ptr := func(t time.Time) *time.Time { return &t }

	for i := 0; i < d.Deals; i++ {
		p := pickPipe()
		created := start.Add(time.Duration(float64(span) * (float64(i) + rng.Float64()) / float64(d.Deals)))
		id := fmt.Sprintf("D%08d", i+1)
		user := managers[rng.IntN(len(managers))]
		amount := float64(1000 * (5 + rng.IntN(300)))
		deal := &funnelwatch.Deal{ID: id, Pipeline: p.p.ID, Status: funnelwatch.DealOpen, Name: "Сделка " + id,
			Responsible: user, Amount: amount, Source: "avito", CreatedAt: created, PipelineEnteredAt: created}
		ev(funnelwatch.Event{Type: funnelwatch.EventDealCreated, At: created, Actor: user, Deal: &funnelwatch.DealPayload{
			ID: id, Pipeline: p.p.ID, Stage: p.open[0].ID, Responsible: user, Amount: amount, Source: "avito", Name: deal.Name}})
		last := created
		at := created
		hasTask := true
		for si := 0; ; si++ {
			st := p.open[si]
			mean := 30 * time.Hour
			if rng.IntN(100) < 10 {
				mean = 10 * 24 * time.Hour // the deals that wait
			}
			stay := 20*time.Minute + time.Duration(rng.ExpFloat64()*float64(mean))
			left := at.Add(stay)
			visit := &funnelwatch.StageVisit{DealID: id, Pipeline: p.p.ID, Stage: st.ID, Entered: at, Responsible: user}
			deal.Stage, deal.StageEnteredAt = st.ID, at
			// The stay's task and call.
			out.Tasks++
			task := &funnelwatch.Task{ID: fmt.Sprintf("T%08d-%d", i+1, si), DealID: id, Assignee: user, Kind: funnelwatch.TaskCall,
				Text: "Связаться с клиентом", Due: ptr(at.Add(24 * time.Hour)), CreatedAt: at.Add(time.Minute), CreatedBy: user}
			done := at.Add(time.Minute + time.Duration(rng.Float64()*float64(48*time.Hour)))
			if task.CreatedAt.After(d.Now) || (left.After(d.Now) && rng.IntN(100) < 20) {
				hasTask = false
				task = nil
				out.Tasks--
			}
			if task != nil {
				ev(funnelwatch.Event{Type: funnelwatch.EventTaskCreated, At: task.CreatedAt, Actor: user, DealID: id,
					Task: &funnelwatch.TaskPayload{ID: task.ID, DealID: id, Assignee: user, Due: task.Due, Text: task.Text, Kind: task.Kind}})
				last = task.CreatedAt
				if !left.After(d.Now) && done.After(left) {
					done = left // the stay ends with its task done
				}
				if !done.After(d.Now) {
					task.CompletedAt = ptr(done)
					task.Result = "Связались"
					ev(funnelwatch.Event{Type: funnelwatch.EventTaskCompleted, At: done, Actor: user, DealID: id, TaskID: task.ID, Result: task.Result})
					last = later(last, done)
				}
				if task.Due.Before(d.Now) && (task.CompletedAt == nil || task.CompletedAt.After(*task.Due)) {
					finding("task_overdue", id, task.ID, user, p.p.ID, st.ID, funnelwatch.SeverityViolation, *task.Due, task.CompletedAt, amount)
				}
				b.tasks = append(b.tasks, task)
			}
			callAt := at.Add(10 * time.Minute)
			if !callAt.After(d.Now) {
				out.Calls++
				c := &funnelwatch.Call{ID: fmt.Sprintf("C%08d-%d", i+1, si), User: user, DealID: id, Direction: funnelwatch.DirectionOut,
					Phone: fmt.Sprintf("+7912%07d", i%10_000_000), StartedAt: callAt, Answered: rng.IntN(100) < 70}
				if c.Answered {
					c.DurationS = 10 + rng.IntN(300)
				}
				b.calls = append(b.calls, c)
				ev(funnelwatch.Event{Type: funnelwatch.EventCall, At: callAt, Actor: user, DealID: id, Call: &funnelwatch.CallPayload{
					ID: c.ID, User: user, Direction: c.Direction, Phone: c.Phone, StartedAt: callAt, DurationS: c.DurationS, Answered: c.Answered, DealID: id}})
				last = later(last, callAt)
			}
			if st.SLA > 0 && stay > st.SLA && at.Add(st.SLA).Before(d.Now) {
				finding("stage_sla", id, "", user, p.p.ID, st.ID, funnelwatch.SeverityViolation, at.Add(st.SLA), ptr(left), amount)
			}
			out.Visits++
			b.visits = append(b.visits, visit)
			if left.After(d.Now) {
				if !hasTask {
					finding("no_next_task", id, "", user, p.p.ID, st.ID, funnelwatch.SeverityViolation, at.Add(10*time.Minute), nil, amount)
				}
				out.OpenDeals++
				break
			}
			// Leave: the next open stage, or closed.
			next, status := "", funnelwatch.DealOpen
			switch {
			case rng.IntN(100) < 15:
				next, status = p.lost, funnelwatch.DealLost
			case si+1 == len(p.open):
				next, status = p.won, funnelwatch.DealWon
			default:
				next = p.open[si+1].ID
			}
			visit.Left, visit.NextPipeline, visit.NextStage = ptr(left), p.p.ID, next
			e := funnelwatch.Event{Type: funnelwatch.EventDealStageChanged, At: left, Actor: user, DealID: id, ToStage: next}
			if status == funnelwatch.DealLost && rng.IntN(3) > 0 {
				e.LossReason = "Дорого"
				deal.LossReason = e.LossReason
			}
			ev(e)
			last = later(last, left)
			at = left
			if status != funnelwatch.DealOpen {
				deal.Stage, deal.StageEnteredAt, deal.Status, deal.ClosedAt = next, left, status, ptr(left)
				out.Visits++
				b.visits = append(b.visits, &funnelwatch.StageVisit{DealID: id, Pipeline: p.p.ID, Stage: next, Entered: left, Responsible: user})
				if status == funnelwatch.DealLost && deal.LossReason == "" {
					finding("lost_without_reason", id, "", user, p.p.ID, next, funnelwatch.SeverityRemark, left, nil, 0)
				}
				break
			}
		}
		// Notes over the deal's life, so that the log keeps pace with
		// d.Events: after deal i it holds (i+1)/Deals of them.
		end := last
		if end.After(d.Now) {
			end = d.Now
		}
		for n := 0; nextEvent < int(int64(d.Events)*int64(i+1)/int64(d.Deals)); n++ {
			nat := created.Add(time.Duration(rng.Float64() * float64(end.Sub(created))))
			note := &funnelwatch.Note{ID: fmt.Sprintf("N%08d-%d", i+1, n), DealID: id, Author: user, Text: "Клиент думает", At: nat}
			b.notes = append(b.notes, note)
			out.Notes++
			ev(funnelwatch.Event{Type: funnelwatch.EventNoteAdded, At: nat, Actor: user, DealID: id,
				Note: &funnelwatch.NotePayload{ID: note.ID, DealID: id, Author: user, Text: note.Text}})
		}
		deal.UpdatedAt, deal.LastEventAt = last, last
		b.deals = append(b.deals, deal)
		out.Deals++
		if len(b.deals) >= chunk {
			if err := flush(); err != nil {
				return out, err
			}
		}
	}
	if len(b.deals) > 0 {
		if err := flush(); err != nil {
			return out, err
		}
	}
	err := store.Update(ctx, workspace, func(tx funnelwatch.Tx) error {
		if err := tx.SetProjectionSeq(ctx, lastSeq); err != nil {
			return err
		}
		return tx.SetEngineState(ctx, funnelwatch.EngineState{Seq: lastSeq, Clock: d.Now})
	})
	return out, err
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
