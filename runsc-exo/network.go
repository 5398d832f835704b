package main

import (
	"fmt"
	"log/slog"
	"net"

	"exokernelul.dev/exo/caps"
	"exokernelul.dev/exo/sentry"
)

// networkFlags are the network options of `do`.
type networkFlags struct {
	mode  string // "none" or "sandbox"
	iface string
	rate  int64
}

// grantNetwork opens the interface --network=sandbox asks for as a NIC
// capability and returns its configuration for the sentry.
func grantNetwork(exo *caps.Exo, nf networkFlags) ([]caps.NICConfig, error) {
	if nf.mode != "sandbox" {
		return nil, nil
	}
	name := nf.iface
	if name == "" {
		ifs, err := net.Interfaces()
		if err != nil {
			return nil, fmt.Errorf("--network=sandbox: %w", err)
		}
		var cands []string
		for _, i := range ifs {
			if i.Flags&net.FlagLoopback == 0 {
				cands = append(cands, i.Name)
			}
		}
		if len(cands) != 1 {
			return nil, fmt.Errorf("--network=sandbox: the netns has %d non-loopback interfaces %v: pick one with --network-interface", len(cands), cands)
		}
		name = cands[0]
	}
	nic, err := caps.OpenNIC(name, caps.NICOptions{RateBytes: nf.rate}, slog.Default())
	if err != nil {
		return nil, fmt.Errorf("--network=sandbox: %w", err)
	}
	if _, err := exo.GrantNIC(sentry.NICGrant(name), nic); err != nil {
		return nil, fmt.Errorf("--network=sandbox: %w", err)
	}
	return []caps.NICConfig{nic.Config}, nil
}
