package regulations

import (
	"cmp"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/funnelwatch/funnelwatch"
)

// Error is one problem in a regulations file, located by line and column
// (1-based) and by the dotted path of the key it is about, e.g.
// "pipelines[0].stages[2].sla".
type Error struct {
	Line, Column int
	Key          string
	// Msg is the problem in English, MsgRU the same in Russian; keys and
	// values are quoted as written in both. Error() and the command line
	// use the English; the web page picks by its language.
	Msg   string
	MsgRU string
}

// Error formats the problem as
// `line 12: pipelines[0].stages[1].sla: bad duration "7x" (use 90s, 15m, 2h, 1d, 7d)`.
func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Key, e.Msg)
}

// Text is the message in both languages. An Error made by hand with
// English only shows its English in Russian too rather than nothing.
func (e *Error) Text() funnelwatch.Text {
	return funnelwatch.Text{RU: cmp.Or(e.MsgRU, e.Msg), EN: e.Msg}
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

// text formats a message in both languages: en and ru are formats of the
// same args (ru may reorder them with %[n]s). Every message of the package
// is made here — through decoder.errorf, problemf or text itself — with
// its Russian written beside its English, so that none can be left
// untranslated; TestMessages_Russian reads the source and holds every
// call to a Russian format.
//
// An argument that is itself in both languages, a funnelwatch.Text (a
// kind of value, a part of a message) or an error made by problemf (a
// cron field's complaint), goes into each language as its own text.
// Anything else, such as an expr-lang or regexp error, is put in as is.
func text(en, ru string, args ...any) funnelwatch.Text {
	return funnelwatch.Text{
		EN: fmt.Sprintf(en, localize(args, false)...),
		RU: fmt.Sprintf(ru, localize(args, true)...),
	}
}

func localize(args []any, ru bool) []any {
	out := make([]any, len(args))
	for i, a := range args {
		t, ok := a.(funnelwatch.Text)
		if err, isErr := a.(error); isErr {
			var p *problem
			if ok = errors.As(err, &p); ok {
				t = p.Text
			}
		}
		switch {
		case !ok:
			out[i] = a
		case ru:
			out[i] = t.RU
		default:
			out[i] = t.EN
		}
	}
	return out
}

// problem is an error in both languages from the parser of one value — a
// duration, a cron expression, working hours — which Parse reports at the
// value's key. Error is the English, for callers of ParseDuration and
// ParseCron.
type problem struct{ funnelwatch.Text }

func (p *problem) Error() string { return p.EN }

// problemf makes a problem; en and ru are as for text.
func problemf(en, ru string, args ...any) error {
	return &problem{text(en, ru, args...)}
}
