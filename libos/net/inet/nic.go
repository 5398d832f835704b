package inet

import (
	"fmt"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// NICConfig describes an interface exo granted: its frames come and go
// one per record on FD (a SOCK_SEQPACKET socket exo relays and checks).
type NICConfig struct {
	FD     int
	Name   string
	MAC    net.HardwareAddr
	MTU    uint32
	Addrs  []netip.Prefix
	Routes []Route // Index is ignored: the routes are this interface's
	// VnetHdr says each record starts with a virtio-net header: the
	// stack then sends TCP segments up to gsoMaxSize for the host to cut.
	VnetHdr bool
}

// gsoMaxSize is the largest segment the stack hands the host at once.
const gsoMaxSize = 65536

// AddNIC adds the granted interface with its addresses and routes.
func (st *Stack) AddNIC(c NICConfig) error {
	if len(c.MAC) != 6 {
		return fmt.Errorf("inet: nic %q: MAC %v is not Ethernet's", c.Name, c.MAC)
	}
	var gso uint32
	if c.VnetHdr {
		gso = gsoMaxSize
	}
	ep, err := fdbased.New(&fdbased.Options{
		GSOMaxSize:     gso,
		FDs:            []int{c.FD},
		MTU:            c.MTU,
		EthernetHeader: true,
		Address:        tcpip.LinkAddress(c.MAC),
		// Frames from a veth peer carry checksums the host's stack left
		// to be filled in (CHECKSUM_PARTIAL); the host validated what
		// came from a real wire.
		RXChecksumOffload:  true,
		PacketDispatchMode: fdbased.Readv,
		// One processor: the dispatcher delivers each frame to the
		// stack itself. With more (the default is one per P), every
		// frame is handed to a processor goroutine, one more wake-up
		// on the path of each request, for parallelism a sandbox on
		// a few CPUs does not have to spare.
		ProcessorsPerChannel: 1,
	})
	if err != nil {
		return fmt.Errorf("inet: nic %q: %v", c.Name, err)
	}
	st.mu.Lock()
	id := st.nextIndex
	st.nextIndex++
	st.extra[id] = &nicExtra{mtu: c.MTU}
	st.mu.Unlock()
	if err := st.s.CreateNICWithOptions(id, newAckCoalescer(ep), stack.NICOptions{Name: c.Name}); err != nil {
		return fmt.Errorf("inet: nic %q: %s", c.Name, err)
	}
	for _, p := range c.Addrs {
		if err := st.addAddress(id, p); err != nil {
			return err
		}
		if err := addLiteAddress(st.lite, p); err != nil {
			return err
		}
	}
	for _, r := range c.Routes {
		sn, err := subnetOf(r.Dst)
		if err != nil {
			return fmt.Errorf("inet: nic %q: route %s: %v", c.Name, r.Dst, err)
		}
		rt := tcpip.Route{Destination: sn, NIC: id}
		if r.Gateway.IsValid() {
			rt.Gateway = tcpip.AddrFromSlice(r.Gateway.AsSlice())
		}
		st.s.AddRoute(rt)
	}
	return nil
}
