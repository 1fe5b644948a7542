package chart

import (
	"bytes"
	"image/png"
	"testing"
)

func TestBarsIsAPNG(t *testing.T) {
	b, err := Bars("Нарушения по этапам", []Bar{{"Целевой клиент", 12}, {"Готов к выдаче", 30}, {"Контакт установлен", 0}}, 800, 400, Red)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); r.Dx() != 800 || r.Dy() != 400 {
		t.Fatalf("image %v", r)
	}
	// The tallest bar is drawn in the colour given: some pixels are red.
	red := 0
	for y := 0; y < 400; y++ {
		for x := 0; x < 800; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r>>8 == 0xc6 && g>>8 == 0x28 && b>>8 == 0x28 {
				red++
			}
		}
	}
	if red < 1000 {
		t.Fatalf("%d red pixels: the bars were not drawn", red)
	}
	if _, err := Bars("пусто", nil, 800, 400, Red); err == nil {
		t.Fatal("a chart of no bars was drawn")
	}
}
