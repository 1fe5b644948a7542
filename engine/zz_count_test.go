package engine

import (
	"os"
	"testing"
	"time"

	"fmt"
	"math/rand/v2"
	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

func TestZZCount(t *testing.T) {
	src, _ := os.ReadFile("../cmd/funnelwatch/bench_regulations.yaml")
	regs, err := regulations.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	events := synthEvents(200000, 1, time.Date(2026, 8, 1, 9, 0, 0, 0, time.UTC))
	res, _ := Backtest(regs, events, events[len(events)-1].At, Simulate)
	open := 0
	for _, v := range res.Violations {
		if v.ResolvedAt == nil {
			open++
		}
	}
	t.Logf("span %v violations %d open %d actions %d skipped %d", events[len(events)-1].At.Sub(events[0].At), len(res.Violations), open, len(res.Actions), len(res.Skipped))
}

func synthEvents(n int, seed uint64, start time.Time) []funnelwatch.Event {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	users := []string{"roman", "olga"}
	stages := []string{"target", "contact", "ready"}
	type deal struct {
		id    string
		stage int
		tasks []string
	}
	var open []*deal
	events := make([]funnelwatch.Event, 0, n)
	at := start
	nextDeal, nextTask, nextOther := 0, 0, 0
	for len(events) < n {
		at = at.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		id := fmt.Sprintf("b%d", len(events))
		r := rng.IntN(100)
		if len(open) < 50 || r < 15 {
			nextDeal++
			d := &deal{id: fmt.Sprintf("D%d", nextDeal)}
			open = append(open, d)
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventDealCreated, At: at,
				Deal: &funnelwatch.DealPayload{ID: d.id, Pipeline: "sales", Stage: "target", Responsible: users[rng.IntN(len(users))],
					Amount: float64(1000 * (3 + rng.IntN(150))), Source: "avito",
					Contact: &funnelwatch.ContactInfo{Name: "Клиент", Phone: fmt.Sprintf("+7912%07d", nextDeal%10_000_000)}}})
			continue
		}
		i := rng.IntN(len(open))
		d := open[i]
		switch {
		case r < 40:
			nextTask++
			tid := fmt.Sprintf("T%d", nextTask)
			d.tasks = append(d.tasks, tid)
			due := at.Add(time.Duration(15+rng.IntN(600)) * time.Minute)
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventTaskCreated, At: at,
				Task: &funnelwatch.TaskPayload{ID: tid, DealID: d.id, Due: &due, Text: "Перезвонить клиенту", Kind: "call"}})
		case r < 60 && len(d.tasks) > 0:
			tid := d.tasks[0]
			d.tasks = d.tasks[1:]
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventTaskCompleted, At: at, TaskID: tid, Result: "Дозвонились, договорились о встрече"})
		case r < 72:
			nextOther++
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventCall, At: at,
				Call: &funnelwatch.CallPayload{ID: fmt.Sprintf("C%d", nextOther), User: users[rng.IntN(len(users))], Direction: "out",
					Phone: "+79120000000", StartedAt: at, DurationS: rng.IntN(300), Answered: true, DealID: d.id}})
		case r < 84:
			nextOther++
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventNoteAdded, At: at,
				Note: &funnelwatch.NotePayload{ID: fmt.Sprintf("N%d", nextOther), DealID: d.id, Text: "Клиент ждёт счёт, перезвонить завтра"}})
		case d.stage < len(stages)-1:
			d.stage++
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventDealStageChanged, At: at, DealID: d.id, ToStage: stages[d.stage]})
		default:
			to := "won"
			if rng.IntN(3) == 0 {
				to = "lost"
			}
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventDealStageChanged, At: at, DealID: d.id, ToStage: to, LossReason: "цена"})
			open[i] = open[len(open)-1]
			open = open[:len(open)-1]
		}
	}
	return events
}
