package vfs

import (
	"sync"

	"golang.org/x/sys/unix"
)

type fdEntry struct {
	desc    *FileDescription
	cloexec bool
}

// FDTable is a process's file descriptor table, shared by the tasks that
// cloned with CLONE_FILES.
type FDTable struct {
	mu    sync.Mutex
	files []fdEntry // index is the fd; nil desc is a free slot
	users int       // tasks sharing the table
}

// NewFDTable returns an empty table with one user.
func NewFDTable() *FDTable { return &FDTable{users: 1} }

// IncUsers adds a task sharing the table.
func (t *FDTable) IncUsers() {
	t.mu.Lock()
	t.users++
	t.mu.Unlock()
}

// DecUsers drops a sharing task; the last one closes every fd.
func (t *FDTable) DecUsers() {
	t.mu.Lock()
	t.users--
	last := t.users == 0
	t.mu.Unlock()
	if last {
		t.CloseAll()
	}
}

// Fork returns a copy for a child process: the same descriptions, each
// with another reference, and the same close-on-exec flags.
func (t *FDTable) Fork() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &FDTable{files: make([]fdEntry, len(t.files)), users: 1}
	copy(n.files, t.files)
	for _, e := range n.files {
		if e.desc != nil {
			e.desc.IncRef()
		}
	}
	return n
}

// Unshare gives the caller a table of its own if others share this one
// (exec must not close fds under a process sharing the table).
func (t *FDTable) Unshare() *FDTable {
	t.mu.Lock()
	shared := t.users > 1
	t.mu.Unlock()
	if !shared {
		return t
	}
	n := t.Fork()
	t.DecUsers()
	return n
}

// CloseOnExecAll closes every fd marked close-on-exec.
func (t *FDTable) CloseOnExecAll() {
	t.mu.Lock()
	var closing []*FileDescription
	for i, e := range t.files {
		if e.desc != nil && e.cloexec {
			closing = append(closing, e.desc)
			t.files[i] = fdEntry{}
		}
	}
	t.mu.Unlock()
	for _, d := range closing {
		t.closed(d)
	}
}

// closed drops the table's reference to d after an fd of it was closed,
// and with it the table's record locks on the file (POSIX: a close of any
// fd of a file releases the process's locks on it) and its F_NOTIFY
// registration.
func (t *FDTable) closed(d *FileDescription) {
	Locks.closedByTable(d, t)
	notify.dnotifyFlush(d, t)
	d.DecRef()
}

// CloseRange closes fds first..last, or marks them close-on-exec.
func (t *FDTable) CloseRange(first, last int, cloexec bool) {
	t.mu.Lock()
	var closing []*FileDescription
	for i := first; i <= last && i < len(t.files); i++ {
		if t.files[i].desc == nil {
			continue
		}
		if cloexec {
			t.files[i].cloexec = true
			continue
		}
		closing = append(closing, t.files[i].desc)
		t.files[i] = fdEntry{}
	}
	t.mu.Unlock()
	for _, d := range closing {
		t.closed(d)
	}
}

// Install puts d at the lowest free fd >= min, below limit, taking over the
// caller's reference.
func (t *FDTable) Install(d *FileDescription, min int, cloexec bool, limit int) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for fd := min; fd < limit; fd++ {
		if fd >= len(t.files) {
			t.files = append(t.files, make([]fdEntry, fd+1-len(t.files))...)
		}
		if t.files[fd].desc == nil {
			t.files[fd] = fdEntry{d, cloexec}
			return fd, nil
		}
	}
	return -1, unix.EMFILE
}

// InstallAt puts d at exactly fd, closing what was there (dup2/dup3).
func (t *FDTable) InstallAt(fd int, d *FileDescription, cloexec bool) {
	t.mu.Lock()
	if fd >= len(t.files) {
		t.files = append(t.files, make([]fdEntry, fd+1-len(t.files))...)
	}
	old := t.files[fd].desc
	t.files[fd] = fdEntry{d, cloexec}
	t.mu.Unlock()
	if old != nil {
		t.closed(old)
	}
}

// Get returns the description at fd with a new reference; the caller must
// DecRef it.
func (t *FDTable) Get(fd int) (*FileDescription, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || fd >= len(t.files) || t.files[fd].desc == nil {
		return nil, unix.EBADF
	}
	d := t.files[fd].desc
	d.IncRef()
	return d, nil
}

// CloseOnExec reports and SetCloseOnExec changes the fd's FD_CLOEXEC flag.
func (t *FDTable) CloseOnExec(fd int) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || fd >= len(t.files) || t.files[fd].desc == nil {
		return false, unix.EBADF
	}
	return t.files[fd].cloexec, nil
}

// SetCloseOnExec sets or clears FD_CLOEXEC on fd.
func (t *FDTable) SetCloseOnExec(fd int, on bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || fd >= len(t.files) || t.files[fd].desc == nil {
		return unix.EBADF
	}
	t.files[fd].cloexec = on
	return nil
}

// Remove closes fd.
func (t *FDTable) Remove(fd int) error {
	t.mu.Lock()
	if fd < 0 || fd >= len(t.files) || t.files[fd].desc == nil {
		t.mu.Unlock()
		return unix.EBADF
	}
	d := t.files[fd].desc
	t.files[fd] = fdEntry{}
	t.mu.Unlock()
	t.closed(d)
	return nil
}

// CloseAll drops every fd, at process exit.
func (t *FDTable) CloseAll() {
	t.mu.Lock()
	files := t.files
	t.files = nil
	t.mu.Unlock()
	for _, e := range files {
		if e.desc != nil {
			t.closed(e.desc)
		}
	}
}

// FDEntry is one open fd, as /proc/PID/fd lists it.
type FDEntry struct {
	FD      int
	Desc    *FileDescription
	CloseOn bool // close-on-exec
}

// List returns the open fds in ascending order, each description with a
// new reference the caller must drop (DecRef).
func (t *FDTable) List() []FDEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []FDEntry
	for fd, e := range t.files {
		if e.desc != nil {
			e.desc.IncRef()
			out = append(out, FDEntry{FD: fd, Desc: e.desc, CloseOn: e.cloexec})
		}
	}
	return out
}
