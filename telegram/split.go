package telegram

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits of the Bot API, counted in characters after entity parsing.
const (
	MessageLimit = 4096 // sendMessage text
	CaptionLimit = 1024 // sendPhoto caption
)

// Escape makes s safe as text in an HTML-mode message: Telegram's HTML
// knows only &lt; &gt; &amp; &quot;, and "_" or "*" are plain characters
// there (they matter only in Markdown modes).
func Escape(s string) string {
	return htmlEscaper.Replace(s)
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

// token is a piece of an HTML message: a tag, or one visible character
// (an entity counts as the one character it stands for).
type token struct {
	raw     string
	tag     string // the tag's name; "" for text
	closing bool
	vis     int // visible length in UTF-16 code units, as Telegram counts
}

// tokenize cuts an HTML-mode message into tags and visible characters. A
// stray "<" or "&" that starts no tag or entity is taken as text (it would
// be rejected by Telegram; Escape the text parts to avoid it).
func tokenize(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			if j := strings.IndexByte(s[i:], '>'); j > 0 {
				raw := s[i : i+j+1]
				name := strings.TrimPrefix(raw[1:len(raw)-1], "/")
				if k := strings.IndexAny(name, " \t\n"); k >= 0 {
					name = name[:k]
				}
				out = append(out, token{raw: raw, tag: strings.ToLower(name), closing: strings.HasPrefix(raw, "</")})
				i += j + 1
				continue
			}
		case '&':
			if j := entityLen(s[i:]); j > 0 {
				out = append(out, token{raw: s[i : i+j], vis: 1})
				i += j
				continue
			}
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		out = append(out, token{raw: s[i : i+n], vis: utf16.RuneLen(r)})
		if out[len(out)-1].vis < 1 {
			out[len(out)-1].vis = 1
		}
		i += n
	}
	return out
}

// entityLen returns the length of the entity s begins with (0: none): a
// named one (letters) or a numeric one (&#digits; or &#xhex;), as
// Telegram reads them. Anything else after "&" is text: taking "&</;" for
// an entity, a part whose closing tag followed a stray "&" counted that
// tag's end as visible text.
func entityLen(s string) int {
	i := 1
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	hex := func(c byte) bool { return digit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }
	letter := func(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
	ok := letter
	if i < len(s) && s[i] == '#' {
		i, ok = i+1, digit
		if i < len(s) && s[i]|0x20 == 'x' {
			i, ok = i+1, hex
		}
	}
	from := i
	for i < len(s) && i <= 10 && ok(s[i]) {
		i++
	}
	if i == from || i >= len(s) || s[i] != ';' {
		return 0
	}
	return i + 1
}

// Split cuts an HTML-mode message into parts of at most limit visible
// characters, between lines where it can, else between words, else
// anywhere between characters; tags open at a cut are closed at the end
// of the part and opened again at the start of the next, so every part is
// valid on its own. Parts with nothing visible are dropped.
func Split(html string, limit int) []string {
	if limit <= 0 {
		limit = MessageLimit
	}
	toks := tokenize(html)
	var parts []string
	var open []token // tags open at the start of the part being built
	for start := 0; start < len(toks); {
		end, vis, lastLine, lastSpace := start, 0, -1, -1
		for end < len(toks) && vis+toks[end].vis <= limit {
			vis += toks[end].vis
			switch toks[end].raw {
			case "\n":
				lastLine = end + 1
			case " ":
				lastSpace = end + 1
			}
			end++
		}
		if end < len(toks) {
			switch {
			case lastLine > start:
				end = lastLine
			case lastSpace > start:
				end = lastSpace
			case end == start:
				end = start + 1 // one character wider than the limit: send it alone
			}
		}
		var b strings.Builder
		for _, t := range open {
			b.WriteString(t.raw)
		}
		visible := false
		stack := append([]token(nil), open...)
		stop := end // the whitespace at the cut is dropped, not sent
		for stop > start && toks[stop-1].tag == "" && strings.TrimSpace(toks[stop-1].raw) == "" {
			stop--
		}
		for _, t := range toks[start:stop] {
			b.WriteString(t.raw)
			switch {
			case t.tag == "":
				if strings.TrimSpace(t.raw) != "" {
					visible = true
				}
			case t.closing:
				for k := len(stack) - 1; k >= 0; k-- {
					if stack[k].tag == t.tag {
						stack = append(stack[:k], stack[k+1:]...)
						break
					}
				}
			case !strings.HasSuffix(t.raw, "/>"):
				stack = append(stack, t)
			}
		}
		for k := len(stack) - 1; k >= 0; k-- {
			b.WriteString("</" + stack[k].tag + ">")
		}
		if visible {
			parts = append(parts, strings.TrimSpace(b.String()))
		}
		open, start = stack, end
	}
	return parts
}

// visible returns the visible length of an HTML-mode text.
func visible(html string) int {
	n := 0
	for _, t := range tokenize(html) {
		n += t.vis
	}
	return n
}

// Visible returns the length of an HTML-mode text as Telegram counts it:
// characters after entity parsing, in UTF-16 code units.
func Visible(html string) int { return visible(html) }

// CheckHTML reports what Telegram's HTML parser would refuse: unbalanced
// tags, or a raw "<", ">" or "&" outside an entity.
func CheckHTML(s string) error {
	var stack []string
	for _, t := range tokenize(s) {
		switch {
		case t.tag != "" && t.closing:
			if len(stack) == 0 || stack[len(stack)-1] != t.tag {
				return fmt.Errorf("unmatched end tag %q", t.raw)
			}
			stack = stack[:len(stack)-1]
		case t.tag != "":
			stack = append(stack, t.tag)
		case t.raw == "<" || t.raw == "&" || t.raw == ">":
			return fmt.Errorf("unsupported start tag at %q", t.raw)
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("can't find end tag corresponding to start tag %q", stack[len(stack)-1])
	}
	return nil
}
