package regulations

import (
	"errors"
	"fmt"
	"sort"

	"github.com/goccy/go-yaml/ast"

	"github.com/funnelwatch/funnelwatch"
)

// The file is read from go-yaml's syntax tree rather than decoded into
// structs: the tree keeps every key's line and column, lets one pass
// report every error (a struct decoder stops at the first), and makes
// unknown keys and wrong types ordinary errors instead of panics or
// silently dropped values.

// pos is a place in the file, 1-based.
type pos struct{ line, col int }

// maxSteps bounds the nodes visited, so that a file of aliases of aliases
// (a "billion laughs") is an error rather than an hour of work.
const maxSteps = 1 << 20

// decoder walks the tree and collects errors.
type decoder struct {
	errs    Errors
	anchors map[string][]anchor
	steps   int
	tooBig  bool
}

type anchor struct {
	offset int
	node   ast.Node
}

// errorf records a problem at p about key, in English and in Russian:
// en and ru are formats of the same args, as for text.
func (d *decoder) errorf(p pos, key, en, ru string, args ...any) {
	d.add(p, key, text(en, ru, args...))
}

// report records err, the complaint of a value's own parser (ParseDuration,
// ParseCron, parseHours, …), which comes in both languages.
func (d *decoder) report(p pos, key string, err error) {
	var pr *problem
	if !errors.As(err, &pr) {
		// Not one of ours: English only, which TestErrors_Russian catches.
		d.add(p, key, funnelwatch.Text{EN: err.Error()})
		return
	}
	d.add(p, key, pr.Text)
}

func (d *decoder) add(p pos, key string, msg funnelwatch.Text) {
	if d.tooBig {
		return // past the budget, values read as missing: more errors would mislead
	}
	d.errs = append(d.errs, &Error{Line: p.line, Column: p.col, Key: key, Msg: msg.EN, MsgRU: msg.RU})
}

// posOf returns where n starts; a node without a position (which go-yaml
// should not produce, but a fuzzer finds everything) is placed on line 1.
func posOf(n ast.Node) pos {
	switch v := n.(type) {
	case nil:
		return pos{1, 1}
	case *ast.MappingNode:
		// A block mapping's own token is its first colon; its first key
		// is where a reader looks.
		if len(v.Values) > 0 && v.Values[0] != nil && v.Values[0].Key != nil {
			return posOf(v.Values[0].Key)
		}
	case *ast.MappingValueNode:
		if v.Key != nil {
			return posOf(v.Key)
		}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return pos{1, 1}
	}
	return pos{max(tk.Position.Line, 1), max(tk.Position.Column, 1)}
}

// collectAnchors records every anchor of a document, so that an alias
// resolves to the nearest anchor of its name before it, as YAML says.
func (d *decoder) collectAnchors(body ast.Node) {
	d.anchors = map[string][]anchor{}
	if body == nil {
		return
	}
	for _, n := range ast.Filter(ast.AnchorType, body) {
		a, ok := n.(*ast.AnchorNode)
		if !ok || a.Value == nil {
			continue
		}
		name := scalarText(a.Name)
		off := 0
		if tk := a.GetToken(); tk != nil && tk.Position != nil {
			off = tk.Position.Offset
		}
		d.anchors[name] = append(d.anchors[name], anchor{off, a.Value})
	}
	for _, as := range d.anchors {
		sort.SliceStable(as, func(i, j int) bool { return as[i].offset < as[j].offset })
	}
}

// resolve strips anchors and tags and follows aliases. It returns nil for
// an absent value, an alias it cannot follow, or when the step budget is
// spent (reported once).
func (d *decoder) resolve(n ast.Node) ast.Node {
	d.steps++
	if d.steps > maxSteps {
		if !d.tooBig {
			d.errorf(posOf(n), "", "the file is too large or its aliases expand too far",
				"файл слишком большой или его ссылки (алиасы) разворачиваются слишком далеко")
			d.tooBig = true
		}
		return nil
	}
	for range 64 { // aliases of aliases, bounded in case one points at itself
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.AliasNode:
			name := scalarText(v.Value)
			off := 0
			if tk := v.GetToken(); tk != nil && tk.Position != nil {
				off = tk.Position.Offset
			}
			var target ast.Node
			for _, a := range d.anchors[name] {
				if a.offset < off {
					target = a.node
				}
			}
			if target == nil {
				d.errorf(posOf(v), "", "unknown alias *%s", "неизвестная ссылка *%s: выше нет якоря &%[1]s", name)
				return nil
			}
			n = target
		default:
			return n
		}
	}
	return nil
}

// scalarText returns the text of a scalar node as written (without
// quotes), and "" for anything else.
func scalarText(n ast.Node) string {
	switch v := n.(type) {
	case nil:
		return ""
	case *ast.StringNode:
		return v.Value
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value
		}
		return ""
	case *ast.MappingKeyNode:
		return scalarText(v.Value)
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode, *ast.MergeKeyNode:
		if tk := n.GetToken(); tk != nil {
			return tk.Value
		}
	}
	return ""
}

// isNull reports whether n is an absent value (`key:` or `key: null`).
func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// kindOf names a node's type in words, for "want X, got Y" messages.
func kindOf(n ast.Node) funnelwatch.Text {
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return text("nothing", "пусто")
	case *ast.MappingNode, *ast.MappingValueNode:
		return text("a map", "набор ключей")
	case *ast.SequenceNode:
		return text("a list", "список")
	case *ast.BoolNode:
		s := fmt.Sprint(v.Value)
		return funnelwatch.Text{EN: s, RU: s}
	default:
		if s := scalarText(n); s != "" {
			q := fmt.Sprintf("%q", s)
			return funnelwatch.Text{EN: q, RU: q}
		}
		return text("a value", "значение")
	}
}
