package web_test

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/funnelwatch/funnelwatch"
)

// The deals board of the demo company agrees with its open deals read
// whole: each column's count, its first 25 cards (longest on the stage
// first), what is left ("+ N ещё"), the cards without a next step, and
// the pipeline tabs' counts — for the head of the company and for a
// manager, with and without the no-task filter.
func TestBoardAgreesWithTheOpenDeals(t *testing.T) {
	s := newDemoSite(t)
	ctx := context.Background()
	var deals []*funnelwatch.Deal
	withTask := map[string]bool{}
	err := s.store.View(ctx, "w", func(tx funnelwatch.ReadTx) error {
		var err error
		if deals, err = tx.Deals(ctx, funnelwatch.DealFilter{Status: funnelwatch.DealOpen}); err != nil {
			return err
		}
		open := true
		tasks, err := tx.Tasks(ctx, funnelwatch.TaskFilter{Open: &open})
		for _, t := range tasks {
			withTask[t.DealID] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	column := regexp.MustCompile(`(?s)<section class="column" data-stage="([^"]+)" data-count="(\d+)">(.*?)</section>`)
	card := regexp.MustCompile(`<a class="dealcard([^"]*)" href="/deals/[^"]+" data-deal="([^"]+)">`)
	more := regexp.MustCompile(`\+ (\d+) ещё`)
	tab := regexp.MustCompile(`data-pipeline="([^"]+)">[^<]*<small>(\d+)</small>`)
	checked := 0
	for _, who := range []string{"admin", "roman"} {
		c := browser(t)
		s.signIn(t, c, who, who+"-password")
		for _, noTask := range []bool{false, true} {
			// What the board should show, from the deals read whole.
			type col struct {
				count int
				cards []*funnelwatch.Deal
			}
			want := map[string]*col{}
			perPipeline := map[string]int{}
			for _, d := range deals {
				if (who == "roman" && d.Responsible != "roman") || (noTask && withTask[d.ID]) {
					continue
				}
				perPipeline[d.Pipeline]++
				k := d.Pipeline + "/" + d.Stage
				if want[k] == nil {
					want[k] = &col{}
				}
				want[k].count++
				want[k].cards = append(want[k].cards, d)
			}
			for _, p := range s.funnel.Pipelines {
				u := s.URL + "/deals?pipeline=" + p.ID
				if noTask {
					u += "&notask=1"
				}
				_, page := get(t, c, u)
				for _, m := range tab.FindAllStringSubmatch(page, -1) {
					if n, _ := strconv.Atoi(m[2]); n != perPipeline[m[1]] {
						t.Errorf("%s %s: the tab of %s says %d deals, want %d", who, u, m[1], n, perPipeline[m[1]])
					}
				}
				cols := column.FindAllStringSubmatch(page, -1)
				open := 0
				for _, st := range p.Stages {
					if st.Type == funnelwatch.StageOpen {
						open++
					}
				}
				if len(cols) != open {
					t.Fatalf("%s %s: %d columns, want %d", who, u, len(cols), open)
				}
				for _, m := range cols {
					w := want[p.ID+"/"+m[1]]
					if w == nil {
						w = &col{}
					}
					if n, _ := strconv.Atoi(m[2]); n != w.count {
						t.Errorf("%s %s, %s: count %d, want %d", who, u, m[1], n, w.count)
					}
					slices.SortFunc(w.cards, func(a, b *funnelwatch.Deal) int {
						return cmp.Or(a.StageEnteredAt.Compare(b.StageEnteredAt), strings.Compare(a.ID, b.ID))
					})
					shown := w.cards[:min(25, len(w.cards))]
					var got, wantIDs []string
					for _, cm := range card.FindAllStringSubmatch(m[3], -1) {
						got = append(got, cm[2])
						if marked := strings.Contains(cm[1], "notask"); marked != !withTask[cm[2]] {
							t.Errorf("%s %s: card %s marked without a task: %v, has an open task: %v", who, u, cm[2], marked, withTask[cm[2]])
						}
					}
					for _, d := range shown {
						wantIDs = append(wantIDs, d.ID)
					}
					if !slices.Equal(got, wantIDs) {
						t.Errorf("%s %s, %s: cards %v, want %v", who, u, m[1], got, wantIDs)
					}
					rest := ""
					if mm := more.FindStringSubmatch(m[3]); mm != nil {
						rest = mm[1]
					}
					if wantRest := w.count - len(shown); (wantRest == 0 && rest != "") || (wantRest > 0 && rest != fmt.Sprint(wantRest)) {
						t.Errorf("%s %s, %s: %q more, want %d", who, u, m[1], rest, wantRest)
					}
					checked += len(got)
				}
			}
		}
	}
	if checked < 200 {
		t.Fatalf("only %d cards checked: the demo's board should show hundreds", checked)
	}
}
