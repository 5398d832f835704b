package proc

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// netSource adds a network namespace with two files.
type netSource struct{ *fakeSource }

func (netSource) NetFiles(int32) []string { return []string{"dev", "tcp"} }

func (netSource) NetFile(_ int32, name string) ([]byte, error) {
	if name == "dev" {
		return []byte("    lo: 0\n"), nil
	}
	return []byte("tcp\n"), nil
}

func TestNetDir(t *testing.T) {
	src := newFake()
	src.setCaller(1, 1)
	fs := New(netSource{src}, Options{BootID: "x"})
	if got := names(list(t, fs, "1/net")); !slices.Equal(got, []string{".", "..", "dev", "tcp"}) {
		t.Errorf("1/net lists %q", got)
	}
	if got := readAll(t, fs, "1/net/dev"); got != "    lo: 0\n" {
		t.Errorf("1/net/dev = %q", got)
	}
	n, err := walk(fs, "net", true)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := n.Stat(); st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("/proc/net mode %o, want a link", st.Mode)
	}
	if got := readAll(t, fs, "net/tcp"); got != "tcp\n" {
		t.Errorf("net/tcp through the link = %q", got)
	}
	if _, err := walk(fs, "1/net/udp", false); err != unix.ENOENT {
		t.Errorf("1/net/udp: %v, want ENOENT", err)
	}
	// Without a NetSource there is no net directory.
	plain, _ := newTestFS(t)
	if _, err := walk(plain, "1/net", false); err != unix.ENOENT {
		t.Errorf("1/net without a NetSource: %v, want ENOENT", err)
	}
	if _, err := walk(plain, "net", true); err != unix.ENOENT {
		t.Errorf("/proc/net without a NetSource: %v, want ENOENT", err)
	}
}
