package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/caps"
	"exokernelul.dev/exo/oci"
	"exokernelul.dev/exo/sentry"
)

// networkFlags are the network options of `do`.
type networkFlags struct {
	mode  string // "none", "sandbox" or "host"
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

// grantContainerNICs opens every interface of exo's network namespace that
// a container's network setup (CNI, docker's libnetwork) configured, as
// NIC capabilities, and returns their configuration for the sentry and
// what gives the host their addresses back. hostNS is the runtime's own
// network namespace (nil: unknown): exo must never take an interface of
// the host's namespace, whose addresses the host itself needs. rate caps
// each interface's egress in bytes per second (0: no cap).
func grantContainerNICs(exo *caps.Exo, hostNS *os.File, rate int64) ([]caps.NICConfig, func(), error) {
	if same, err := sameNetNS(hostNS); err != nil {
		return nil, nil, fmt.Errorf("network: %w", err)
	} else if same {
		slog.Warn("the container's network namespace is the runtime's own: the sandbox gets loopback only")
		return nil, func() {}, nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, nil, fmt.Errorf("network: %w", err)
	}
	var nics []*caps.NIC
	restore := func() {
		for _, n := range nics {
			if err := n.Close(); err != nil {
				slog.Warn("network interface not fully restored", "err", err)
			}
		}
	}
	var cfgs []caps.NICConfig
	for _, ifc := range ifs {
		if !takeable(ifc) {
			continue
		}
		nic, err := caps.OpenNIC(ifc.Name, caps.NICOptions{RateBytes: rate}, slog.Default())
		if err != nil {
			restore()
			return nil, nil, fmt.Errorf("network: %w", err)
		}
		nics = append(nics, nic)
		if rate > 0 {
			slog.Info("network rate quota", "nic", ifc.Name, "bytes_per_second", rate)
		}
		if _, err := exo.GrantNIC(sentry.NICGrant(ifc.Name), nic); err != nil {
			restore()
			return nil, nil, fmt.Errorf("network: %w", err)
		}
		cfgs = append(cfgs, nic.Config)
	}
	return cfgs, restore, nil
}

// takeable says whether the container's network setup configured ifc for
// the container: an Ethernet interface that is up with an address of its
// own (an IPv6 link-local one alone does not count: the kernel adds it to
// any interface that comes up). One another sandbox already took (a
// container sharing another's network namespace) has none left.
func takeable(ifc net.Interface) bool {
	if ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 || len(ifc.HardwareAddr) != 6 {
		return false
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLinkLocalUnicast() {
			return true
		}
	}
	return false
}

// grantDNSForward gives the sentry a datagram socket connected to docker's
// embedded DNS server when the container's resolv.conf names it: that
// server answers at 127.0.0.11 through iptables rules of the host side of
// the container's namespace, which the library OS's own loopback never
// reaches. exo, in that namespace, connects the socket; the sentry only
// reads and writes it.
func grantDNSForward(exo *caps.Exo, spec *specs.Spec) error {
	if !resolvConfNames(spec, sentry.DNSAddr) {
		return nil
	}
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(sentry.DNSAddr, 53)))
	if err != nil {
		return fmt.Errorf("network: dns forwarder: %w", err)
	}
	defer c.Close()
	f, err := c.File()
	if err != nil {
		return fmt.Errorf("network: dns forwarder: %w", err)
	}
	defer f.Close()
	if _, err := exo.GrantFile(sentry.DNSGrant, f, caps.RightRead|caps.RightWrite); err != nil {
		return fmt.Errorf("network: dns forwarder: %w", err)
	}
	return nil
}

// resolvConfNames says whether the resolv.conf the spec mounts on
// /etc/resolv.conf has a nameserver line for addr.
func resolvConfNames(spec *specs.Spec, addr netip.Addr) bool {
	if spec == nil {
		return false
	}
	for _, m := range spec.Mounts {
		if m.Destination != "/etc/resolv.conf" {
			continue
		}
		data, err := os.ReadFile(m.Source)
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "nameserver" && f[1] == addr.String() {
				return true
			}
		}
	}
	return false
}

// sharesHostNetwork says whether the container shares the runtime's
// network, and so gets host sockets (the host-network capability) instead
// of NICs: its spec has no network namespace, or names the runtime's own
// (docker --network=host passes its sandbox key, a bind of the host's
// namespace), which runc would join. exo has joined sbx.NetNS already.
func sharesHostNetwork(sbx *oci.Sandbox, hostNS *os.File) (bool, error) {
	if sbx.HostNetwork {
		return true, nil
	}
	if sbx.NetNS == "" {
		return false, nil
	}
	same, err := sameNetNS(hostNS)
	if err != nil {
		return false, fmt.Errorf("network: %w", err)
	}
	return same, nil
}

// sameNetNS says whether this process's network namespace is hostNS or
// init's.
func sameNetNS(hostNS *os.File) (bool, error) {
	var self unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &self); err != nil {
		return false, fmt.Errorf("own network namespace: %w", err)
	}
	var other unix.Stat_t
	if hostNS != nil {
		if err := unix.Fstat(int(hostNS.Fd()), &other); err != nil {
			return false, fmt.Errorf("runtime's network namespace: %w", err)
		}
		if other.Dev == self.Dev && other.Ino == self.Ino {
			return true, nil
		}
	}
	if err := unix.Stat("/proc/1/ns/net", &other); err == nil && other.Dev == self.Dev && other.Ino == self.Ino {
		return true, nil
	}
	return false, nil
}

// runHooks runs one stage of the spec's hooks. The runtime's stages
// (prestart, createRuntime) run in the runtime's network namespace hostNS
// when exo is in the container's, as runc runs them: a hook that sets up
// the container's network (a CNI call from nerdctl's hook) makes its host
// side there.
func runHooks(spec *specs.Spec, stage string, st specs.State, hostNS *os.File) error {
	if hostNS == nil || (stage != oci.Prestart && stage != oci.CreateRuntime) || len(oci.HooksOf(spec, stage)) == 0 {
		return oci.RunHooks(spec, stage, st)
	}
	return oci.InNetNSFile(hostNS, func() error { return oci.RunHooks(spec, stage, st) })
}
