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
// capability and returns its configuration for the sentry, and what gives
// the host the interface's addresses back when the sandbox is done.
func grantNetwork(exo *caps.Exo, nf networkFlags) ([]caps.NICConfig, func(), error) {
	if nf.mode != "sandbox" {
		return nil, func() {}, nil
	}
	name := nf.iface
	if name == "" {
		ifs, err := net.Interfaces()
		if err != nil {
			return nil, nil, fmt.Errorf("--network=sandbox: %w", err)
		}
		var cands []string
		for _, i := range ifs {
			if i.Flags&net.FlagLoopback == 0 {
				cands = append(cands, i.Name)
			}
		}
		if len(cands) != 1 {
			return nil, nil, fmt.Errorf("--network=sandbox: the netns has %d non-loopback interfaces %v: pick one with --network-interface", len(cands), cands)
		}
		name = cands[0]
	}
	nic, err := caps.OpenNIC(name, caps.NICOptions{RateBytes: nf.rate}, slog.Default())
	if err != nil {
		return nil, nil, fmt.Errorf("--network=sandbox: %w", err)
	}
	restore := func() {
		if err := nic.Close(); err != nil {
			slog.Warn("network interface not fully restored", "err", err)
		}
	}
	if _, err := exo.GrantNIC(sentry.NICGrant(name), nic); err != nil {
		restore()
		return nil, nil, fmt.Errorf("--network=sandbox: %w", err)
	}
	return []caps.NICConfig{nic.Config}, restore, nil
}
