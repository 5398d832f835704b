package kernel

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/loader"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
)

// maxInterpDepth bounds #! interpreters of interpreters, as Linux does.
const maxInterpDepth = 4

// Exec replaces the process image with the program at file (execve). On
// failure before the old image is gone, the task keeps running it.
func (t *Task) Exec(file string, argv, envv []string) error {
	return t.ExecAt(unix.AT_FDCWD, file, 0, argv, envv)
}

// ExecAt is execveat(2): file relative to dirfd, flags AT_EMPTY_PATH
// (execute the file open at dirfd) and AT_SYMLINK_NOFOLLOW.
func (t *Task) ExecAt(dirfd int, file string, flags int, argv, envv []string) error {
	var d *vfs.FileDescription
	name := file
	if file == "" {
		if flags&unix.AT_EMPTY_PATH == 0 {
			return unix.ENOENT
		}
		fd, err := t.FDs.Get(dirfd)
		if err != nil {
			return err
		}
		dent, p := fd.Dentry, fd.Path
		fd.DecRef()
		if dent == nil {
			return unix.EACCES
		}
		ctx := &vfs.Context{Root: t.FS.Root(), Start: dent, Cred: t.Cred(), Caller: t}
		if d, err = t.Mounts().OpenDentry(ctx, dent, vfs.OpenOptions{Flags: unix.O_RDONLY, Exec: true}); err != nil {
			return err
		}
		name = p
	} else {
		var err error
		if d, err = t.OpenExec(dirfd, file, flags&unix.AT_SYMLINK_NOFOLLOW == 0); err != nil {
			return err
		}
		if dirfd != unix.AT_FDCWD && file[0] != '/' {
			// The name the program is told (AT_EXECFN, a script's
			// argument) is the absolute one.
			if dd, err := t.FDs.Get(dirfd); err == nil {
				name = dd.Path + "/" + file
				dd.DecRef()
			}
		}
	}
	defer d.DecRef()
	return t.exec(d, name, argv, envv, 0)
}

func (t *Task) exec(d *vfs.FileDescription, file string, argv, envv []string, depth int) error {
	r := newReaderAt(d)
	var head [256]byte
	n, _ := r.ReadAt(head[:], 0)
	if n >= 2 && head[0] == '#' && head[1] == '!' {
		if depth >= maxInterpDepth {
			return unix.ELOOP
		}
		interp, arg, err := parseShebang(head[2:n])
		if err != nil {
			return err
		}
		nargv := []string{interp}
		if arg != "" {
			nargv = append(nargv, arg)
		}
		nargv = append(nargv, file)
		if len(argv) > 1 {
			nargv = append(nargv, argv[1:]...)
		}
		id, err := t.OpenExec(unix.AT_FDCWD, interp, true)
		if err != nil {
			return err
		}
		defer id.DecRef()
		return t.exec(id, interp, nargv, envv, depth+1)
	}

	// The stub the image will run in starts while the image loads into
	// an address space that records its host mappings; they reach the
	// stub in one batch once both are ready.
	type started struct {
		as  HostAddressSpace
		err error
	}
	asc := make(chan started, 1)
	go func() {
		as, err := t.K.newAddressSpace(path.Base(file))
		asc <- started{as, err}
	}()
	newMM := mm.NewDeferred(t.K.Memory)
	var a loader.Args
	a.Filename = file
	a.Argv, a.Envv = argv, envv
	c := t.Creds()
	a.Creds = [4]uint32{c.UID, c.EUID, c.GID, c.EGID}
	a.HostAux = t.K.HostAux
	a.VDSO = t.K.VDSO
	var img loader.Image
	_, err := io.ReadFull(rand.Reader, a.Random[:])
	if err != nil {
		err = fmt.Errorf("AT_RANDOM: %w", err)
	} else {
		img, err = loader.Load(newMM, r, t.openInterp, a)
	}
	st := <-asc
	as := st.as
	switch {
	case st.err != nil:
		err = fmt.Errorf("exec: new address space: %w", st.err)
	case err == nil:
		if err = newMM.Attach(as); err != nil {
			err = fmt.Errorf("exec: %w", err)
		}
	}
	if err != nil {
		newMM.Release()
		if st.err == nil {
			as.Release()
		}
		return err
	}
	// Name the special regions for /proc/PID/maps.
	newMM.NameAt(img.Stack, "[stack]")
	if img.VDSO != 0 {
		newMM.NameAt(img.VDSO, "[vdso]")
		newMM.NameAt(img.VDSO-loader.VDSODataSize, "[vvar]")
	}

	// Past the point of no return: the old image goes.
	t.deThread()
	if t.Ctx != nil {
		t.Ctx.Release()
	}
	t.releaseMM()
	t.K.mu.Lock()
	t.K.asUsers[newMM] = 1
	t.K.mu.Unlock()
	t.MM, t.AS = newMM, as
	t.Regs = arch.Registers{
		Rip:    img.Entry,
		Rsp:    img.Stack,
		Cs:     arch.UserCS,
		Ss:     arch.UserSS,
		Eflags: arch.InitialFlags,
	}
	t.FDs = t.FDs.Unshare()
	t.FDs.CloseOnExecAll()
	t.resetSignalsForExec()
	t.ClearTID, t.RobustList = 0, 0
	// /proc/PID/exe names the file itself, symlinks resolved; the
	// command name is the last part of the name it was run by.
	t.Exe, t.ExeDentry = d.Path, d.Dentry
	t.Argv, t.Envv = argv, envv
	t.Comm = path.Base(file)
	if len(t.Comm) > 15 {
		t.Comm = t.Comm[:15]
	}
	t.Dumpable = true
	t.execCreds()
	if t.vforkDone != nil {
		close(t.vforkDone)
		t.vforkDone = nil
	}
	return nil
}

// parseShebang splits a #! line into the interpreter and its one optional
// argument, as Linux does (everything after the first blank is one
// argument).
func parseShebang(line []byte) (string, string, error) {
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	s := strings.Trim(string(line), " \t")
	if s == "" {
		return "", "", unix.ENOEXEC
	}
	interp, arg, _ := strings.Cut(s, " ")
	if i := strings.IndexByte(interp, '\t'); i >= 0 {
		interp, arg = interp[:i], interp[i+1:]+" "+arg
	}
	return interp, strings.Trim(arg, " \t"), nil
}

// deThread ends every other thread of the process before exec, and makes
// the calling thread the leader, as Linux's de_thread does.
func (t *Task) deThread() {
	k := t.K
	k.mu.Lock()
	tg := t.tg
	for _, o := range tg.tasks {
		if o != t {
			o.exiting = true
			k.wakeLocked(o)
		}
	}
	k.mu.Unlock()
	for {
		k.mu.Lock()
		alone := len(tg.tasks) == 1
		k.mu.Unlock()
		if alone {
			break
		}
		time.Sleep(time.Millisecond)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if tg.leader != t {
		old := tg.leader
		delete(k.tasks, t.TID)
		delete(k.tasks, old.TID)
		t.TID = tg.tgid
		// The pidfs identity goes with the pid, as exchange_tids moves
		// the struct pid.
		t.pidIno, old.pidIno = old.pidIno, t.pidIno
		tg.leader = t
		k.tasks[t.TID] = t
	}
}

// resetSignalsForExec restores default actions for caught signals (ignored
// ones stay ignored) and forgets the alternate stack.
func (t *Task) resetSignalsForExec() {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	tg := t.tg
	h := *tg.handlers
	for i := range h.actions {
		if h.actions[i].Handler != SigIgn {
			h.actions[i] = arch.SignalAction{}
		} else {
			h.actions[i] = arch.SignalAction{Handler: SigIgn}
		}
	}
	tg.handlers = &h
	tg.execed = true
	t.altStack = arch.SignalStack{Flags: arch.SSDisable}
}

func (t *Task) openInterp(p string) (io.ReaderAt, func(), error) {
	d, err := t.OpenExec(unix.AT_FDCWD, p, true)
	if err != nil {
		return nil, nil, err
	}
	return newReaderAt(d), d.DecRef, nil
}

// readerAt adapts a file to io.ReaderAt for the loader and mm, and names
// it for /proc/PID/maps (mm.MapNamer).
type readerAt struct {
	f interface {
		Pread(p []byte, off int64) (int, error)
	}
	name     string
	dev, ino uint64
}

func newReaderAt(d *vfs.FileDescription) readerAt {
	r := readerAt{f: d.File, name: d.Path}
	if st, err := d.File.Stat(); err == nil {
		r.dev, r.ino = st.Dev, st.Ino
	}
	return r
}

// Mappable implements mm.MappableFile when the file can share its pages,
// so the loader maps the executable instead of copying it.
func (r readerAt) Mappable() (mm.Mappable, func(), error) {
	if f, ok := r.f.(vfs.File); ok {
		if mf, ok := vfs.Find[mm.MappableFile](f); ok {
			return mf.Mappable()
		}
	}
	return nil, nil, nil
}

// MapName implements mm.MapNamer.
func (r readerAt) MapName() (string, uint64, uint64) { return r.name, r.dev, r.ino }

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := r.f.Pread(p[done:], off+int64(done))
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, io.EOF
		}
		done += n
	}
	return done, nil
}
