package main

import (
	"log/slog"
	"os"
	"os/exec"
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/oci"
)

// abandonCreate undoes a create that failed after its exo process
// started: it kills that process (the sentry, by its parent-death signal,
// and the stubs, as members of the sentry's pid namespace, go with it),
// reaps it, then removes the cgroups it joined and the state directory,
// so nothing is left for the caller's `delete --force` to find.
func abandonCreate(store oci.Store, id string, cmd *exec.Cmd) {
	cmd.Process.Kill()
	cmd.Wait()
	l, err := store.Lock(id)
	if err != nil {
		return
	}
	defer l.Unlock()
	if st, err := l.Read(); err == nil && len(st.Cgroups) > 0 {
		// The sentry and the stubs leave the cgroups a moment after exo:
		// RemoveCgroups waits for them.
		if err := oci.RemoveCgroups(st.Cgroups); err != nil {
			slog.Warn("failed create: cgroup not removed", "id", id, "err", err)
		}
	}
	l.Remove()
}

// watchCreator ends this exo process if create, which waits on the other
// end of the ready pipe fd, dies before the sandbox is created (a caller
// that gives up on a create that hangs kills it): the sentry dies with
// exo (its parent-death signal), the stubs with the sentry, and `delete
// --force` finds only the state and the cgroups to remove. The returned
// function stops the watch; call it before reporting.
func watchCreator(fd int) (stop func()) {
	// A duplicate, so the watch never polls an fd report has closed and
	// the number reused; close-on-exec, so hooks and the sentry do not
	// hold the pipe.
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return func() {}
	}
	var mu sync.Mutex
	stopped := false
	go func() {
		for {
			mu.Lock()
			if stopped {
				unix.Close(dup)
				mu.Unlock()
				return
			}
			mu.Unlock()
			// The write end of a pipe reads POLLERR once no reader is left.
			pfd := []unix.PollFd{{Fd: int32(dup), Events: 0}}
			n, err := unix.Poll(pfd, 200)
			if err != nil && err != unix.EINTR {
				return
			}
			if n > 0 && pfd[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
				mu.Lock()
				if !stopped {
					slog.Debug("create went away before the sandbox was created; giving up")
					os.Exit(125)
				}
				mu.Unlock()
			}
		}
	}()
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
	}
}
