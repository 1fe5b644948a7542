package ru

import "testing"

func TestMoney(t *testing.T) {
	for v, want := range map[float64]string{0: "0\u00a0₽", 999: "999\u00a0₽", 999.5: "1\u202f000\u00a0₽", 1150000: "1\u202f150\u202f000\u00a0₽",
		1234567.4: "1\u202f234\u202f567\u00a0₽", -1500: "−1\u202f500\u00a0₽", -2500: "−2\u202f500\u00a0₽"} {
		if got := Money(v); got != want {
			t.Errorf("Money(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{1: "нарушение", 2: "нарушения", 4: "нарушения", 5: "нарушений", 11: "нарушений",
		12: "нарушений", 14: "нарушений", 21: "нарушение", 22: "нарушения", 111: "нарушений", 0: "нарушений"} {
		if got := Plural(n, "нарушение", "нарушения", "нарушений"); got != want {
			t.Errorf("Plural(%d) = %q, want %q", n, got, want)
		}
	}
	if Decimal(12.34) != "12,3" {
		t.Errorf("Decimal(12.34) = %q", Decimal(12.34))
	}
}
