package inet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// DNS forwarding for a resolver that lives in the host side of the
// container's network namespace: docker's embedded DNS server answers at
// 127.0.0.11:53 through iptables rules of that namespace, which the
// library OS's own loopback never reaches. exo grants a UDP socket it
// connected to that address there; the stack answers on the same address
// on its loopback and relays each query through the granted socket. Only
// UDP is relayed: a truncated answer's TCP retry fails, as it does with
// any resolver that answers UDP only.

// dnsRelay is one forwarder: queries get IDs of the relay's own, so
// clients that happen to pick the same ID do not get each other's
// answers. The pending table is bounded by the 16-bit ID space: an ID
// that comes round again replaces the oldest query, long unanswered.
type dnsRelay struct {
	local    *gonet.UDPConn
	upstream *os.File

	mu      sync.Mutex
	next    uint16
	pending map[uint16]dnsQuery // by the ID sent upstream
}

// dnsQuery is whom an answer goes back to, and under which ID.
type dnsQuery struct {
	client net.Addr
	id     uint16
}

// ForwardDNS answers UDP on addr:53 of the loopback interface by relaying
// to upstream, a datagram socket already connected to the real resolver.
// The stack owns upstream from then on.
func (st *Stack) ForwardDNS(addr netip.Addr, upstream *os.File) error {
	if !addr.Is4() || !addr.IsLoopback() {
		return fmt.Errorf("inet: dns forwarder on %s: want an IPv4 loopback address", addr)
	}
	if addr != netip.MustParseAddr("127.0.0.1") {
		// lo holds 127.0.0.1/8, but netstack binds only addresses it was
		// given.
		if err := st.addAddress(LoopbackIndex, netip.PrefixFrom(addr, 32)); err != nil {
			return err
		}
	}
	local, err := gonet.DialUDP(st.s, &tcpip.FullAddress{NIC: LoopbackIndex, Addr: tcpip.AddrFromSlice(addr.AsSlice()), Port: 53}, nil, ipv4.ProtocolNumber)
	if err != nil {
		return fmt.Errorf("inet: dns forwarder on %s:53: %w", addr, err)
	}
	r := &dnsRelay{local: local, upstream: upstream, pending: make(map[uint16]dnsQuery)}
	go r.queries()
	go r.answers()
	return nil
}

// queries relays the clients' queries upstream until the stack closes.
func (r *dnsRelay) queries() {
	defer r.upstream.Close()
	buf := make([]byte, 65536)
	for {
		n, from, err := r.local.ReadFrom(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue // not even a DNS header
		}
		r.mu.Lock()
		r.next++
		id := r.next
		r.pending[id] = dnsQuery{client: from, id: binary.BigEndian.Uint16(buf[:2])}
		r.mu.Unlock()
		binary.BigEndian.PutUint16(buf[:2], id)
		if _, err := r.upstream.Write(buf[:n]); err != nil {
			slog.Debug("dns forwarder: query not sent", "err", err)
		}
	}
}

// answers relays the resolver's answers back to whoever asked.
func (r *dnsRelay) answers() {
	defer r.local.Close()
	buf := make([]byte, 65536)
	for {
		n, err := r.upstream.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			// A connected UDP socket reports an ICMP error from the
			// last send (the resolver went away): the query is lost,
			// the client retries.
			continue
		}
		if n < 12 {
			continue
		}
		id := binary.BigEndian.Uint16(buf[:2])
		r.mu.Lock()
		q, ok := r.pending[id]
		delete(r.pending, id)
		r.mu.Unlock()
		if !ok {
			continue
		}
		binary.BigEndian.PutUint16(buf[:2], q.id)
		r.local.WriteTo(buf[:n], q.client)
	}
}
