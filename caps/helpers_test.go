package caps

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// logBuf collects audit records for assertions.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuf) count(msg string) int {
	return strings.Count(b.String(), `"msg":"`+msg+`"`)
}

func testLogger(t *testing.T) (*slog.Logger, *logBuf) {
	t.Helper()
	b := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("audit log:\n%s", b.String())
		}
	})
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for the mount API")
	}
}

// fileFD reads f's descriptor number without os.File.Fd's blocking-mode
// side effect.
func fileFD(t *testing.T, f *os.File) int {
	t.Helper()
	var n int
	if err := withFD(f, func(fd int) error { n = fd; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func accessOf(t *testing.T, f *os.File) (read, write bool) {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fileFD(t, f)), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	return access(fl)
}

func isCloexec(t *testing.T, f *os.File) bool {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fileFD(t, f)), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fl&unix.FD_CLOEXEC != 0
}

func openDevNull(t *testing.T, flag int) *os.File {
	t.Helper()
	f, err := os.OpenFile("/dev/null", flag, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// quiet is for tests that make thousands of audit records nobody reads.
var quiet = slog.New(slog.DiscardHandler)
