package regulations_test

import (
	"errors"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/funnelwatch/funnelwatch/regulations"
)

var update = flag.Bool("update", false, "rewrite testdata/broken/*.errors from what Parse says")

// hasCyrillic reports whether s has a Russian letter: a Russian text that
// is only keys and values would be the English left in.
func hasCyrillic(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) })
}

// checkRussian fails t for an error without its Russian text, or with a
// format that did not fit its arguments.
func checkRussian(t testing.TB, e *regulations.Error) {
	t.Helper()
	switch {
	case !hasCyrillic(e.MsgRU):
		t.Errorf("line %d: %s: %q has no Russian (MsgRU %q)", e.Line, e.Key, e.Msg, e.MsgRU)
	case strings.Contains(e.Msg, "%!") || strings.Contains(e.MsgRU, "%!"):
		t.Errorf("line %d: %s: a format does not fit its arguments: %q / %q", e.Line, e.Key, e.Msg, e.MsgRU)
	}
}

// verb is a fmt verb: %s, %q, %[2]s, %-5d…; %% is not one.
var verb = regexp.MustCompile(`%(?:\[(\d+)\])?[-+# 0]*\d*(?:\.\d+)?[a-zA-Z%]`)

// argsUsed lists the argument numbers a format uses, as fmt counts them.
func argsUsed(format string) []int {
	var used []int
	next := 1
	for _, m := range verb.FindAllStringSubmatch(format, -1) {
		if strings.HasSuffix(m[0], "%") {
			continue
		}
		if m[1] != "" {
			next, _ = strconv.Atoi(m[1])
		}
		if !slices.Contains(used, next) {
			used = append(used, next)
		}
		next++
	}
	slices.Sort(used)
	return used
}

// TestMessages_Russian reads the package's source: every message is made
// by errorf, problemf or text with an English and a Russian format as
// literals, the Russian written in Russian and using the same arguments.
// No message can be made another way (fmt.Errorf, errors.New, building
// Error by hand) and so escape translation.
func TestMessages_Russian(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	messages := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		// The message makers themselves pass their formats on.
		f.Decls = slices.DeleteFunc(f.Decls, func(d ast.Decl) bool {
			fd, ok := d.(*ast.FuncDecl)
			return ok && slices.Contains([]string{"text", "problemf", "errorf"}, fd.Name.Name)
		})
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var fn string
			switch x := call.Fun.(type) {
			case *ast.Ident:
				fn = x.Name
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok && (id.Name == "fmt" || id.Name == "errors") {
					fn = id.Name + "." + x.Sel.Name
				} else {
					fn = "." + x.Sel.Name
				}
			}
			at := fset.Position(call.Pos())
			first := -1
			switch fn {
			case "text", "problemf":
				first = 0
			case ".errorf":
				first = 2
			case "fmt.Errorf", "errors.New":
				// A file that cannot be read is the one error of the
				// package not about its content, and stays English.
				if lit, ok := call.Args[0].(*ast.BasicLit); ok && strings.HasPrefix(lit.Value, `"regulations: `) {
					return true
				}
				t.Errorf("%s: %s makes an English-only error; use problemf", at, fn)
				return true
			default:
				return true
			}
			if len(call.Args) < first+2 {
				t.Errorf("%s: %s without an English and a Russian format", at, fn)
				return true
			}
			var formats [2]string
			for i := range formats {
				lit, ok := call.Args[first+i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: %s: the formats must be literals, the Russian beside the English", at, fn)
					return true
				}
				formats[i], _ = strconv.Unquote(lit.Value)
			}
			en, ru := formats[0], formats[1]
			messages++
			if !hasCyrillic(ru) {
				t.Errorf("%s: %q has no Russian: %q", at, en, ru)
			}
			if hasCyrillic(en) {
				t.Errorf("%s: the English %q has Russian in it; the formats are in the wrong order", at, en)
			}
			if a, b := argsUsed(en), argsUsed(ru); !slices.Equal(a, b) {
				t.Errorf("%s: %q uses arguments %v, its Russian %q uses %v", at, en, a, ru, b)
			}
			return true
		})
	}
	t.Logf("%d messages in both languages", messages)
	if messages < 100 {
		t.Errorf("only %d messages found: is the test still looking at the right calls?", messages)
	}
}

// TestErrors_Russian parses broken files — testdata/broken, one section of
// the file each, and the fuzzer's seeds — and checks that every error
// comes in Russian as well as English. testdata/broken/NAME.errors holds
// what Parse says of NAME.yaml in both languages, for a reader to judge
// the Russian and for a change of wording to show in review; go test
// -run TestErrors_Russian -update rewrites them.
func TestErrors_Russian(t *testing.T) {
	files, _ := filepath.Glob("testdata/broken/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/broken/*.yaml")
	}
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzParse/*")
	for _, name := range append(files, seeds...) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(name, "testdata/fuzz/") {
				data = fuzzInput(t, data)
			}
			_, err = regulations.Parse(data)
			var errs regulations.Errors
			if !errors.As(err, &errs) {
				if strings.HasPrefix(name, "testdata/broken/") {
					t.Fatalf("Parse accepted a broken file: %v", err)
				}
				return
			}
			var b strings.Builder
			for _, e := range errs {
				checkRussian(t, e)
				b.WriteString(e.Error() + "\n")
				b.WriteString("        " + e.MsgRU + "\n")
			}
			if !strings.HasPrefix(name, "testdata/broken/") {
				return
			}
			golden := strings.TrimSuffix(name, ".yaml") + ".errors"
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestErrors_Russian -update)", err)
			}
			if b.String() != string(want) {
				t.Errorf("Parse says, in place of %s:\n%s", golden, b.String())
			}
		})
	}
}

// fuzzInput decodes a seed of the fuzzer's corpus: a header line, then
// []byte("…") in Go's quoting.
func fuzzInput(t *testing.T, data []byte) []byte {
	t.Helper()
	_, body, _ := strings.Cut(string(data), "\n")
	body = strings.TrimSpace(body)
	q, ok := strings.CutPrefix(body, "[]byte(")
	if !ok || !strings.HasSuffix(q, ")") {
		t.Fatalf("not a fuzz seed: %q", body)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}
