package vfs

import "exokernelul.dev/exo/libos/waiter"

// ReleaseHook is a function registered to run when a description's last
// reference is dropped.
type ReleaseHook struct {
	fn func()
}

// OnRelease arranges for fn to run when d's last reference is dropped, just
// before its file is closed. fn runs on the goroutine that drops the
// reference, with no vfs lock held. The returned hook cancels it.
func (d *FileDescription) OnRelease(fn func()) *ReleaseHook {
	h := &ReleaseHook{fn: fn}
	d.hookMu.Lock()
	if d.hooks == nil {
		d.hooks = make(map[*ReleaseHook]struct{})
	}
	d.hooks[h] = struct{}{}
	d.hookMu.Unlock()
	return h
}

// CancelRelease removes a hook OnRelease registered; it is a no-op once the
// hook has run.
func (d *FileDescription) CancelRelease(h *ReleaseHook) {
	d.hookMu.Lock()
	delete(d.hooks, h)
	d.hookMu.Unlock()
}

func (d *FileDescription) runReleaseHooks() {
	d.hookMu.Lock()
	hooks := d.hooks
	d.hooks = nil
	d.hookMu.Unlock()
	for h := range hooks {
		h.fn()
	}
}

// Unwrapper is implemented by files that wrap another file and forward to
// it (the kernel's borrowed stdio), so optional interfaces such as
// waiter.Waitable can be found on the file underneath.
type Unwrapper interface {
	Unwrap() File
}

// Pollable is implemented by files whose readiness can be waited for only
// some of the time: a host-backed file is pollable when it is a pipe,
// socket or terminal, but a regular file or directory is not.
type Pollable interface {
	CanPoll() bool
}

// Waitable returns f's readiness interface, looking through wrappers. It
// reports false for files that cannot be polled, which Linux treats as
// always ready for reading and writing (and epoll refuses with EPERM).
func Waitable(f File) (waiter.Waitable, bool) {
	for {
		if w, ok := f.(waiter.Waitable); ok {
			if p, ok := f.(Pollable); ok && !p.CanPoll() {
				return nil, false
			}
			return w, true
		}
		u, ok := f.(Unwrapper)
		if !ok {
			return nil, false
		}
		f = u.Unwrap()
	}
}

// Underlying returns the innermost file of a chain of wrappers.
func Underlying(f File) File {
	for {
		u, ok := f.(Unwrapper)
		if !ok {
			return f
		}
		f = u.Unwrap()
	}
}

// Find returns the first file of the chain of wrappers from f that
// implements T (an optional interface such as a mappable file's).
func Find[T any](f File) (T, bool) {
	for {
		if t, ok := f.(T); ok {
			return t, true
		}
		u, ok := f.(Unwrapper)
		if !ok {
			var zero T
			return zero, false
		}
		f = u.Unwrap()
	}
}
