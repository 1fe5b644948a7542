package regulations

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a regulations file, located by line and column
// (1-based) and by the dotted path of the key it is about, e.g.
// "pipelines[0].stages[2].sla".
type Error struct {
	Line, Column int
	Key          string
	Msg          string
}

// Error formats the problem as
// `line 12: pipelines[0].stages[1].sla: bad duration "7x" (use 90s, 15m, 2h, 1d, 7d)`.
func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Key, e.Msg)
}

// Errors is every problem found in a file, sorted by line. Parse returns
// all of them at once so that an administrator fixes a file in one pass
// instead of one error per run.
type Errors []*Error

// Error joins the errors, one per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// sortErrors orders errors by position; the sort is stable so that several
// errors at one spot keep the order in which they were found.
func sortErrors(es Errors) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
}
