package inet

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// segment builds an outgoing IPv4 TCP segment from port src to 80 with the
// given flags, acknowledgement number, options and payload.
func segment(src uint16, flags header.TCPFlags, ack uint32, opts []byte, payload string) *stack.PacketBuffer {
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		ReserveHeaderBytes: header.IPv4MinimumSize + header.TCPMinimumSize + len(opts),
		Payload:            buffer.MakeWithData([]byte(payload)),
	})
	tcp := header.TCP(pkt.TransportHeader().Push(header.TCPMinimumSize + len(opts)))
	tcp.Encode(&header.TCPFields{
		SrcPort: src, DstPort: 80, AckNum: ack, Flags: flags,
		DataOffset: uint8(header.TCPMinimumSize + len(opts)), WindowSize: 1000,
	})
	copy(tcp[header.TCPMinimumSize:], opts)
	ip := header.IPv4(pkt.NetworkHeader().Push(header.IPv4MinimumSize))
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(pkt.Size()), Protocol: uint8(header.TCPProtocolNumber), TTL: 64,
		SrcAddr: tcpip.AddrFrom4([4]byte{10, 0, 0, 1}), DstAddr: tcpip.AddrFrom4([4]byte{10, 0, 0, 2}),
	})
	pkt.NetworkProtocolNumber = header.IPv4ProtocolNumber
	pkt.TransportProtocolNumber = header.TCPProtocolNumber
	return pkt
}

func write(t *testing.T, c *ackCoalescer, pkt *stack.PacketBuffer) {
	t.Helper()
	var l stack.PacketBufferList
	l.PushBack(pkt)
	if n, err := c.WritePackets(l); n != 1 || err != nil {
		t.Fatalf("WritePackets: %d, %v", n, err)
	}
	l.DecRef()
}

// sent drains ch and returns each packet's TCP flags and payload size.
func sent(ch *channel.Endpoint) []string {
	var out []string
	for {
		pkt := ch.Read()
		if pkt == nil {
			return out
		}
		tcp := header.TCP(pkt.TransportHeader().Slice())
		out = append(out, fmt.Sprintf("%s/%d", strings.ReplaceAll(tcp.Flags().String(), " ", ""), pkt.Data().Size()))
		pkt.DecRef()
	}
}

func TestAckCoalescer(t *testing.T) {
	sack := []byte{header.TCPOptionNOP, header.TCPOptionNOP, header.TCPOptionSACK, 10, 0, 0, 0, 1, 0, 0, 0, 2}
	for _, tc := range []struct {
		name string
		segs []*stack.PacketBuffer
		now  []string // sent at once
	}{
		{"a pure ACK is held", []*stack.PacketBuffer{segment(1, header.TCPFlagAck, 100, nil, "")}, nil},
		{"data carries the held ACK", []*stack.PacketBuffer{
			segment(1, header.TCPFlagAck, 100, nil, ""),
			segment(1, header.TCPFlagAck|header.TCPFlagPsh, 100, nil, "abc"),
		}, []string{"PA/3"}},
		{"a second pure ACK sends the first", []*stack.PacketBuffer{
			segment(1, header.TCPFlagAck, 100, nil, ""),
			segment(1, header.TCPFlagAck, 100, nil, ""),
		}, []string{"A/0"}},
		{"another connection's data does not", []*stack.PacketBuffer{
			segment(1, header.TCPFlagAck, 100, nil, ""),
			segment(2, header.TCPFlagAck, 7, nil, "xy"),
		}, []string{"A/2"}},
		{"SACK blocks go at once", []*stack.PacketBuffer{segment(1, header.TCPFlagAck, 100, sack, "")}, []string{"A/0"}},
		{"a FIN goes at once after the held ACK it supersedes", []*stack.PacketBuffer{
			segment(1, header.TCPFlagAck, 100, nil, ""),
			segment(1, header.TCPFlagAck|header.TCPFlagFin, 101, nil, ""),
		}, []string{"FA/0"}},
		{"a segment acknowledging less is sent after the held ACK", []*stack.PacketBuffer{
			segment(1, header.TCPFlagAck, 100, nil, ""),
			segment(1, header.TCPFlagAck|header.TCPFlagPsh, 90, nil, "a"),
		}, []string{"A/0", "PA/1"}},
		{"a SYN is not held", []*stack.PacketBuffer{segment(1, header.TCPFlagSyn|header.TCPFlagAck, 1, nil, "")}, []string{"SA/0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := channel.New(16, 1500, "")
			c := newAckCoalescer(ch)
			for _, s := range tc.segs {
				write(t, c, s)
			}
			if got := sent(ch); !slices.Equal(got, tc.now) {
				t.Fatalf("sent at once %v, want %v", got, tc.now)
			}
			c.mu.Lock()
			held := len(c.held)
			c.mu.Unlock()
			// What is still held goes out once ackDelay has passed.
			deadline := time.Now().Add(ackDelay + 2*time.Second)
			var late []string
			for len(late) < held && time.Now().Before(deadline) {
				time.Sleep(ackDelay / 2)
				late = append(late, sent(ch)...)
			}
			if len(late) != held {
				t.Fatalf("held %d, sent %v after the delay", held, late)
			}
			for _, s := range late {
				if s != "A/0" {
					t.Errorf("sent %s after the delay, want only pure ACKs", s)
				}
			}
			c.Close()
		})
	}
}
