// Package phone normalises telephone numbers to E.164 so that the same
// client written as "8 (912) 345-67-89" and "+7 912 345 67 89" is one
// contact, and a missed call and its callback can be matched.
package phone

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// DefaultRegion is assumed for numbers written without a country code; the
// product's users are in Russia.
const DefaultRegion = "RU"

// Normalize returns the E.164 form of s ("+79123456789"), or "" and false
// when s is not a plausible phone number.
func Normalize(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false
	}
	if e, ok := russian(s); ok {
		return e, true
	}
	num, err := phonenumbers.Parse(s, DefaultRegion)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", false
	}
	e := phonenumbers.Format(num, phonenumbers.E164)
	// A key must be stable: the E.164 form must read back as itself (the
	// library maps keypad letters and national prefixes in ways that do
	// not always round-trip on nonsense input).
	if again, err := phonenumbers.Parse(e, DefaultRegion); err != nil || phonenumbers.Format(again, phonenumbers.E164) != e {
		return "", false
	}
	return e, true
}

// Key returns the E.164 form of s when it normalises, else s with
// everything but digits removed, so that comparisons still work on numbers
// the library cannot parse (short internal extensions, for instance).
func Key(s string) string {
	if e, ok := Normalize(s); ok {
		return e
	}
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// russian recognises the forms Russian numbers are written in — "+7 912
// 345-67-89", "8 (912) 345-67-89", "89123456789", "9123456789" — without
// the general parser, which is far slower and sees these numbers on every
// deal and call. Anything else goes to the library.
func russian(s string) (string, bool) {
	var d [16]byte
	n := 0
	plus := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(d) {
				return "", false
			}
			d[n] = c
			n++
		case c == '+' && n == 0 && !plus:
			plus = true
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '.':
		default:
			return "", false
		}
	}
	digits := string(d[:n])
	switch {
	case n == 11 && digits[0] == '7':
		return "+" + digits, mobileOrGeo(digits[1:])
	case n == 11 && digits[0] == '8' && !plus:
		return "+7" + digits[1:], mobileOrGeo(digits[1:])
	case n == 10 && !plus && digits[0] == '9':
		return "+7" + digits, true
	}
	return "", false
}

// mobileOrGeo reports whether a ten-digit Russian national number starts
// like a real one: 9xx mobiles and 3xx, 4xx, 8xx geographic and service
// codes.
func mobileOrGeo(national string) bool {
	switch national[0] {
	case '3', '4', '8', '9':
		return true
	}
	return false
}
