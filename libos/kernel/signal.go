package kernel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// NumSignals is the highest signal number plus one.
const NumSignals = 65

// sigIgn and sigDfl are the special handler values of struct sigaction.
const (
	sigDfl = 0
	sigIgn = 1
)

// ignoredByDefault are the signals whose default action does nothing.
var ignoredByDefault = map[int]bool{
	int(unix.SIGCHLD): true, int(unix.SIGURG): true, int(unix.SIGWINCH): true, int(unix.SIGCONT): true,
}

// Handler returns the handler address the workload installed for sig.
func (t *Task) Handler(sig int) uint64 {
	return binary.LittleEndian.Uint64(t.SigActions[sig-1][:8])
}

// SendSignal delivers sig to the task. Signal frames do not exist yet, so
// a signal whose action is to run a handler still ends the process, as
// its default action would; this is logged once.
func (t *Task) SendSignal(sig int) {
	if sig == 0 {
		return
	}
	h := t.Handler(sig)
	stoppable := sig == int(unix.SIGSTOP) || sig == int(unix.SIGTSTP) || sig == int(unix.SIGTTIN) || sig == int(unix.SIGTTOU)
	switch {
	case sig == int(unix.SIGKILL):
	case h == sigIgn:
		return
	case h == sigDfl && (ignoredByDefault[sig] || stoppable):
		// Job control stops arrive with the process model.
		return
	case h != sigDfl:
		t.K.WarnOnce("signal-handler", "signal handlers are not run yet: the signal ends the process", "signal", unix.SignalName(unix.Signal(sig)))
	}
	t.Exit(ExitStatus{Signal: sig})
}
