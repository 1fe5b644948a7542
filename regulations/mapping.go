package regulations

import (
	"fmt"
	"math"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/funnelwatch/funnelwatch"
)

// Typed reads of maps and lists. Each read marks its key as known, so
// that what is left over at the end is a typo; each wrong type or bad
// value is reported with the key's path and the value's line, and the
// read returns the zero value so that decoding goes on and finds the
// other errors too.

// entry is one key of a mapping.
type entry struct {
	key  string
	at   pos      // the key's position
	val  ast.Node // resolved value (nil: null or unresolvable)
	used bool
}

// mapping is a YAML map being decoded: lookups mark keys used, and done
// reports the keys nobody asked for — the typos.
type mapping struct {
	d       *decoder
	path    string
	at      pos
	entries []*entry
	asked   []string
}

// key returns the dotted path of a key of m.
func (m *mapping) key(k string) string {
	if m.path == "" {
		return k
	}
	return m.path + "." + k
}

// asMap reads n as a map. It reports a wrong type and returns nil.
func (d *decoder) asMap(n ast.Node, path string, at pos) *mapping {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	m := &mapping{d: d, path: path, at: at}
	switch v := n.(type) {
	case *ast.MappingNode:
		m.at = posOf(v)
		d.addEntries(m, v.Values, 0)
	case *ast.MappingValueNode:
		m.at = posOf(v)
		d.addEntries(m, []*ast.MappingValueNode{v}, 0)
	default:
		d.errorf(posOf(n), path, "want a map of keys, got %s", "нужен набор ключей (ключ: значение), а здесь %s", kindOf(n))
		return nil
	}
	return m
}

// addEntries adds key/value pairs to m, expanding merge keys (`<<: *x`):
// keys written in the map itself win over merged ones.
func (d *decoder) addEntries(m *mapping, values []*ast.MappingValueNode, depth int) {
	var merges []ast.Node
	for _, mv := range values {
		if mv == nil || mv.Key == nil {
			continue
		}
		if mv.Key.IsMergeKey() {
			merges = append(merges, mv.Value)
			continue
		}
		k := scalarText(mv.Key)
		at := posOf(mv.Key)
		if k == "" {
			d.errorf(at, m.path, "a key must be a plain word, got %s", "ключ должен быть простым словом, а здесь %s", kindOf(mv.Key))
			continue
		}
		if first := m.lookup(k); first != nil {
			d.errorf(at, m.key(k), "key %s is written twice (first at line %d)", "ключ %s указан дважды (первый раз — в строке %d)", k, first.at.line)
			continue
		}
		m.entries = append(m.entries, &entry{key: k, at: at, val: d.resolve(mv.Value)})
	}
	for _, mn := range merges {
		if depth > 8 {
			d.errorf(m.at, m.path, "merge keys (<<) nest too deep", "слияния ключей (<<) вложены слишком глубоко")
			return
		}
		src := d.resolve(mn)
		var maps []ast.Node
		if s, ok := src.(*ast.SequenceNode); ok {
			maps = s.Values
		} else {
			maps = []ast.Node{src}
		}
		for _, x := range maps {
			switch v := d.resolve(x).(type) {
			case *ast.MappingNode:
				sub := &mapping{d: d, path: m.path, at: m.at}
				d.addEntries(sub, v.Values, depth+1)
				for _, e := range sub.entries {
					if m.lookup(e.key) == nil {
						m.entries = append(m.entries, e)
					}
				}
			case nil:
			default:
				d.errorf(posOf(mn), m.path, "<< must merge a map, got %s", "<< должен подставлять набор ключей, а здесь %s", kindOf(v))
			}
		}
	}
}

func (m *mapping) lookup(k string) *entry {
	for _, e := range m.entries {
		if e.key == k {
			return e
		}
	}
	return nil
}

// get returns the entry for k and marks it used; nil if absent or null.
func (m *mapping) get(k string) *entry {
	m.asked = append(m.asked, k)
	e := m.lookup(k)
	if e == nil {
		return nil
	}
	e.used = true
	if isNull(e.val) {
		return nil
	}
	return e
}

// has reports whether k is written with a value.
func (m *mapping) has(k string) bool {
	e := m.lookup(k)
	return e != nil && !isNull(e.val)
}

// valPos is where e's value is, or its key when the value has no place.
func (e *entry) valPos() pos {
	if e.val == nil {
		return e.at
	}
	return posOf(e.val)
}

// done reports every key that was not asked for. rule, if any, is the
// quality rule the map is ("unknown key limit for rule no_next_task").
func (m *mapping) done(rule string) {
	var suffix funnelwatch.Text
	if rule != "" {
		suffix = text(" for rule %s", " для правила %s", rule)
	}
	for _, e := range m.entries {
		if e.used {
			continue
		}
		var hint funnelwatch.Text
		if s := suggest(e.key, m.asked); s != "" {
			hint = text(" (did you mean %s?)", " (может быть, %s?)", s)
		}
		m.d.errorf(e.at, m.key(e.key), "unknown key %s%s%s", "неизвестный ключ %s%s%s", e.key, suffix, hint)
	}
}

// suggest returns the known key closest to a misspelt one, if any is close.
func suggest(k string, known []string) string {
	best, bestD := "", 3
	for _, c := range known {
		if c == k {
			continue
		}
		if d := editDistance(k, c); d < bestD || (strings.HasPrefix(k, c+"_") && bestD > 2) {
			best, bestD = c, min(d, 2)
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// str reads a scalar as text; numbers keep their written form (a Telegram
// chat id written as 100500 is the string "100500").
func (m *mapping) str(k string) (string, *entry) {
	e := m.get(k)
	if e == nil {
		return "", nil
	}
	s, ok := m.d.scalar(e.val, m.key(k))
	if !ok {
		return "", nil
	}
	return s, e
}

// scalar reads n as text, reporting a list or a map.
func (d *decoder) scalar(n ast.Node, key string) (string, bool) {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		d.errorf(posOf(n), key, "want a single value, got %s", "нужно одно значение, а здесь %s", kindOf(n))
		return "", false
	case nil, *ast.NullNode:
		return "", false
	}
	return strings.TrimSpace(scalarText(n)), true
}

// required reads a text key that must be present and non-empty.
func (m *mapping) required(k string) (string, *entry) {
	e := m.get(k)
	if e == nil {
		at := m.at
		if raw := m.lookup(k); raw != nil {
			at = raw.at
		}
		m.d.errorf(at, m.key(k), "%s is required", "не указан обязательный ключ %s", k)
		return "", nil
	}
	s, ok := m.d.scalar(e.val, m.key(k))
	if !ok {
		return "", nil
	}
	if s == "" {
		m.d.errorf(e.valPos(), m.key(k), "%s must not be empty", "ключ %s не может быть пустым", k)
		return "", nil
	}
	return s, e
}

// boolean reads true or false.
func (m *mapping) boolean(k string) bool {
	e := m.get(k)
	if e == nil {
		return false
	}
	b, ok := e.val.(*ast.BoolNode)
	if !ok {
		m.d.errorf(e.valPos(), m.key(k), "want true or false, got %s", "нужно true или false, а здесь %s", kindOf(e.val))
		return false
	}
	return b.Value
}

// integer reads a whole number of at least lo.
func (m *mapping) integer(k string, lo int) (int, bool) {
	e := m.get(k)
	if e == nil {
		return 0, false
	}
	var n int64
	switch v := e.val.(type) {
	case *ast.IntegerNode:
		switch x := v.Value.(type) {
		case int64:
			n = x
		case uint64:
			n = math.MaxInt32
			if x < math.MaxInt32 {
				n = int64(x)
			}
		}
	default:
		m.d.errorf(e.valPos(), m.key(k), "want a whole number, got %s", "нужно целое число, а здесь %s", kindOf(e.val))
		return 0, false
	}
	if n < int64(lo) || n > math.MaxInt32 {
		m.d.errorf(e.valPos(), m.key(k), "want a whole number from %d, got %d", "нужно целое число не меньше %d, а здесь %d", lo, n)
		return 0, false
	}
	return int(n), true
}

// number reads a number greater than gt.
func (m *mapping) number(k string, gt float64) (float64, bool) {
	e := m.get(k)
	if e == nil {
		return 0, false
	}
	var f float64
	switch v := e.val.(type) {
	case *ast.IntegerNode:
		switch x := v.Value.(type) {
		case int64:
			f = float64(x)
		case uint64:
			f = float64(x)
		}
	case *ast.FloatNode:
		f = v.Value
	default:
		m.d.errorf(e.valPos(), m.key(k), "want a number, got %s", "нужно число, а здесь %s", kindOf(e.val))
		return 0, false
	}
	if !(f > gt) || math.IsInf(f, 0) {
		m.d.errorf(e.valPos(), m.key(k), "want a number greater than %g, got %s", "нужно число больше %g, а здесь %s", gt, scalarText(e.val))
		return 0, false
	}
	return f, true
}

// item is one element of a list, with its path and place.
type item struct {
	node ast.Node
	path string
	at   pos
}

// list reads k as a list. With single set, a lone scalar stands for a
// list of one (`notify: supervisor`).
func (m *mapping) list(k string, single bool) ([]item, *entry) {
	e := m.get(k)
	if e == nil {
		return nil, nil
	}
	return m.d.asList(e.val, m.key(k), single), e
}

func (d *decoder) asList(n ast.Node, path string, single bool) []item {
	switch v := n.(type) {
	case *ast.SequenceNode:
		items := make([]item, 0, len(v.Values))
		for i, x := range v.Values {
			r := d.resolve(x)
			at := posOf(x)
			if r != nil {
				at = posOf(r)
			}
			// An alias's own place is more useful than its anchor's.
			if _, ok := x.(*ast.AliasNode); ok {
				at = posOf(x)
			}
			items = append(items, item{node: r, path: fmt.Sprintf("%s[%d]", path, i), at: at})
		}
		return items
	case nil, *ast.NullNode:
		return nil
	case *ast.MappingNode, *ast.MappingValueNode:
		d.errorf(posOf(n), path, "want a list, got a map", "нужен список, а здесь набор ключей")
		return nil
	default:
		if single {
			return []item{{node: n, path: path, at: posOf(n)}}
		}
		d.errorf(posOf(n), path, "want a list like [a, b], got %s", "нужен список вида [a, b], а здесь %s", kindOf(n))
		return nil
	}
}

// texts reads k as a list of non-empty texts (a lone text with single).
func (m *mapping) texts(k string, single bool) ([]string, []item) {
	items, _ := m.list(k, single)
	var out []string
	var kept []item
	for _, it := range items {
		s, ok := m.d.scalar(it.node, it.path)
		if !ok {
			if isNull(it.node) {
				m.d.errorf(it.at, it.path, "empty list item", "пустой элемент списка")
			}
			continue
		}
		if s == "" {
			m.d.errorf(it.at, it.path, "empty list item", "пустой элемент списка")
			continue
		}
		out = append(out, s)
		kept = append(kept, it)
	}
	return out, kept
}
