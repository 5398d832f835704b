package oci

import (
	"fmt"
	"strconv"
	"strings"
)

// NetworkRateAnnotation sets the container's egress rate quota in bytes
// per second, which exo enforces on each interface it grants the
// sandbox: a decimal number with an optional K, M or G suffix (powers of
// 1024; "KiB", "MB" and the like are taken too). 0 is no limit.
const NetworkRateAnnotation = "dev.runsc-exo.network-rate"

// ParseNetworkRate parses a NetworkRateAnnotation value.
func ParseNetworkRate(v string) (int64, error) {
	num := strings.ToUpper(strings.TrimSpace(v))
	for _, unit := range []string{"IB", "B", "I"} {
		if k := len(num) - len(unit); k > 1 && strings.HasSuffix(num, unit) && strings.ContainsRune("KMG", rune(num[k-1])) {
			num = num[:k]
			break
		}
	}
	mult := int64(1)
	if k := len(num) - 1; k > 0 {
		switch num[k] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			num = num[:k]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("annotation %s: %q is not a rate in bytes per second (a number with an optional K, M or G suffix)", NetworkRateAnnotation, v)
	}
	return n * mult, nil
}

// translateNetworkRate reads the rate quota annotation into sb.
func translateNetworkRate(ann map[string]string, sb *Sandbox) error {
	v, ok := ann[NetworkRateAnnotation]
	if !ok {
		return nil
	}
	r, err := ParseNetworkRate(v)
	if err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	sb.NetworkRate = r
	return nil
}
