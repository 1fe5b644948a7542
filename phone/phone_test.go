package phone

import (
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		// The same Russian mobile written the ways managers and Avito write it.
		{"+7 912 345-67-89", "+79123456789", true},
		{"8 (912) 345-67-89", "+79123456789", true},
		{"89123456789", "+79123456789", true},
		{"9123456789", "+79123456789", true},
		{"+7(495)123-45-67", "+74951234567", true},
		{"+7 (812) 555 12 34", "+78125551234", true},
		{"8-800-555-35-35", "+78005553535", true},
		// Not a country code: the library refuses it.
		{"+8 912 345 67 89", "", false},
		// Foreign numbers keep their country code.
		{"+49 30 1234567", "+49301234567", true},
		// Junk is not a phone.
		{"", "", false},
		{"s1nbvc[w/q", "", false},
		{"12", "", false},
	}
	for _, tt := range tests {
		got, ok := Normalize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestKeyFallsBackToDigits(t *testing.T) {
	if got := Key("ext. 1-23"); got != "123" {
		t.Errorf("Key = %q, want 123", got)
	}
	if got := Key("8 912 345 67 89"); got != "+79123456789" {
		t.Errorf("Key = %q, want +79123456789", got)
	}
}

// The fast path for Russian numbers must agree with the library.
func TestRussianAgreesWithLibrary(t *testing.T) {
	for _, in := range []string{"+79123456789", "8 (912) 345-67-89", "89123456789", "9123456789", "+7 (495) 123-45-67",
		"8 812 555 12 34", "+7 3812 12-34-56", "8-800-555-35-35"} {
		fast, ok := russian(in)
		if !ok {
			t.Errorf("russian(%q) not recognised", in)
			continue
		}
		num, err := phonenumbers.Parse(in, DefaultRegion)
		if err != nil {
			t.Fatal(err)
		}
		if lib := phonenumbers.Format(num, phonenumbers.E164); lib != fast {
			t.Errorf("%q: fast path %s, library %s", in, fast, lib)
		}
	}
}

// FuzzNormalize: any text a CRM sends as a phone normalises to E.164 or is
// refused, never panics, and normalising twice changes nothing.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+7 912 345-67-89", "8 (912) 345-67-89", "9123456789", "+49 30 1234567", "s1nbvc[w/q", "", "+", "8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, ok := Normalize(s)
		if !ok {
			if e != "" {
				t.Fatalf("Normalize(%q) refused but returned %q", s, e)
			}
			return
		}
		if e[0] != '+' {
			t.Fatalf("Normalize(%q) = %q, not E.164", s, e)
		}
		if again, ok := Normalize(e); !ok || again != e {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", s, e, e, again, ok)
		}
	})
}
