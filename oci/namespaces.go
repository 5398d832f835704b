package oci

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// nsGetNSType is NS_GET_NSTYPE, _IO(0xb7, 0x3): the CLONE_NEW* flag of a
// namespace file.
const nsGetNSType = 0xb703

var nsFlags = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace: unix.CLONE_NEWNS, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

// checkNamespacePath checks that ns.Path is a namespace of ns.Type.
func checkNamespacePath(ns specs.LinuxNamespace) error {
	f, err := os.Open(ns.Path)
	if err != nil {
		return fmt.Errorf("%q: %w", ns.Path, errors.Unwrap(err))
	}
	defer f.Close()
	typ, err := unix.IoctlRetInt(int(f.Fd()), nsGetNSType)
	if err != nil {
		return fmt.Errorf("%q is not a namespace file", ns.Path)
	}
	if typ != nsFlags[ns.Type] {
		return fmt.Errorf("%q is not a %s namespace", ns.Path, ns.Type)
	}
	return nil
}

// InNamespaces runs fn on an OS thread that has joined the namespaces
// nss give by path (network, IPC, UTS, PID for its children, mount); a
// process fn starts on that thread (exec.Cmd.Start) is born in them, as
// runc's init joins them. Every file is opened before the first join (a
// joined mount namespace would resolve the later paths). The thread is
// discarded afterwards rather than returned to Go's pool in the wrong
// namespaces.
func InNamespaces(nss []specs.LinuxNamespace, fn func() error) error {
	type joined struct {
		f    *os.File
		ns   specs.LinuxNamespace
		flag int
	}
	var js []joined
	defer func() {
		for _, j := range js {
			j.f.Close()
		}
	}()
	mnt := -1
	for _, ns := range nss {
		f, err := os.Open(ns.Path)
		if err != nil {
			return fmt.Errorf("%s namespace: %w", ns.Type, err)
		}
		if ns.Type == specs.MountNamespace {
			mnt = len(js)
		}
		js = append(js, joined{f, ns, nsFlags[ns.Type]})
	}
	if mnt >= 0 {
		// The mount namespace last: it changes what paths mean.
		m := js[mnt]
		js = append(slices.Delete(js, mnt, mnt+1), m)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the goroutine's end takes the thread with it.
		for _, j := range js {
			if j.flag == unix.CLONE_NEWNS {
				// setns refuses a mount namespace to a thread that shares
				// its root and working directory with others.
				if err := unix.Unshare(unix.CLONE_FS); err != nil {
					errc <- fmt.Errorf("join mount namespace %s: unshare CLONE_FS: %w", j.ns.Path, err)
					return
				}
			}
			if err := unix.Setns(int(j.f.Fd()), j.flag); err != nil {
				errc <- fmt.Errorf("join %s namespace %s: %w", j.ns.Type, j.ns.Path, err)
				return
			}
		}
		errc <- fn()
	}()
	return <-errc
}

// InNetNSFile runs fn on an OS thread that has joined the network
// namespace open in f (the runtime's own, for the hooks runc runs there).
func InNetNSFile(f *os.File, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the goroutine's end takes the thread with it.
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("join network namespace %s: %w", f.Name(), err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// HostPid is this process's pid as /proc shows it: in the pid namespace
// of the runtime's callers even when the process was started in a pid
// namespace the spec named (InNamespaces), where getpid differs. The
// state's pid, /proc walks and ProcessStart use it; pids handed to the
// kernel (cgroup.procs, tgkill) stay getpid's.
func HostPid() int {
	if s, err := os.Readlink("/proc/self"); err == nil {
		if pid, err := strconv.Atoi(s); err == nil {
			return pid
		}
	}
	return os.Getpid()
}
