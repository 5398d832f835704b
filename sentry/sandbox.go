// Package sentry boots a sandbox's library OS inside the sentry process and
// runs its tasks: it turns the capabilities exo granted into the kernel's
// memory, file systems and stdio, picks the platform, and drives each task
// between the platform (run until trap) and the syscall table.
package sentry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/caps"
	"exokernelul.dev/exo/libos/fs/devfs"
	"exokernelul.dev/exo/libos/fs/devpts"
	"exokernelul.dev/exo/libos/fs/dirfs"
	"exokernelul.dev/exo/libos/fs/hostfd"
	"exokernelul.dev/exo/libos/fs/overlay"
	"exokernelul.dev/exo/libos/fs/proc"
	"exokernelul.dev/exo/libos/fs/sysfs"
	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/loader"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/net/inet"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/sentry/platform"
	"exokernelul.dev/exo/sentry/platform/ptrace"
	"exokernelul.dev/exo/sentry/platform/systrap"
)

// Config is what the runtime asks the sentry to run.
type Config struct {
	Argv     []string `json:"argv"`
	Env      []string `json:"env"`
	Cwd      string   `json:"cwd"`
	UID      uint32   `json:"uid"`
	GID      uint32   `json:"gid"`
	Hostname string   `json:"hostname"`
	Platform string   `json:"platform"`
	Strace   bool     `json:"strace"`
	// PidsLimit caps the sandbox's tasks (0: no limit).
	PidsLimit int `json:"pidsLimit"`
	// Mounts are attached, in order, after the rootfs and /dev.
	Mounts []Mount `json:"mounts,omitempty"`
	// ReadOnlyRoot serves a read-only rootfs capability as it is (every
	// change fails with EROFS) instead of as the lower layer of an
	// overlay whose writes stay in the sandbox's memory.
	ReadOnlyRoot bool `json:"readOnlyRoot,omitempty"`
	// Groups are init's supplementary groups.
	Groups []uint32 `json:"groups,omitempty"`
	// Rlimits override init's default resource limits.
	Rlimits []Rlimit `json:"rlimits,omitempty"`
	// NICs are the network interfaces exo granted (NICGrant names each
	// one's capability), with the configuration exo read from the netns.
	// None: the sandbox has only loopback (--network=none).
	NICs []caps.NICConfig `json:"nics,omitempty"`
}

// NICGrant is the name exo gives the capability of interface name.
func NICGrant(name string) string { return "nic:" + name }

// Rlimit is one resource limit of init, by RLIMIT_* number.
type Rlimit struct {
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
}

// Mount is one file system the workload gets besides its rootfs.
type Mount struct {
	// Type is "bind" (a host directory, granted as a dir capability) or
	// "tmpfs".
	Type string `json:"type"`
	// Destination is the absolute path in the sandbox; it must exist in
	// the rootfs as a directory.
	Destination string `json:"destination"`
	ReadOnly    bool   `json:"readOnly,omitempty"`
	// Grant names the dir capability of a bind mount (BindGrant).
	Grant string `json:"grant,omitempty"`
	// Size bounds a tmpfs's data in bytes (0: the memory quota); Mode is
	// its root's permission bits (0: 01777).
	Size int64  `json:"size,omitempty"`
	Mode uint32 `json:"mode,omitempty"`
}

// BindGrant is the name exo gives the dir capability of a bind mount at
// dst.
func BindGrant(dst string) string { return "mount:" + dst }

// Sandbox is a booted library OS with its platform.
type Sandbox struct {
	cfg      Config
	log      *slog.Logger
	kernel   *kernel.Kernel
	platform platform.Platform
	mem      *mm.MemoryFile
	strace   *os.File
	// grants holds the granted files for the sandbox's lifetime: the file
	// systems and stdio use their raw fds, which the *os.File finalizers
	// would otherwise close once the files became unreachable.
	grants []caps.Grant
	// init is the container's first task once Load made it; started
	// says whether it was given to the platform.
	init    *kernel.Task
	started sync.Once
	// client asks exo for capabilities granted after boot (an exec's
	// stdio).
	client *caps.Client
}

// HostState is what the sentry reads from the host before it confines
// itself: the CPU description for the auxv, and a private directory for the
// platform's stub executable.
type HostState struct {
	Aux     loader.HostAux
	StubDir string
	// CPUInfo is the host's /proc/cpuinfo, which the sandbox's /proc
	// shows (nil: a generated one).
	CPUInfo []byte
	// TSC says whether the host's TSC can drive the vDSO's clocks
	// (loader.HostTSC, read before the sentry confines itself).
	TSC bool
}

// ReadHostCPUInfo reads the host's /proc/cpuinfo, before the sentry
// confines itself, for the sandbox's /proc.
func ReadHostCPUInfo() []byte {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return nil
	}
	return b
}

// ReadHostAux reads the CPU-describing auxv entries of the sentry process
// itself, so workloads see the same CPU features the host offers.
func ReadHostAux() (loader.HostAux, error) {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return loader.HostAux{}, fmt.Errorf("read host auxv: %w", err)
	}
	var a loader.HostAux
	for i := 0; i+16 <= len(b); i += 16 {
		tag, val := binary.LittleEndian.Uint64(b[i:]), binary.LittleEndian.Uint64(b[i+8:])
		switch tag {
		case 16:
			a.HWCap = val
		case 26:
			a.HWCap2 = val
		case 51:
			a.MinSigStkSz = val
		}
	}
	return a, nil
}

// Boot builds the library OS from the grants exo gave this sentry.
func Boot(client *caps.Client, cfg Config, host HostState, log *slog.Logger) (*Sandbox, error) {
	grants, err := client.Grants()
	if err != nil {
		return nil, fmt.Errorf("receive capabilities: %w", err)
	}
	byName := make(map[string]caps.Grant, len(grants))
	for _, g := range grants {
		byName[g.Name] = g
	}
	memGrant, ok := byName["memory"]
	if !ok || memGrant.Kind != caps.KindMemory {
		return nil, errors.New("exo granted no memory capability")
	}
	mem, err := mm.NewMemoryFile(memGrant.File, memGrant.Size)
	if err != nil {
		return nil, err
	}
	root, ok := byName["rootfs"]
	if !ok || root.Kind != caps.KindDir {
		return nil, errors.New("exo granted no rootfs capability")
	}
	mounts, err := buildMounts(cfg, root, byName, mem, log)
	if err != nil {
		return nil, err
	}
	var stdio [3]vfs.File
	for i, name := range []string{"stdin", "stdout", "stderr"} {
		if g, ok := byName[name]; ok && g.Kind == caps.KindFile {
			stdio[i] = hostfd.New(int(g.File.Fd()))
		}
	}
	var plat platform.Platform
	switch cfg.Platform {
	case "ptrace":
		plat, err = ptrace.New(host.StubDir)
	case "", "systrap":
		plat, err = systrap.New(host.StubDir, systrap.Options{FSGSBase: host.Aux.HWCap2&systrap.HWCap2FSGSBase != 0})
	default:
		err = fmt.Errorf("unknown platform %q (available: systrap, ptrace)", cfg.Platform)
	}
	if err != nil {
		return nil, err
	}
	vdso, err := loader.NewVDSO(mem, loader.VDSOConfig{TSC: host.TSC, Log: log})
	if err != nil {
		return nil, err
	}
	s := &Sandbox{cfg: cfg, log: log, platform: plat, mem: mem, grants: grants, client: client}
	s.kernel = kernel.New(kernel.Config{
		Memory:   mem,
		Mounts:   mounts,
		Stdio:    stdio,
		Hostname: cfg.Hostname,
		HostAux:  host.Aux,
		VDSO:     vdso,
		Log:      log,
		NewAddressSpace: func() (kernel.HostAddressSpace, error) {
			return plat.NewAddressSpace(mem)
		},
		StartTask: s.startTask,
		PidsLimit: cfg.PidsLimit,
	})
	if s.kernel.Net, err = inet.NewStack(); err != nil {
		return nil, fmt.Errorf("network stack: %w", err)
	}
	for _, nc := range cfg.NICs {
		if err := addNIC(s.kernel.Net, nc, byName); err != nil {
			return nil, err
		}
	}
	// /proc shows the kernel, so it is mounted once the kernel exists.
	procFS := proc.New(s.kernel.ProcSource(), proc.Options{CPUInfo: host.CPUInfo, Release: kernel.Release, Version: kernel.Version})
	if err := attachMaking(mounts, "/proc", procFS, vfs.MountOptions{Source: "proc", Options: "nosuid,nodev,noexec"}); err != nil {
		log.Debug("no /proc in the rootfs: proc not mounted", "err", err)
	}
	sysFS, err := sysfs.New(mem, sysfs.Options{CPUs: runtime.NumCPU(), Dev: unix.Mkdev(0, 20)})
	if err != nil {
		return nil, err
	}
	if err := attachMaking(mounts, "/sys", sysFS, vfs.MountOptions{ReadOnly: true, Source: "sysfs", Options: "nosuid,nodev,noexec"}); err != nil {
		log.Debug("no /sys in the rootfs: sysfs not mounted", "err", err)
	}
	if cfg.Strace {
		s.strace = os.Stderr
	}
	return s, nil
}

// ForwardSignals makes host signals the sentry receives go to the
// workload's init instead; call it before Run.
func (s *Sandbox) ForwardSignals(sigs ...os.Signal) {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, sigs...)
	go func() {
		for sig := range ch {
			s.kernel.SignalInit(int(sig.(unix.Signal)))
		}
	}()
}

// Load creates the container's init task with its program loaded, without
// running it: the OCI create step, which Start completes. The error of a
// program that cannot start has errno inside.
func (s *Sandbox) Load() error {
	if s.init != nil {
		return nil
	}
	var rlimits map[int]kernel.Rlimit
	if len(s.cfg.Rlimits) > 0 {
		rlimits = make(map[int]kernel.Rlimit, len(s.cfg.Rlimits))
		for _, r := range s.cfg.Rlimits {
			rlimits[r.Resource] = kernel.Rlimit{Cur: r.Soft, Max: r.Hard}
		}
	}
	t, err := s.kernel.NewInitTask(kernel.InitSpec{
		Argv: s.cfg.Argv,
		Env:  s.cfg.Env,
		Cwd:  s.cfg.Cwd,
		Creds: kernel.Creds{
			UID: s.cfg.UID, EUID: s.cfg.UID, SUID: s.cfg.UID, FSUID: s.cfg.UID,
			GID: s.cfg.GID, EGID: s.cfg.GID, SGID: s.cfg.GID, FSGID: s.cfg.GID,
			Groups: s.cfg.Groups,
		},
		Rlimits: rlimits,
	})
	if err != nil {
		return err
	}
	s.init = t
	return nil
}

// Start lets the loaded init task run; later calls do nothing.
func (s *Sandbox) Start() {
	s.started.Do(func() { s.startTask(s.init) })
}

// Signal sends sig to the container's init, or with all to every process
// of the sandbox, as the host's kill would reach a container's processes
// (kernel.SignalFromHost). A SIGKILL before Start ends init without it
// running.
func (s *Sandbox) Signal(sig int, all bool) {
	s.kernel.SignalFromHost(sig, all)
	if sig == int(unix.SIGKILL) && s.init != nil {
		s.Start()
	}
}

// Run starts the container's init (loading it first unless Load did) and
// waits until it and every other task are gone. The boot error of a
// program that cannot start is returned as err, with errno inside.
func (s *Sandbox) Run() (kernel.ExitStatus, error) {
	if err := s.Load(); err != nil {
		return kernel.ExitStatus{}, err
	}
	s.Start()
	return s.Wait(), nil
}

// Wait waits until init and every other task are gone and returns how
// init ended.
func (s *Sandbox) Wait() kernel.ExitStatus {
	<-s.kernel.Done()
	return s.kernel.InitStatus()
}

// ExitCode turns a boot failure into the exit status shells use: 127 when
// the program does not exist, 126 when it cannot be executed.
func ExitCode(err error) int {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return 127
	case errors.Is(err, unix.ENOEXEC), errors.Is(err, unix.EACCES), errors.Is(err, unix.EISDIR):
		return 126
	}
	return 125
}

// buildMounts makes the container's mount tree: the rootfs at /, devfs at
// /dev, then the configured mounts in order. A read-only rootfs
// capability is the lower layer of an overlay whose upper layer is a
// tmpfs in the sandbox's memory (unless cfg.ReadOnlyRoot), so the
// workload can change its root file system while the host's stays as it
// was.
func buildMounts(cfg Config, root caps.Grant, byName map[string]caps.Grant, mem *mm.MemoryFile, log *slog.Logger) (*vfs.MountTable, error) {
	writable := root.Rights&caps.RightWrite != 0
	lower := dirfs.New(int(root.File.Fd()), writable)
	lower.SetMemory(mem)
	var mounts *vfs.MountTable
	points := mountPoints(cfg)
	switch {
	case cfg.ReadOnlyRoot && !writable && missingDir(lower.Root(), points):
		// runc makes the spec's mount points before it makes the root
		// read-only; here the root is read-only from the start, so the
		// missing ones are made in a tmpfs upper layer and the whole
		// overlay is mounted read-only.
		upper := tmpfs.New(mem, tmpfs.Options{Dev: unix.Mkdev(0, 63)})
		ovl := overlay.New(lower.Root(), upper)
		for _, p := range points {
			if err := mkdirInodes(ovl.Root(), p); err != nil {
				log.Debug("cannot make mount point", "path", p, "err", err)
			}
		}
		mounts = vfs.NewMountTable(ovl, vfs.MountOptions{ReadOnly: true, Source: "rootfs"})
	case writable || cfg.ReadOnlyRoot:
		mounts = vfs.NewMountTable(lower, vfs.MountOptions{ReadOnly: !writable, Source: "rootfs"})
	default:
		upper := tmpfs.New(mem, tmpfs.Options{Dev: unix.Mkdev(0, 63)})
		mounts = vfs.NewMountTable(overlay.New(lower.Root(), upper), vfs.MountOptions{Source: "overlay"})
	}
	attach := func(dst string, fs vfs.FS, opts vfs.MountOptions) error { return attachMaking(mounts, dst, fs, opts) }
	// Mounts directly under /dev (an OCI container's /dev/mqueue) get
	// their mount points in devfs, where nothing can be created.
	var devDirs []string
	for _, m := range cfg.Mounts {
		if path.Dir(m.Destination) == "/dev" {
			devDirs = append(devDirs, path.Base(m.Destination))
		}
	}
	dev := devfs.New(devDirs...)
	pts := devpts.New(unix.Mkdev(0, 24))
	dev.SetPTS(pts)
	if err := attach("/dev", dev, vfs.MountOptions{Source: "devtmpfs", Options: "mode=755"}); err != nil {
		// A read-only rootfs without /dev (a bare directory of test
		// programs) simply has none.
		log.Debug("no /dev in the rootfs: devfs not mounted", "err", err)
	} else {
		// Terminals, and the tmpfs glibc keeps POSIX shared memory and
		// named semaphores in.
		if err := attach("/dev/pts", pts, vfs.MountOptions{Source: "devpts", Options: "nosuid,noexec,gid=5,mode=620,ptmxmode=000"}); err != nil {
			return nil, fmt.Errorf("mount devpts on /dev/pts: %w", err)
		}
		shm := tmpfs.New(mem, tmpfs.Options{Mode: 0o1777, Dev: unix.Mkdev(0, 62)})
		if err := attach("/dev/shm", shm, vfs.MountOptions{Source: "shm", Options: "nosuid,nodev"}); err != nil {
			return nil, fmt.Errorf("mount tmpfs on /dev/shm: %w", err)
		}
	}
	for i, m := range cfg.Mounts {
		var fs vfs.FS
		opts := vfs.MountOptions{ReadOnly: m.ReadOnly}
		switch m.Type {
		case "bind":
			g, ok := byName[m.Grant]
			if !ok || g.Kind != caps.KindDir {
				return nil, fmt.Errorf("mount %s: exo granted no dir capability %q", m.Destination, m.Grant)
			}
			w := g.Rights&caps.RightWrite != 0 && !m.ReadOnly
			d := dirfs.New(int(g.File.Fd()), w)
			d.SetMemory(mem)
			fs = d
			opts.ReadOnly = !w
			opts.Source = m.Grant
		case "tmpfs":
			// Each tmpfs has a device number of its own, as st_dev tells
			// mounts apart (find -xdev, du -x).
			fs = tmpfs.New(mem, tmpfs.Options{Size: m.Size, Mode: m.Mode, Dev: unix.Mkdev(0, uint32(64+i))})
			opts.Source = "tmpfs"
		default:
			return nil, fmt.Errorf("mount %s: unknown type %q (want bind or tmpfs)", m.Destination, m.Type)
		}
		if err := attach(m.Destination, fs, opts); err != nil {
			return nil, fmt.Errorf("mount %s %s: mount point: %w", m.Type, m.Destination, err)
		}
	}
	return mounts, nil
}

// attachMaking mounts fs at dst, making the mount point first where the
// root can be written (the overlay); in a read-only tree it must exist.
// mountPoints are the directories the sandbox mounts on, outside /dev
// (devfs makes those of /dev).
func mountPoints(cfg Config) []string {
	points := []string{"/dev", "/proc", "/sys"}
	for _, m := range cfg.Mounts {
		if !strings.HasPrefix(path.Clean(m.Destination), "/dev/") {
			points = append(points, path.Clean(m.Destination))
		}
	}
	return points
}

// missingDir reports whether any of the paths is missing under root
// (symlinks are not followed: such a path counts as present, and its
// mount fails later as it would have).
func missingDir(root vfs.Inode, paths []string) bool {
	for _, p := range paths {
		cur := root
		for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
			if name == "" {
				continue
			}
			next, err := cur.Lookup(name)
			if err == unix.ENOENT {
				return true
			}
			if err != nil {
				break
			}
			cur = next
		}
	}
	return false
}

// mkdirInodes makes the directory p and its missing parents under root,
// mode 0755, owned by root, through the file system itself.
func mkdirInodes(root vfs.Inode, p string) error {
	cur := root
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		if name == "" {
			continue
		}
		next, err := cur.Lookup(name)
		if err == unix.ENOENT {
			next, err = cur.Mkdir(name, 0o755, vfs.Cred{})
		}
		if err != nil {
			return err
		}
		cur = next
	}
	return nil
}

func attachMaking(mounts *vfs.MountTable, dst string, fs vfs.FS, opts vfs.MountOptions) error {
	_, err := mounts.Attach(dst, fs, opts)
	if err == unix.ENOENT {
		ctx := &vfs.Context{Root: mounts.Root(), Start: mounts.Root()}
		if mkErr := mkdirAll(mounts, ctx, dst); mkErr == nil {
			_, err = mounts.Attach(dst, fs, opts)
		}
	}
	return err
}

// mkdirAll makes the directory p and its missing parents, mode 0755, as
// root.
func mkdirAll(mounts *vfs.MountTable, ctx *vfs.Context, p string) error {
	cur := ""
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		if name == "" {
			continue
		}
		cur += "/" + name
		if err := mounts.Mkdir(ctx, cur, 0o755); err != nil && err != unix.EEXIST {
			return err
		}
	}
	return nil
}

// addNIC gives the stack the interface exo granted as nc.
func addNIC(st *inet.Stack, nc caps.NICConfig, byName map[string]caps.Grant) error {
	g, ok := byName[NICGrant(nc.Name)]
	if !ok || g.Kind != caps.KindNIC {
		return fmt.Errorf("network interface %q: no capability granted", nc.Name)
	}
	mac, err := net.ParseMAC(nc.MAC)
	if err != nil {
		return fmt.Errorf("network interface %q: %w", nc.Name, err)
	}
	c := inet.NICConfig{FD: int(g.File.Fd()), Name: nc.Name, MAC: mac, MTU: uint32(nc.MTU), Addrs: nc.Addrs}
	for _, r := range nc.Routes {
		c.Routes = append(c.Routes, inet.Route{Dst: r.Dst, Gateway: r.Gateway})
	}
	if err := st.AddNIC(c); err != nil {
		return fmt.Errorf("network interface %q: %w", nc.Name, err)
	}
	return nil
}
