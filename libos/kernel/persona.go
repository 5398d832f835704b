package kernel

// Personality returns the thread's personality(2) value and, unless set is
// false, replaces it with p. The library OS runs only x86-64 Linux
// binaries: the value is kept and reported (fork and exec keep it), and
// changes nothing else.
func (t *Task) Personality(p uint32, set bool) uint32 {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	old := t.persona
	if set {
		t.persona = p
	}
	return old
}
