package inet

import (
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/nested"
	"gvisor.dev/gvisor/pkg/tcpip/seqnum"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// ackDelay is how long a pure TCP ACK may wait on the NIC for a segment
// of the same connection to carry it instead. Linux delays ACKs by 40 ms
// at least; this bound only has to cover the time a sandboxed server
// takes to answer (a few trapped syscalls), and it stays far below any
// peer's retransmission timeout (200 ms at least).
const ackDelay = 5 * time.Millisecond

// ackCoalescer is the NIC's link endpoint with delayed ACKs on egress.
//
// gVisor's TCP acknowledges every segment it receives at once, from the
// goroutine that processed it, so a request-response server sends each
// request's ACK in a frame of its own and its answer, carrying the same
// ACK, a moment later: under redis-benchmark, two frames to the peer per
// request where Linux sends one. Every frame costs the sandbox a send
// through exo and the peer a receive. The coalescer holds back a pure ACK
// (no data, no SYN, FIN or RST, no SACK blocks) until another segment of
// the same connection goes out, which then carries the acknowledgement
// and the ACK is dropped, or until ackDelay has passed, when it is sent.
//
// At most one ACK is held per connection: a second pure ACK sends the
// first, so a bulk receiver's ACK clock and duplicate ACKs (fast
// retransmit counts them) are kept, each late by one ACK at most.
type ackCoalescer struct {
	nested.Endpoint

	// mu guards held and armed; packets are written with mu released.
	mu    sync.Mutex
	held  map[flowKey]heldAck
	armed bool
}

// flowKey names one TCP connection by its sending side's view.
type flowKey struct {
	proto            tcpip.NetworkProtocolNumber
	src, dst         tcpip.Address
	srcPort, dstPort uint16
}

// heldAck is a pure ACK waiting to be sent or superseded.
type heldAck struct {
	pkt *stack.PacketBuffer
	ack seqnum.Value
	at  time.Time
}

// newAckCoalescer wraps child, the NIC's link endpoint.
func newAckCoalescer(child stack.LinkEndpoint) *ackCoalescer {
	c := &ackCoalescer{held: make(map[flowKey]heldAck)}
	c.Endpoint.Init(child, c)
	return c
}

// tcpSegment reads what the coalescer needs of an outgoing packet: its
// connection, acknowledgement number, and whether it is a pure ACK that
// may be held. ok is false for anything but TCP with the ACK flag.
func tcpSegment(pkt *stack.PacketBuffer) (k flowKey, ack seqnum.Value, pure, ok bool) {
	if pkt.TransportProtocolNumber != header.TCPProtocolNumber {
		return k, 0, false, false
	}
	k.proto = pkt.NetworkProtocolNumber
	switch k.proto {
	case header.IPv4ProtocolNumber:
		ip := header.IPv4(pkt.NetworkHeader().Slice())
		if len(ip) < header.IPv4MinimumSize {
			return k, 0, false, false
		}
		k.src, k.dst = ip.SourceAddress(), ip.DestinationAddress()
	case header.IPv6ProtocolNumber:
		ip := header.IPv6(pkt.NetworkHeader().Slice())
		if len(ip) < header.IPv6MinimumSize {
			return k, 0, false, false
		}
		k.src, k.dst = ip.SourceAddress(), ip.DestinationAddress()
	default:
		return k, 0, false, false
	}
	tcp := header.TCP(pkt.TransportHeader().Slice())
	if len(tcp) < header.TCPMinimumSize || int(tcp.DataOffset()) > len(tcp) {
		return k, 0, false, false
	}
	flags := tcp.Flags()
	if !flags.Contains(header.TCPFlagAck) {
		return k, 0, false, false
	}
	k.srcPort, k.dstPort = tcp.SourcePort(), tcp.DestinationPort()
	ack = seqnum.Value(tcp.AckNumber())
	pure = flags == header.TCPFlagAck && pkt.Data().Size() == 0 && !hasSACK(tcp.Options())
	return k, ack, pure, true
}

// hasSACK says whether TCP options opts carry SACK blocks.
func hasSACK(opts []byte) bool {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case header.TCPOptionEOL:
			return false
		case header.TCPOptionNOP:
			i++
			continue
		case header.TCPOptionSACK:
			return true
		}
		if i+1 >= len(opts) || opts[i+1] < 2 {
			return false
		}
		i += int(opts[i+1])
	}
	return false
}

// WritePackets implements stack.LinkEndpoint: pure ACKs are held, and a
// segment of a connection with a held ACK supersedes it (or, if it does
// not acknowledge as much, is sent after it).
func (c *ackCoalescer) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	var out stack.PacketBufferList
	var drop []*stack.PacketBuffer
	held := 0
	c.mu.Lock()
	for _, pkt := range pkts.AsSlice() {
		k, ack, pure, ok := tcpSegment(pkt)
		if !ok {
			out.PushBack(pkt.IncRef())
			continue
		}
		if h, ok := c.held[k]; ok {
			delete(c.held, k)
			if !pure && !ack.LessThan(h.ack) {
				drop = append(drop, h.pkt)
			} else {
				out.PushBack(h.pkt)
			}
		}
		if pure {
			c.held[k] = heldAck{pkt: pkt.IncRef(), ack: ack, at: time.Now()}
			held++
			continue
		}
		out.PushBack(pkt.IncRef())
	}
	if len(c.held) > 0 && !c.armed {
		c.armed = true
		time.AfterFunc(ackDelay, c.flushDue)
	}
	c.mu.Unlock()
	for _, p := range drop {
		p.DecRef()
	}
	if out.Len() == 0 {
		return held, nil
	}
	n, err := c.Endpoint.WritePackets(out)
	out.DecRef()
	return min(n+held, pkts.Len()), err
}

// flushDue sends the ACKs held for ackDelay and rearms for the rest.
func (c *ackCoalescer) flushDue() {
	var out stack.PacketBufferList
	now := time.Now()
	c.mu.Lock()
	var next time.Duration
	for k, h := range c.held {
		if wait := ackDelay - now.Sub(h.at); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		delete(c.held, k)
		out.PushBack(h.pkt)
	}
	c.armed = len(c.held) > 0
	if c.armed {
		time.AfterFunc(next, c.flushDue)
	}
	c.mu.Unlock()
	if out.Len() > 0 {
		c.Endpoint.WritePackets(out)
		out.DecRef()
	}
}

// Close implements stack.LinkEndpoint: held ACKs are dropped.
func (c *ackCoalescer) Close() {
	c.mu.Lock()
	for k, h := range c.held {
		delete(c.held, k)
		h.pkt.DecRef()
	}
	c.mu.Unlock()
	c.Endpoint.Close()
}
