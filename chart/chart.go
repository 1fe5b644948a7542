// Package chart draws the reports' charts as PNG images (for Telegram
// photos and e-mail) with github.com/wcharczuk/go-chart/v2, in the Go
// fonts, which have Cyrillic.
package chart

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/golang/freetype/truetype"
	gochart "github.com/wcharczuk/go-chart/v2"
	"github.com/wcharczuk/go-chart/v2/drawing"
	"golang.org/x/image/font/gofont/goregular"
)

// Bar is one bar: a label under it and its value.
type Bar struct {
	Label string
	Value float64
}

var (
	fontOnce sync.Once
	font     *truetype.Font
	fontErr  error
)

func goFont() (*truetype.Font, error) {
	fontOnce.Do(func() { font, fontErr = truetype.Parse(goregular.TTF) })
	return font, fontErr
}

// Colours of the product: violations red, the rest slate.
var (
	Red   = drawing.Color{R: 0xc6, G: 0x28, B: 0x28, A: 255}
	Slate = drawing.Color{R: 0x45, G: 0x5a, B: 0x64, A: 255}
)

// Bars draws a bar chart of width×height pixels. Bars with the highest
// value are drawn in colour; labels wrap under their bars.
func Bars(title string, bars []Bar, width, height int, colour drawing.Color) ([]byte, error) {
	if len(bars) == 0 {
		return nil, fmt.Errorf("chart %q: no bars", title)
	}
	f, err := goFont()
	if err != nil {
		return nil, err
	}
	values := make([]gochart.Value, 0, len(bars))
	maxV := 0.0
	for _, b := range bars {
		values = append(values, gochart.Value{Label: b.Label, Value: b.Value,
			Style: gochart.Style{FillColor: colour, StrokeColor: colour, StrokeWidth: 1}})
		maxV = max(maxV, b.Value)
	}
	if maxV == 0 {
		maxV = 1 // an all-zero chart still has an axis
	}
	barWidth := max(20, (width-120)/len(bars)-20)
	c := gochart.BarChart{
		Title:      title,
		TitleStyle: gochart.Style{FontSize: 14},
		Font:       f,
		Width:      width,
		Height:     height,
		BarWidth:   barWidth,
		BarSpacing: 20,
		Background: gochart.Style{Padding: gochart.Box{Top: 40, Left: 10, Right: 10, Bottom: 45}}, // room for labels of two lines
		XAxis:      gochart.Style{FontSize: 8},
		YAxis: gochart.YAxis{
			Style: gochart.Style{FontSize: 9},
			Range: &gochart.ContinuousRange{Min: 0, Max: maxV * 1.1},
			ValueFormatter: func(v any) string {
				if x, ok := v.(float64); ok {
					return fmt.Sprintf("%.0f", x)
				}
				return ""
			},
		},
		Bars: values,
	}
	var buf bytes.Buffer
	if err := c.Render(gochart.PNG, &buf); err != nil {
		return nil, fmt.Errorf("chart %q: %w", title, err)
	}
	return buf.Bytes(), nil
}
