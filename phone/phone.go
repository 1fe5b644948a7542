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
	num, err := phonenumbers.Parse(s, DefaultRegion)
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return "", false
	}
	return phonenumbers.Format(num, phonenumbers.E164), true
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
