package web

import (
	"fmt"
	"math"
)

// The charts are SVG drawn on the server: no script, nothing to fetch,
// so they work offline. Go computes the geometry; the templates write
// the elements, escaped like any other text.

// hbar is a row of a horizontal bar chart.
type hbar struct {
	Label string
	Value string // as shown
	Href  string
	Class string // the bar's CSS class ("bar-v" when empty)
	Y     int
	W     float64 // bar width in px
}

// hchart is a horizontal bar chart: a label column, bars, values.
type hchart struct {
	Rows          []hbar
	Width, Height int
	BarX          int // where bars start
	BarMax        int // the longest bar
	RowH, BarH    int
}

func newHChart(labels, values []string, counts []float64, hrefs []string) hchart {
	c := hchart{Width: 560, BarX: 190, BarMax: 300, RowH: 26, BarH: 16}
	max := 0.0
	for _, v := range counts {
		max = math.Max(max, v)
	}
	for i := range labels {
		w := 0.0
		if max > 0 {
			w = counts[i] / max * float64(c.BarMax)
		}
		if counts[i] > 0 && w < 2 {
			w = 2
		}
		c.Rows = append(c.Rows, hbar{Label: clip(labels[i], 26), Value: values[i], Href: hrefs[i], Y: i * c.RowH, W: w})
	}
	c.Height = len(c.Rows)*c.RowH + 4
	return c
}

// vbar is a day of the trend: violations stacked under remarks.
type vbar struct {
	Label, Title   string
	Href           string
	X              int
	VY, VH, RY, RH float64
}

// vchart is the trend by day.
type vchart struct {
	Bars          []vbar
	Width, Height int
	Base          int // the baseline's y
	BarW          int
	Max           int
}

func newVChart(labels, titles, hrefs []string, violations, remarks []int) vchart {
	c := vchart{Height: 170, Base: 140, BarW: 28}
	step := 40
	c.Width = len(labels)*step + 10
	for i := range labels {
		c.Max = max(c.Max, violations[i]+remarks[i])
	}
	scale := 0.0
	if c.Max > 0 {
		scale = 120 / float64(c.Max)
	}
	for i := range labels {
		vh, rh := float64(violations[i])*scale, float64(remarks[i])*scale
		c.Bars = append(c.Bars, vbar{Label: labels[i], Title: titles[i], Href: hrefs[i], X: 5 + i*step + (step-c.BarW)/2,
			VY: float64(c.Base) - vh, VH: vh, RY: float64(c.Base) - vh - rh, RH: rh})
	}
	return c
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func itoa(n int) string { return fmt.Sprint(n) }
