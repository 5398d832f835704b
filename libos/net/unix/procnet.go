package unix

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// soAcceptCon is __SO_ACCEPTCON, the Flags bit of a listening socket.
const soAcceptCon = 1 << 16

// Socket states /proc/net/unix shows (socket_state's SS_*).
const (
	ssUnconnected = 1
	ssConnected   = 3
)

// ProcNet is /proc/net/unix: every open socket of the namespace, in
// Linux's format (af_unix.c's unix_seq_show), ordered by inode. The
// kernel pointer Linux shows first is zero, as with kptr_restrict.
func (ns *Namespace) ProcNet() []byte {
	ns.liveMu.Lock()
	socks := make([]*Socket, 0, len(ns.live))
	for s := range ns.live {
		socks = append(socks, s)
	}
	ns.liveMu.Unlock()
	slices.SortFunc(socks, func(a, b *Socket) int { return cmp.Compare(a.Ino(), b.Ino()) })
	var b strings.Builder
	b.WriteString("Num       RefCount Protocol Flags    Type St Inode Path\n")
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for _, s := range socks {
		if s.closed {
			continue
		}
		flags, st := 0, ssUnconnected
		if s.state == listening {
			flags = soAcceptCon
		}
		if s.state == connected {
			st = ssConnected
		}
		fmt.Fprintf(&b, "%016x: %08X %08X %08X %04X %02X %5d", 0, 2, 0, flags, int(s.typ), st, s.Ino())
		if s.addr != "" {
			b.WriteByte(' ')
			name := s.addr
			if name[0] == 0 {
				b.WriteByte('@')
				name = name[1:]
			}
			b.WriteString(strings.ReplaceAll(name, "\x00", "@"))
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}
