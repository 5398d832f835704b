package oci

import "testing"

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"4096", 4096, true},
		{"512m", 512 << 20, true},
		{"2G", 2 << 30, true},
		{"64KiB", 64 << 10, true},
		{"1MB", 1 << 20, true},
		{"3kb", 3 << 10, true},
		{"1t", 1 << 40, true},
		{" 7K ", 7 << 10, true},
		{"", 0, false},
		{"k", 0, false},
		{"-1", 0, false},
		{"1.5g", 0, false},
		{"12x", 0, false},
		{"99999999999999g", 0, false},
	} {
		got, err := ParseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}
