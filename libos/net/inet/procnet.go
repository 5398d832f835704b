package inet

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// sockTable is the stack's open sockets, which /proc/net/{tcp,udp}[6]
// list with the inode fstat shows for them.
type sockTable struct {
	mu sync.Mutex
	m  map[*Socket]struct{}
}

func (t *sockTable) add(s *Socket) {
	t.mu.Lock()
	if t.m == nil {
		t.m = make(map[*Socket]struct{})
	}
	t.m[s] = struct{}{}
	t.mu.Unlock()
}

func (t *sockTable) remove(s *Socket) {
	t.mu.Lock()
	delete(t.m, s)
	t.mu.Unlock()
}

// list is the open sockets by inode.
func (t *sockTable) list() []*Socket {
	t.mu.Lock()
	out := make([]*Socket, 0, len(t.m))
	for s := range t.m {
		out = append(out, s)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b *Socket) int { return cmp.Compare(a.Ino(), b.Ino()) })
	return out
}

// ProcNetFiles are the files of /proc/net the stack makes (ProcNet).
var ProcNetFiles = []string{"dev", "if_inet6", "route", "snmp", "tcp", "tcp6", "udp", "udp6", "udplite", "udplite6"}

// ProcNet is the content of /proc/net/NAME, in Linux's format; false if
// the stack does not make that file.
func (st *Stack) ProcNet(name string) ([]byte, bool) {
	var b strings.Builder
	switch name {
	case "dev":
		st.procDev(&b)
	case "if_inet6":
		st.procIfInet6(&b)
	case "route":
		st.procRoute(&b)
	case "snmp":
		st.procSNMP(&b)
	case "tcp":
		st.procSockets(&b, unix.AF_INET, unix.IPPROTO_TCP)
	case "tcp6":
		st.procSockets(&b, unix.AF_INET6, unix.IPPROTO_TCP)
	case "udp":
		st.procSockets(&b, unix.AF_INET, unix.IPPROTO_UDP)
	case "udp6":
		st.procSockets(&b, unix.AF_INET6, unix.IPPROTO_UDP)
	case "udplite":
		st.procSockets(&b, unix.AF_INET, unix.IPPROTO_UDPLITE)
	case "udplite6":
		st.procSockets(&b, unix.AF_INET6, unix.IPPROTO_UDPLITE)
	default:
		return nil, false
	}
	return []byte(b.String()), true
}

// padLine ends a line of a seq_file that Linux pads with spaces to width
// (seq_setwidth and seq_pad).
func padLine(b *strings.Builder, line string, width int) {
	b.WriteString(line)
	for i := len(line); i < width; i++ {
		b.WriteByte(' ')
	}
	b.WriteByte('\n')
}

func (st *Stack) procDev(b *strings.Builder) {
	b.WriteString("Inter-|   Receive                                                |  Transmit\n" +
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n")
	info := st.s.NICInfo()
	for _, ifc := range st.Interfaces() {
		s := info[tcpip.NICID(ifc.Index)].Stats
		rxb, rxp := s.Rx.Bytes.Value(), s.Rx.Packets.Value()
		txb, txp := s.Tx.Bytes.Value(), s.Tx.Packets.Value()
		var txDrop uint64
		if s.TxPacketsDroppedNoBufferSpace != nil {
			txDrop = s.TxPacketsDroppedNoBufferSpace.Value()
		}
		fmt.Fprintf(b, "%6s: %7d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d\n",
			ifc.Name, rxb, rxp, 0, 0, 0, 0, 0, 0, txb, txp, 0, txDrop, 0, 0, 0, 0)
	}
}

func (st *Stack) procIfInet6(b *strings.Builder) {
	for _, ifc := range st.Interfaces() {
		for _, p := range ifc.Addrs {
			if !p.Addr().Is6() || p.Addr().Is4In6() {
				continue
			}
			a := p.Addr()
			// Scope as ipv6_addr_scope gives it: global 0, host
			// (loopback) 0x10, link 0x20, site 0x40.
			scope := 0
			switch {
			case a.IsLoopback():
				scope = 0x10
			case a.IsLinkLocalUnicast():
				scope = 0x20
			}
			// Flags: IFA_F_PERMANENT (0x80), as for configured
			// addresses.
			a16 := a.As16()
			fmt.Fprintf(b, "%x %02x %02x %02x %02x %8s\n", a16[:], ifc.Index, p.Bits(), scope, 0x80, ifc.Name)
		}
	}
}

// hex32 is an IPv4 address as /proc/net shows it: the network-order word
// printed as a host-order (little-endian) number.
func hex32(a []byte) string {
	if len(a) != 4 {
		return "00000000"
	}
	return fmt.Sprintf("%08X", binary.LittleEndian.Uint32(a))
}

// hex128 is an IPv6 address as /proc/net shows it: four words each
// printed as hex32 does.
func hex128(a []byte) string {
	switch len(a) {
	case 16:
	case 4:
		// A v4 address on an AF_INET6 socket is v4-mapped.
		a = append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, a...)
	default:
		return strings.Repeat("0", 32)
	}
	return hex32(a[0:4]) + hex32(a[4:8]) + hex32(a[8:12]) + hex32(a[12:16])
}

// RTF_* flags of /proc/net/route.
const (
	rtfUp      = 0x1
	rtfGateway = 0x2
)

func (st *Stack) procRoute(b *strings.Builder) {
	padLine(b, "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT", 127)
	names := make(map[int32]Interface)
	for _, ifc := range st.Interfaces() {
		names[ifc.Index] = ifc
	}
	for _, r := range st.Routes() {
		ifc := names[r.Index]
		// lo's routes are the local table's, which this file (the
		// main table) does not show.
		if !r.Dst.Addr().Is4() || ifc.Loopback {
			continue
		}
		name := ifc.Name
		if name == "" {
			name = "*"
		}
		flags := rtfUp
		gw := "00000000"
		if r.Gateway.IsValid() {
			flags |= rtfGateway
			gw = hex32(r.Gateway.AsSlice())
		}
		mask := make([]byte, 4)
		for i := range mask {
			bits := min(max(r.Dst.Bits()-8*i, 0), 8)
			mask[i] = byte(0xff << (8 - bits))
		}
		padLine(b, fmt.Sprintf("%s\t%s\t%s\t%04X\t%d\t%d\t%d\t%s\t%d\t%d\t%d",
			name, hex32(r.Dst.Masked().Addr().AsSlice()), gw, flags, 0, 0, 0, hex32(mask), 0, 0, 0), 127)
	}
}

func (st *Stack) procSNMP(b *strings.Builder) {
	s := st.s.Stats()
	v := func(c *tcpip.StatCounter) uint64 {
		if c == nil {
			return 0
		}
		return c.Value()
	}
	row := func(name, keys string, vals ...any) {
		b.WriteString(name + ": " + keys + "\n" + name + ":")
		for _, x := range vals {
			fmt.Fprintf(b, " %v", x)
		}
		b.WriteByte('\n')
	}
	ip := s.IP
	// Forwarding 2 is "not a router", as net.ipv4.ip_forward 0 says.
	row("Ip", "Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits",
		2, 64, v(ip.PacketsReceived), v(ip.MalformedPacketsReceived), v(ip.InvalidDestinationAddressesReceived), 0, 0, 0,
		v(ip.PacketsDelivered), v(ip.PacketsSent), v(ip.OutgoingPacketErrors), 0, 0, 0, 0, 0, 0, 0, 0, v(ip.PacketsSent))
	in, out := s.ICMP.V4.PacketsReceived, s.ICMP.V4.PacketsSent
	inMsgs := v(in.EchoRequest) + v(in.EchoReply) + v(in.DstUnreachable) + v(in.SrcQuench) + v(in.Redirect) +
		v(in.TimeExceeded) + v(in.ParamProblem) + v(in.Timestamp) + v(in.TimestampReply)
	outMsgs := v(out.EchoRequest) + v(out.EchoReply) + v(out.DstUnreachable) + v(out.SrcQuench) + v(out.Redirect) +
		v(out.TimeExceeded) + v(out.ParamProblem) + v(out.Timestamp) + v(out.TimestampReply)
	row("Icmp", "InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps",
		inMsgs, v(in.Invalid), 0, v(in.DstUnreachable), v(in.TimeExceeded), v(in.ParamProblem), v(in.SrcQuench), v(in.Redirect),
		v(in.EchoRequest), v(in.EchoReply), v(in.Timestamp), v(in.TimestampReply), 0, 0,
		outMsgs, v(out.Dropped), 0, v(out.RateLimited), v(out.DstUnreachable), v(out.TimeExceeded), v(out.ParamProblem), v(out.SrcQuench), v(out.Redirect),
		v(out.EchoRequest), v(out.EchoReply), v(out.Timestamp), v(out.TimestampReply), 0, 0)
	t := s.TCP
	// RtoAlgorithm 1 (other), RtoMin 200 ms, RtoMax 120 s, MaxConn -1
	// (dynamic), as Linux reports.
	row("Tcp", "RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors",
		1, 200, 120000, -1, v(t.ActiveConnectionOpenings), v(t.PassiveConnectionOpenings), v(t.FailedConnectionAttempts),
		v(t.EstablishedResets), v(t.CurrentEstablished), v(t.ValidSegmentsReceived), v(t.SegmentsSent), v(t.Retransmits),
		v(t.InvalidSegmentsReceived)+v(t.ChecksumErrors), v(t.ResetsSent), v(t.ChecksumErrors))
	u := s.UDP
	row("Udp", "InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors",
		v(u.PacketsReceived), v(u.UnknownPortErrors), v(u.ReceiveBufferErrors)+v(u.MalformedPacketsReceived)+v(u.ChecksumErrors),
		v(u.PacketsSent), v(u.ReceiveBufferErrors), v(u.PacketSendErrors), v(u.ChecksumErrors), 0, 0)
	// UDP-Lite's are the UDP counters of its own stack (udplite.go).
	u = st.lite.Stats().UDP
	row("UdpLite", "InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors",
		v(u.PacketsReceived), v(u.UnknownPortErrors), v(u.ReceiveBufferErrors)+v(u.MalformedPacketsReceived)+v(u.ChecksumErrors),
		v(u.PacketsSent), v(u.ReceiveBufferErrors), v(u.PacketSendErrors), v(u.ChecksumErrors), 0, 0)
}

// Linux's TCP states as /proc/net/tcp numbers them (TCP_CLOSE etc.).
const (
	tcpEstablished = 1
	tcpSynSent     = 2
	tcpClose       = 7
	tcpListen      = 10
)

// procState is the socket's state as Linux numbers it, and whether
// Linux lists the socket: a TCP socket only once it listens or connects
// (a bound one is in no table /proc/net/tcp walks), a UDP socket once it
// has a port.
func (s *Socket) procState(local tcpip.FullAddress) (int, bool) {
	if s.typ == unix.SOCK_STREAM {
		switch st := tcp.EndpointState(s.ep.State()); st {
		case tcp.StateInitial, tcp.StateBound, tcp.StateClose, tcp.StateError:
			return tcpClose, false
		case tcp.StateConnecting:
			return tcpSynSent, true
		default:
			// netstack numbers its TCP states as Linux does.
			return int(st), true
		}
	}
	if local.Port == 0 {
		return tcpClose, false
	}
	if transport.DatagramEndpointState(s.ep.State()) == transport.DatagramEndpointStateConnected {
		return tcpEstablished, true
	}
	return tcpClose, true
}

// procSockets writes /proc/net/{tcp,udp,udplite}[6]: the sockets of
// family and proto (IPPROTO_TCP, IPPROTO_UDP or IPPROTO_UDPLITE).
func (st *Stack) procSockets(b *strings.Builder, family, proto int) {
	v6 := family == unix.AF_INET6
	tcpFile := proto == unix.IPPROTO_TCP
	switch {
	case tcpFile && !v6:
		padLine(b, "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode", 149)
	case !tcpFile && !v6:
		padLine(b, "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops", 127)
	case tcpFile:
		b.WriteString("  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	default:
		b.WriteString("  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n")
	}
	n := 0
	for _, s := range st.socks.list() {
		if s.family != family || s.typ == unix.SOCK_RAW || s.proto != proto {
			continue
		}
		local, _ := s.ep.GetLocalAddress()
		state, ok := s.procState(local)
		if !ok {
			continue
		}
		remote, _ := s.ep.GetRemoteAddress()
		txq, rxq := queueSize(s.ep, tcpip.SendQueueSizeOption), queueSize(s.ep, tcpip.ReceiveQueueSizeOption)
		addr := hex32
		if v6 {
			addr = hex128
		}
		la := addr(local.Addr.AsSlice()) + fmt.Sprintf(":%04X", local.Port)
		ra := addr(remote.Addr.AsSlice()) + fmt.Sprintf(":%04X", remote.Port)
		uid := s.owner()
		var line string
		if tcpFile {
			last := -1
			if state == tcpListen {
				last = 0
			}
			line = fmt.Sprintf("%4d: %s %s %02X %08X:%08X %02X:%08X %08X %5d %8d %d %d %016x %d %d %d %d %d",
				n, la, ra, state, txq, rxq, 0, 0, 0, uid, 0, s.Ino(), 1, 0, 100, 0, 0, 10, last)
		} else {
			line = fmt.Sprintf("%5d: %s %s %02X %08X:%08X %02X:%08X %08X %5d %8d %d %d %016x %d",
				n, la, ra, state, txq, rxq, 0, 0, 0, uid, 0, s.Ino(), 2, 0, 0)
		}
		switch {
		case v6:
			b.WriteString(line + "\n")
		case tcpFile:
			padLine(b, line, 149)
		default:
			padLine(b, line, 127)
		}
		n++
	}
}

// SetOwner records the uid of the socket's creator, which /proc/net
// shows.
func (s *Socket) SetOwner(uid uint32) {
	s.mu.Lock()
	s.uid = uid
	s.mu.Unlock()
}

func (s *Socket) owner() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uid
}

// queueSize is a queue's byte count; 0 where the endpoint has none.
func queueSize(ep tcpip.Endpoint, opt tcpip.SockOptInt) int {
	n, err := ep.GetSockOptInt(opt)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
