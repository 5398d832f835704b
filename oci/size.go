package oci

import (
	"errors"
	"strconv"
	"strings"
)

// errSize is ParseSize's error; callers say what the size was for.
var errSize = errors.New("not a size (a number with an optional K, M, G or T suffix)")

// ParseSize parses a byte count as docker's and runc's flags write it: a
// decimal number with an optional K, M, G or T suffix (powers of 1024),
// in either case, optionally followed by "i", "b" or "ib" ("512m", "2G",
// "64KiB", "1MB").
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	if n := len(t); n > 1 && t[n-1] == 'i' && strings.ContainsRune("kmgt", rune(t[n-2])) {
		t = t[:n-1]
	}
	mult := int64(1)
	if n := len(t); n > 1 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, errSize
	}
	return n * mult, nil
}
