package oci

import "fmt"

// NetworkRateAnnotation sets the container's egress rate quota in bytes
// per second, which exo enforces on each interface it grants the
// sandbox: a decimal number with an optional K, M or G suffix (powers of
// 1024; "KiB", "MB" and the like are taken too). 0 is no limit.
const NetworkRateAnnotation = "dev.runsc-exo.network-rate"

// ParseNetworkRate parses a NetworkRateAnnotation value.
func ParseNetworkRate(v string) (int64, error) {
	n, err := ParseSize(v)
	if err != nil {
		return 0, fmt.Errorf("annotation %s: %q is not a rate in bytes per second (a number with an optional K, M or G suffix)", NetworkRateAnnotation, v)
	}
	return n, nil
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
