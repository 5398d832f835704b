package oci

import (
	"strings"
	"testing"
)

func TestParseNetworkRate(t *testing.T) {
	good := map[string]int64{
		"0": 0, "1000": 1000, "200K": 200 << 10, "200k": 200 << 10, "3M": 3 << 20,
		"1G": 1 << 30, "64KiB": 64 << 10, "5MB": 5 << 20, " 7 ": 7, "2Gi": 2 << 30,
	}
	for v, want := range good {
		got, err := ParseNetworkRate(v)
		if err != nil || got != want {
			t.Errorf("ParseNetworkRate(%q) = %d, %v; want %d", v, got, err, want)
		}
	}
	for _, v := range []string{"", "K", "-1", "1.5M", "fast", "99999999999G", "1KK"} {
		_, err := ParseNetworkRate(v)
		if err == nil || !strings.Contains(err.Error(), NetworkRateAnnotation) {
			t.Errorf("ParseNetworkRate(%q): %v, want an error naming the annotation", v, err)
		}
	}
}
