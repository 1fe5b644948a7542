package phone

import "testing"

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
