package caps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type served struct {
	exo    *Exo
	conn   *net.UnixConn // the sentry end
	done   chan error    // Serve's result
	audit  *logBuf
	exoEnd *net.UnixConn
}

// serve starts exo on one end of a fresh socket pair.
func serve(t *testing.T, exo *Exo) *served {
	t.Helper()
	exoEnd, sentryEnd, err := SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	s := &served{exo: exo, conn: sentryEnd, exoEnd: exoEnd, done: make(chan error, 1)}
	go func() { s.done <- exo.Serve(exoEnd) }()
	t.Cleanup(func() {
		sentryEnd.Close()
		exoEnd.Close()
		exo.Close()
	})
	return s
}

func (s *served) waitServe(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the peer hung up")
		return nil
	}
}

func newExo(t *testing.T) (*Exo, *logBuf) {
	log, audit := testLogger(t)
	return NewExo(log), audit
}

func byName(t *testing.T, gs []Grant) map[string]Grant {
	t.Helper()
	m := map[string]Grant{}
	for _, g := range gs {
		if _, dup := m[g.Name]; dup {
			t.Fatalf("two grants named %q", g.Name)
		}
		m[g.Name] = g
	}
	return m
}

func TestProtocol(t *testing.T) {
	needRoot(t)
	exo, audit := newExo(t)
	memID, err := exo.GrantMemory("memory", 3*pageSize+1)
	if err != nil {
		t.Fatal(err)
	}
	root := makeTree(t)
	dirID, err := exo.GrantDir("rootfs", root, RightRead|RightWrite|RightGrant)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	outID, err := exo.GrantFile("stdout", pw, RightWrite|RightGrant)
	if err != nil {
		t.Fatal(err)
	}
	pw.Close() // exo keeps its own descriptor
	if _, err := exo.GrantFile("stdin", openDevNull(t, os.O_RDONLY), RightRead); err != nil {
		t.Fatal(err)
	}
	if _, err := exo.GrantFile("bad", openDevNull(t, os.O_RDONLY), RightWrite); !errors.Is(err, ErrInvalid) {
		t.Errorf("granting write on a read-only fd = %v, want ErrInvalid", err)
	}

	s := serve(t, exo)
	c := NewClient(s.conn)

	gs, err := c.Grants()
	if err != nil {
		t.Fatal(err)
	}
	defer closeGrants(gs)
	g := byName(t, gs)
	if len(gs) != 4 {
		t.Fatalf("got %d grants, want 4: %+v", len(gs), gs)
	}
	for _, tc := range []struct {
		name   string
		id     ID
		kind   Kind
		rights Rights
		size   int64
	}{
		{"memory", memID, KindMemory, RightRead | RightWrite | RightMap, 4 * pageSize},
		{"rootfs", dirID, KindDir, RightRead | RightWrite | RightGrant, 0},
		{"stdout", outID, KindFile, RightWrite | RightGrant, 0},
	} {
		got := g[tc.name]
		if got.ID != tc.id || got.Kind != tc.kind || got.Rights != tc.rights || got.Size != tc.size {
			t.Errorf("grant %q = {%d %s %s %d}, want {%d %s %s %d}", tc.name,
				got.ID, got.Kind, got.Rights, got.Size, tc.id, tc.kind, tc.rights, tc.size)
		}
	}
	for _, gr := range gs {
		if !isCloexec(t, gr.File) {
			t.Errorf("received fd for %q is not close-on-exec", gr.Name)
		}
	}

	// Memory: map it and see the writes through exo's own copy.
	mem := g["memory"]
	m, err := unix.Mmap(fileFD(t, mem.File), 0, int(mem.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap granted memory: %v", err)
	}
	copy(m[pageSize:], "frame")
	unix.Munmap(m)
	ef, _, err := exo.Table().Dup(memID, KindMemory, RightRead)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := ef.ReadAt(buf, pageSize); err != nil || string(buf) != "frame" {
		t.Errorf("exo reads %q, %v", buf, err)
	}
	ef.Close()
	if err := unix.Ftruncate(fileFD(t, mem.File), 2*mem.Size); !errors.Is(err, unix.EPERM) {
		t.Errorf("sentry grows its memory: %v", err)
	}

	// Dir: files beneath it, and no way out.
	if got := readIn(t, g["rootfs"].File, "sub/file"); got != "data" {
		t.Errorf("read through granted dir = %q", got)
	}
	checkEscapes(t, g["rootfs"].File)

	// Stdout: the sentry writes, the host reads.
	if _, err := g["stdout"].File.WriteString("hello"); err != nil {
		t.Fatalf("write granted stdout: %v", err)
	}
	buf = make([]byte, 5)
	if _, err := io.ReadFull(pr, buf); err != nil || string(buf) != "hello" {
		t.Errorf("host reads %q, %v", buf, err)
	}

	// Attenuate over the wire: rw dir -> ro dir, enforced by a new RO clone.
	ro, err := c.Attenuate(dirID, RightRead|RightGrant)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.File.Close()
	if ro.Kind != KindDir || ro.Rights != RightRead|RightGrant || ro.Name != "rootfs" || ro.ID == dirID {
		t.Errorf("attenuated grant = %+v", ro)
	}
	if got := readIn(t, ro.File, "sub/file"); got != "data" {
		t.Errorf("read through attenuated dir = %q", got)
	}
	if f, err := openIn(ro.File, "sub/file", unix.O_WRONLY); !errors.Is(err, unix.EROFS) {
		if f != nil {
			f.Close()
		}
		t.Errorf("write through attenuated dir = %v, want EROFS", err)
	}
	checkEscapes(t, ro.File)
	// The original rw grant still writes.
	if f, err := openIn(g["rootfs"].File, "sub/file", unix.O_WRONLY); err != nil {
		t.Errorf("write through rw dir after attenuation: %v", err)
	} else {
		f.Close()
	}
	// ro -> ro keeps going: a dup of an already read-only clone.
	ro2, err := c.Attenuate(ro.ID, RightRead)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := openIn(ro2.File, "sub/new", unix.O_WRONLY|unix.O_CREAT); !errors.Is(err, unix.EROFS) {
		if f != nil {
			f.Close()
		}
		t.Errorf("create through ro->ro dir = %v, want EROFS", err)
	}
	ro2.File.Close()

	// Denials over the wire come back as comparable errors.
	if _, err := c.Attenuate(memID, RightRead); !errors.Is(err, ErrDenied) {
		t.Errorf("attenuate memory (no grant right) = %v, want ErrDenied", err)
	}
	if _, err := c.Attenuate(outID, RightRead|RightWrite); !errors.Is(err, ErrDenied) {
		t.Errorf("amplifying attenuate = %v, want ErrDenied", err)
	}
	if _, err := c.Attenuate(12345, RightRead); !errors.Is(err, ErrNotFound) {
		t.Errorf("attenuate unknown = %v, want ErrNotFound", err)
	}
	w, err := c.Attenuate(outID, RightWrite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.File.WriteString("again"); err != nil {
		t.Errorf("write attenuated stdout: %v", err)
	}
	w.File.Close()
	if _, err := io.ReadFull(pr, buf); err != nil || string(buf) != "again" {
		t.Errorf("host reads %q, %v", buf, err)
	}

	// Revoke the rw dir: its attenuated children go with it.
	if err := c.Revoke(dirID); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(dirID); !errors.Is(err, ErrRevoked) {
		t.Errorf("second revoke = %v, want ErrRevoked", err)
	}
	if _, err := c.Attenuate(ro.ID, RightRead); !errors.Is(err, ErrRevoked) {
		t.Errorf("attenuate child of revoked = %v, want ErrRevoked", err)
	}
	gs2, err := c.Grants()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, gr := range gs2 {
		names[gr.Name]++
	}
	closeGrants(gs2)
	if names["rootfs"] != 0 || names["memory"] != 1 || names["stdout"] != 2 {
		t.Errorf("grants after revoke: %v", names)
	}
	revoked := 0
	for _, h := range exo.Handles() {
		if h.Revoked {
			revoked++
			if h.Name != "rootfs" {
				t.Errorf("handle %d %q revoked", h.ID, h.Name)
			}
		}
	}
	if revoked != 3 {
		t.Errorf("%d handles revoked, want 3 (rootfs and its 2 derivations)", revoked)
	}
	// Revocation cannot recall fds already sent: the sentry's copy still works.
	if got := readIn(t, g["rootfs"].File, "sub/file"); got != "data" {
		t.Errorf("sentry's existing dir fd after revoke: %q", got)
	}

	for _, msg := range []string{"caps: grant", "caps: attenuate", "caps: revoke", "caps: denied"} {
		if audit.count(msg) == 0 {
			t.Errorf("audit log lacks %q", msg)
		}
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.waitServe(t); err != nil {
		t.Errorf("Serve after clean hangup = %v, want nil", err)
	}
}

// TestProtocolManyGrants crosses the per-record fd batch size.
func TestProtocolManyGrants(t *testing.T) {
	exo := NewExo(quiet)
	const n = 2*grantsPerMsg + 13
	for i := range n {
		f := openDevNull(t, os.O_RDONLY)
		if _, err := exo.GrantFile(fmt.Sprintf("f%d", i), f, RightRead); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	s := serve(t, exo)
	c := NewClient(s.conn)
	gs, err := c.Grants()
	if err != nil {
		t.Fatal(err)
	}
	defer closeGrants(gs)
	if len(gs) != n {
		t.Fatalf("got %d grants, want %d", len(gs), n)
	}
	for i, g := range gs {
		if g.Name != fmt.Sprintf("f%d", i) {
			t.Fatalf("grant %d is %q", i, g.Name)
		}
		if _, err := g.File.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("grant %d read: %v", i, err)
		}
	}
	// The stream is still in step.
	if _, err := c.Attenuate(gs[0].ID, RightRead); !errors.Is(err, ErrDenied) {
		t.Errorf("after batched grants: %v", err)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func rawResponse(t *testing.T, conn *net.UnixConn) response {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	msg, fds, err := recvMsg(conn, make([]byte, maxResponse), make([]byte, unix.CmsgSpace(grantsPerMsg*4)))
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	closeRaw(fds)
	var r response
	if err := json.Unmarshal(msg, &r); err != nil {
		t.Fatalf("reply %q: %v", msg, err)
	}
	return r
}

// TestProtocolMalformed feeds exo junk from the sentry side: every message
// gets an error reply, nothing leaks, and the server keeps serving.
func TestProtocolMalformed(t *testing.T) {
	exo, audit := newExo(t)
	f := openDevNull(t, os.O_RDWR)
	id, err := exo.GrantFile("dev", f, RightRead|RightGrant)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	s := serve(t, exo)

	for _, tc := range []struct {
		name, msg, code string
	}{
		{"not json", "garbage", "invalid"},
		{"json array", "[1,2]", "invalid"},
		{"unknown op", `{"op":"format_disk"}`, "invalid"},
		{"no op", `{}`, "invalid"},
		{"unknown field", `{"op":"grants","fd":3}`, "invalid"},
		{"grants with args", `{"op":"grants","id":1}`, "invalid"},
		{"bad rights text", `{"op":"attenuate","id":1,"keep":"zzzz"}`, "invalid"},
		{"rights as number", `{"op":"attenuate","id":1,"keep":15}`, "invalid"},
		{"negative id", `{"op":"attenuate","id":-1,"keep":"r---"}`, "invalid"},
		{"huge id", `{"op":"revoke","id":99999999999}`, "invalid"},
		{"trailing data", `{"op":"grants"}{"op":"grants"}`, "invalid"},
		{"revoke unknown", `{"op":"revoke","id":4242}`, "not_found"},
		{"amplify", fmt.Sprintf(`{"op":"attenuate","id":%d,"keep":"rw-g"}`, id), "denied"},
		{"oversized", `{"op":"grants","x":"` + strings.Repeat("A", 2*maxRequest) + `"}`, "invalid"},
	} {
		if _, err := s.conn.Write([]byte(tc.msg)); err != nil {
			t.Fatalf("%s: write: %v", tc.name, err)
		}
		r := rawResponse(t, s.conn)
		if r.Error == "" || r.Code != tc.code || len(r.Grants) != 0 {
			t.Errorf("%s: reply %+v, want error code %q", tc.name, r, tc.code)
		}
	}

	// A request carrying fds: refused, and exo closes what it received.
	before := openFDs(t)
	extra := openDevNull(t, os.O_RDONLY)
	if _, _, err := s.conn.WriteMsgUnix([]byte(`{"op":"grants"}`), unix.UnixRights(fileFD(t, extra), fileFD(t, extra)), nil); err != nil {
		t.Fatal(err)
	}
	extra.Close()
	if r := rawResponse(t, s.conn); r.Code != "invalid" {
		t.Errorf("request with fds: reply %+v", r)
	}
	if after := openFDs(t); after != before {
		t.Errorf("open fds %d -> %d: exo leaked the fds it was sent", before, after)
	}
	if audit.count("caps: bad request") == 0 {
		t.Error("bad requests not logged")
	}

	// Still serving, and in step.
	c := NewClient(s.conn)
	gs, err := c.Grants()
	if err != nil {
		t.Fatalf("grants after junk: %v", err)
	}
	closeGrants(gs)
	if len(gs) != 1 || gs[0].ID != id {
		t.Errorf("grants after junk: %+v", gs)
	}
	select {
	case err := <-s.done:
		t.Fatalf("Serve returned early: %v", err)
	default:
	}
	c.Close()
	if err := s.waitServe(t); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

// TestClientRejectsBadServer: the sentry must not trust the other end
// blindly either (a mismatched protocol version, say).
func TestClientRejectsBadServer(t *testing.T) {
	exoEnd, sentryEnd, err := SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer exoEnd.Close()
	c := NewClient(sentryEnd)
	defer c.Close()
	// Opened here, not in the fake server, so the fd count below does not
	// race with the server goroutine opening and closing it.
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		buf := make([]byte, maxRequest)
		exoEnd.Read(buf)
		// Claims two grants but sends one fd.
		sendMsg(exoEnd, response{Grants: []wireGrant{{ID: 1, Kind: KindFile, Name: "a"}, {ID: 2, Kind: KindFile, Name: "b"}}}, []int{int(f.Fd())})
	}()
	before := openFDs(t)
	if _, err := c.Grants(); err == nil {
		t.Fatal("client accepted a reply with fewer fds than grants")
	}
	<-sent
	if after := openFDs(t); after > before {
		t.Errorf("client leaked fds: %d -> %d", before, after)
	}
	if _, err := c.Grants(); err == nil || !strings.Contains(err.Error(), "unusable") {
		t.Errorf("client kept using an out-of-step connection: %v", err)
	}
}

func TestServeAfterExoClose(t *testing.T) {
	exo := NewExo(quiet)
	if _, err := exo.GrantMemory("memory", pageSize); err != nil {
		t.Fatal(err)
	}
	s := serve(t, exo)
	if err := exo.Close(); err != nil {
		t.Fatal(err)
	}
	c := NewClient(s.conn)
	if _, err := c.Grants(); !errors.Is(err, ErrClosed) {
		t.Errorf("grants after exo close = %v, want ErrClosed", err)
	}
}

func TestConnFromFD(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET, 0) // no CLOEXEC, like an inherited fd
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	conn, err := ConnFromFD(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := unix.FcntlInt(uintptr(fds[1]), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("ConnFromFD left the inherited fd open: %v", err)
	}
	cf, err := conn.File()
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	if !isCloexec(t, cf) {
		t.Error("conn is not close-on-exec")
	}

	stream, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ConnFromFD(stream); !errors.Is(err, ErrInvalid) {
		t.Errorf("ConnFromFD(stream socket) = %v, want ErrInvalid", err)
	}
	if _, err := unix.FcntlInt(uintptr(stream), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("ConnFromFD left a rejected fd open: %v", err)
	}
}

// TestProtocolChildProcess runs the sentry side in a real child process that
// inherits its end through ExtraFiles, as runsc-exo boot will.
func TestProtocolChildProcess(t *testing.T) {
	exo := NewExo(quiet)
	if _, err := exo.GrantMemory("memory", 2*pageSize); err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if _, err := exo.GrantFile("stdout", pw, RightWrite); err != nil {
		t.Fatal(err)
	}
	pw.Close()

	exoEnd, sentryEnd, err := SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer exoEnd.Close()
	defer exo.Close()
	sf, err := sentryEnd.File()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSentry$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CAPS_TEST_SENTRY=1")
	cmd.ExtraFiles = []*os.File{sf}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sf.Close()
	sentryEnd.Close()

	done := make(chan error, 1)
	go func() { done <- exo.Serve(exoEnd) }()
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(pr) // EOF once the child and exo both closed the write end
		got <- string(b)
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child sentry: %v\n%s", err, out.String())
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not see the child exit")
	}
	exo.Close()
	select {
	case s := <-got:
		if s != "hello from the sentry, memory 8192\n" {
			t.Errorf("child wrote %q\n%s", s, out.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pipe never reached EOF: someone still holds the write end")
	}
}

// TestHelperSentry is the child half of TestProtocolChildProcess.
func TestHelperSentry(t *testing.T) {
	if os.Getenv("CAPS_TEST_SENTRY") != "1" {
		t.Skip("child-process helper")
	}
	conn, err := ConnFromFD(3)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(conn)
	defer c.Close()
	gs, err := c.Grants()
	if err != nil {
		t.Fatal(err)
	}
	defer closeGrants(gs)
	g := byName(t, gs)
	mem := g["memory"]
	m, err := unix.Mmap(fileFD(t, mem.File), 0, int(mem.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	m[0] = 1
	unix.Munmap(m)
	if _, err := fmt.Fprintf(g["stdout"].File, "hello from the sentry, memory %d\n", mem.Size); err != nil {
		t.Fatal(err)
	}
}
