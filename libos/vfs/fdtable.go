package vfs

import (
	"sync"

	"golang.org/x/sys/unix"
)

type fdEntry struct {
	desc    *FileDescription
	cloexec bool
}

// FDTable is a process's file descriptor table.
type FDTable struct {
	mu    sync.Mutex
	files []fdEntry // index is the fd; nil desc is a free slot
}

// NewFDTable returns an empty table.
func NewFDTable() *FDTable { return &FDTable{} }

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
		old.DecRef()
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
	d.DecRef()
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
			e.desc.DecRef()
		}
	}
}
