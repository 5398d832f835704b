package netlink

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/net/inet"
)

func request(typ, flags uint16, seq uint32, body []byte) []byte {
	b := make([]byte, nlmsgHdrLen, nlmsgHdrLen+len(body))
	binary.LittleEndian.PutUint32(b, uint32(nlmsgHdrLen+len(body)))
	binary.LittleEndian.PutUint16(b[4:], typ)
	binary.LittleEndian.PutUint16(b[6:], flags)
	binary.LittleEndian.PutUint32(b[8:], seq)
	return append(b, body...)
}

// messages splits the datagrams the socket has queued into messages.
func messages(t *testing.T, s *Socket) [][]byte {
	t.Helper()
	var out [][]byte
	buf := make([]byte, 65536)
	for {
		r, err := s.Recv(buf, 0)
		if err == unix.EAGAIN {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		for b := buf[:r.N]; len(b) >= nlmsgHdrLen; {
			l := int(binary.LittleEndian.Uint32(b))
			if l < nlmsgHdrLen || l > len(b) {
				t.Fatalf("bad message length %d of %d", l, len(b))
			}
			out = append(out, append([]byte(nil), b[:l]...))
			b = b[min(align4(l), len(b)):]
		}
	}
}

func TestDumps(t *testing.T) {
	st, err := inet.NewStack()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(st, unix.SOCK_RAW, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	port := binary.LittleEndian.Uint32(s.Name()[4:])
	for _, tc := range []struct {
		typ     uint16
		family  byte
		want    uint16
		wantNum int
	}{
		{unix.RTM_GETLINK, unix.AF_UNSPEC, unix.RTM_NEWLINK, 1},
		{unix.RTM_GETADDR, unix.AF_UNSPEC, unix.RTM_NEWADDR, 2},
		{unix.RTM_GETADDR, unix.AF_INET, unix.RTM_NEWADDR, 1},
		{unix.RTM_GETROUTE, unix.AF_INET6, unix.RTM_NEWROUTE, 1},
	} {
		body := make([]byte, 16)
		body[0] = tc.family
		if _, err := s.Send(request(tc.typ, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 7, body), nil, 0); err != nil {
			t.Fatal(err)
		}
		port = binary.LittleEndian.Uint32(s.Name()[4:])
		msgs := messages(t, s)
		if len(msgs) != tc.wantNum+1 {
			t.Errorf("request %d family %d: %d messages, want %d and NLMSG_DONE", tc.typ, tc.family, len(msgs), tc.wantNum)
			continue
		}
		for i, m := range msgs {
			typ := binary.LittleEndian.Uint16(m[4:])
			want := tc.want
			if i == len(msgs)-1 {
				want = unix.NLMSG_DONE
			}
			if typ != want || binary.LittleEndian.Uint32(m[8:]) != 7 || binary.LittleEndian.Uint32(m[12:]) != port {
				t.Errorf("request %d: message %d: type %d seq %d port %d", tc.typ, i, typ, binary.LittleEndian.Uint32(m[8:]), binary.LittleEndian.Uint32(m[12:]))
			}
		}
	}
	// A change is refused, with the request's header echoed.
	if _, err := s.Send(request(unix.RTM_NEWADDR, unix.NLM_F_REQUEST|unix.NLM_F_ACK, 9, make([]byte, 8)), nil, 0); err != nil {
		t.Fatal(err)
	}
	msgs := messages(t, s)
	if len(msgs) != 1 || binary.LittleEndian.Uint16(msgs[0][4:]) != unix.NLMSG_ERROR ||
		int32(binary.LittleEndian.Uint32(msgs[0][16:])) != -int32(unix.EPERM) || binary.LittleEndian.Uint32(msgs[0][28:]) != 9 {
		t.Errorf("RTM_NEWADDR answer: %x", msgs)
	}
	if _, err := New(st, unix.SOCK_RAW, unix.NETLINK_AUDIT); err != unix.EPROTONOSUPPORT {
		t.Errorf("NETLINK_AUDIT: %v", err)
	}
}
