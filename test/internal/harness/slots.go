package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// go test runs several test binaries at once (one per package) and each
// runs MaxParallel tests at once. Run takes one of MaxParallel machine-wide
// slots, flock(2)ed files under the temp directory, for the duration of a
// process, so that no more than MaxParallel programs (native or sandboxed)
// run at a time whatever go test's -p and -parallel say.

var slotDir = filepath.Join(os.TempDir(), "exo-test-slots")

// acquireSlot blocks until a slot is free and returns its release function.
// If the slot files cannot be used, it does not limit anything.
func acquireSlot() func() {
	if err := os.MkdirAll(slotDir, 0o777); err != nil {
		return func() {}
	}
	var files []*os.File
	for i := 0; i < MaxParallel; i++ {
		f, err := os.OpenFile(filepath.Join(slotDir, fmt.Sprintf("slot-%d", i)), os.O_CREATE|os.O_RDONLY, 0o666) // flock needs no write access
		if err != nil {
			for _, g := range files {
				g.Close()
			}
			return func() {}
		}
		files = append(files, f)
	}
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		for i, f := range files {
			if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
				for j, g := range files {
					if j != i {
						g.Close()
					}
				}
				return func() { f.Close() } // closing releases the lock
			}
		}
		time.Sleep(delay)
	}
}
