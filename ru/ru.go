// Package ru writes numbers the way Russian readers expect them: roubles
// with thin-space thousands, a decimal comma, and the plural forms of a
// noun after a number.
package ru

import (
	"fmt"
	"strings"
)

// Money writes whole roubles: 1 150 000 ₽ (narrow no-break spaces
// between thousands, a no-break space before the sign).
func Money(v float64) string {
	n := int64(v + 0.5)
	if v < 0 {
		n = int64(v - 0.5)
	}
	s := fmt.Sprint(n)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "−", s[1:]
	}
	var b strings.Builder
	b.WriteString(sign)
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(r)
	}
	return b.String() + "\u00a0₽"
}

// Decimal writes x with one decimal and a comma: 12,3.
func Decimal(x float64) string {
	return strings.Replace(fmt.Sprintf("%.1f", x), ".", ",", 1)
}

// Plural picks the form of a noun after n: 1 нарушение, 2 нарушения,
// 5 нарушений, 11 нарушений, 21 нарушение.
func Plural(n int, one, few, many string) string {
	if n < 0 {
		n = -n
	}
	switch {
	case n%10 == 1 && n%100 != 11:
		return one
	case n%10 >= 2 && n%10 <= 4 && (n%100 < 12 || n%100 > 14):
		return few
	}
	return many
}
