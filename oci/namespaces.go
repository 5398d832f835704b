package oci

import (
	"errors"
	"fmt"
	"os"
	"runtime"

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

// InNetNS runs fn on an OS thread that has joined the network namespace
// at path; a process fn starts on that thread (exec.Cmd.Start) is born
// in it. The thread is discarded afterwards rather than returned to Go's
// pool in the wrong namespace.
func InNetNS(path string, fn func() error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("network namespace: %w", err)
	}
	defer f.Close()
	return InNetNSFile(f, fn)
}

// InNetNSFile is InNetNS for an open namespace file.
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
