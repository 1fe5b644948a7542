package regulations_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/funnelwatch/funnelwatch/regulations"
)

// FuzzParse feeds Parse arbitrary bytes. Whatever the input, Parse must
// not panic, must return either regulations or Errors (never both, never
// neither), and every error must point into the file: a line from 1 to
// the number of lines, a column from 1, sorted by line, and say what is
// wrong in Russian as well as in English.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(example)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(head))
	for _, broken := range [][]byte{
		bytes.Replace(example, []byte("sla: 2h"), []byte("sla: 7x"), 1),
		bytes.Replace(example, []byte("warmup/new"), []byte("warmup/neww"), 1),
		bytes.Replace(example, []byte("supervisor: sergey"), []byte("supervisor: roman"), 1),
		bytes.Replace(example, []byte("0 9 * * MON"), []byte("0 9 * * MUN"), 1),
		bytes.Replace(example, []byte("type: lost"), []byte("type: lots"), -1),
		bytes.Replace(example, []byte("- id: overdue_control"), []byte("- id: overdue_notify"), 1),
		bytes.Replace(example, []byte("{rule: task_overdue}"), []byte("{rule: task_overdue, limit: 5m}"), 1),
		bytes.Replace(example, []byte("\n    do:"), []byte("\n   do:"), 1),
		example[:len(example)/2],
		[]byte("company: &a [*a, *a]\npipelines: [{<<: *a}]\n"),
		[]byte("company: x\n---\ncompany: y\n"),
		[]byte(""),
		[]byte("\n\n\t\n"),
		[]byte("- [ {"),
	} {
		f.Add(broken)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := regulations.Parse(data)
		if err == nil {
			if r == nil || r.Location == nil {
				t.Fatalf("no error and no regulations: %+v", r)
			}
			return
		}
		if r != nil {
			t.Fatalf("regulations returned with an error: %v", err)
		}
		var errs regulations.Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %T %v is not a non-empty Errors", err, err)
		}
		// YAML breaks lines at \n, \r\n and a lone \r.
		lines := 1 + bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) - bytes.Count(data, []byte("\r\n"))
		for i, e := range errs {
			if e.Line < 1 || e.Line > lines || e.Column < 1 {
				t.Fatalf("error at line %d column %d of a %d-line file: %v", e.Line, e.Column, lines, e)
			}
			if i > 0 && errs[i-1].Line > e.Line {
				t.Fatalf("errors not sorted by line:\n%v", errs)
			}
			if e.Msg == "" {
				t.Fatalf("error without a message at line %d", e.Line)
			}
			checkRussian(t, e)
		}
	})
}
