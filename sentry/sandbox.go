// Package sentry boots a sandbox's library OS inside the sentry process and
// runs its tasks: it turns the capabilities exo granted into the kernel's
// memory, file systems and stdio, picks the platform, and drives each task
// between the platform (run until trap) and the syscall table.
package sentry

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

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
	"exokernelul.dev/exo/libos/net/hostinet"
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
	// MemoryLimit is the memory quota when it is below the memory
	// grant's size (0: the whole grant); see mm.MemoryFile.SetLimit.
	MemoryLimit int64 `json:"memoryLimit,omitempty"`
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
	// MaskedPaths are hidden once every mount is made: a directory under
	// an empty read-only tmpfs, anything else under /dev/null; missing
	// paths are skipped (linux.maskedPaths, as runc does).
	MaskedPaths []string `json:"maskedPaths,omitempty"`
	// ReadonlyPaths become read-only mounts of themselves
	// (linux.readonlyPaths); missing paths are skipped.
	ReadonlyPaths []string `json:"readonlyPaths,omitempty"`
	// Sysctl sets files under /proc/sys: keys are paths below it
	// ("kernel/shmmax"), values their content.
	Sysctl map[string]string `json:"sysctl,omitempty"`
	// Domainname is the NIS domain name (kernel.domainname).
	Domainname string `json:"domainname,omitempty"`
	// Devices are device nodes made in /dev (linux.devices).
	Devices []Device `json:"devices,omitempty"`
	// DeviceRules decide which devices may be opened, as the device
	// cgroup does: the last rule that matches wins; none matching denies
	// (no rules at all: every device is allowed).
	DeviceRules []DeviceRule `json:"deviceRules,omitempty"`
	// Cgroup is what the container's cgroup files show.
	Cgroup CgroupConfig `json:"cgroup"`
	// Caps are init's capability sets as they are before its execve,
	// which then changes them as Linux's does (nil: every capability, as
	// a root shell holds).
	Caps *CapSets `json:"caps,omitempty"`
	// NoNewPrivileges is init's prctl(PR_SET_NO_NEW_PRIVS).
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// Seccomp is the container's seccomp filter (linux.seccomp, which
	// the runtime compiled to classic BPF as runc has libseccomp do):
	// init and every process exec'd into the container run under it
	// from their first syscall. Empty: none.
	Seccomp []SeccompInsn `json:"seccomp,omitempty"`
	// OOMScoreAdj is init's /proc/self/oom_score_adj.
	OOMScoreAdj int32 `json:"oomScoreAdj,omitempty"`
	// Terminal gives init a library OS terminal bridged to the host pty
	// slave exo granted as "console" (console.go).
	Terminal bool `json:"terminal,omitempty"`
	// SharePIDs, for a container of a pod (CreateContainer), says it
	// shares the pod's pid namespace (kernel.Container.SharePIDs).
	SharePIDs bool `json:"sharePids,omitempty"`
	// ShareIPC, for a container of a pod, says it joins the pod's IPC
	// namespace: without a /dev/shm mount of its own it gets the
	// sandbox's.
	ShareIPC bool `json:"shareIpc,omitempty"`
	// NICs are the network interfaces exo granted (NICGrant names each
	// one's capability), with the configuration exo read from the netns.
	// None: the sandbox has only loopback (--network=none).
	NICs []caps.NICConfig `json:"nics,omitempty"`
	// HostNetwork serves the workload's TCP and UDP sockets with host
	// sockets exo makes through the host-network capability HostNetGrant
	// (--network=host: weaker isolation, the host's own network).
	HostNetwork bool `json:"hostNetwork,omitempty"`
}

// HostNetGrant is the name exo gives the host-network capability.
const HostNetGrant = "hostnet"

// SentryPolicy is what the sentry's seccomp filter allows for cfg beyond
// its base list (see caps.InstallSentryFilter): bind, connect and the rest
// with host sockets, ptrace with the ptrace platform.
func (c Config) SentryPolicy() caps.SentryPolicy {
	p := caps.SentryPolicy{Net: caps.SentryNetSandbox, Ptrace: c.Platform == "ptrace"}
	if c.HostNetwork {
		p.Net = caps.SentryNetHost
	}
	return p
}

// Device is one node of linux.devices, directly in /dev.
type Device struct {
	Name string `json:"name"`
	// Mode is S_IFCHR or S_IFBLK with the permission bits.
	Mode  uint32 `json:"mode"`
	Major uint32 `json:"major"`
	Minor uint32 `json:"minor"`
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
}

// DeviceRule is one device cgroup rule: Type 'a', 'c' or 'b'; Major and
// Minor -1 for any; Access a subset of "rwm".
type DeviceRule struct {
	Allow  bool   `json:"allow"`
	Type   byte   `json:"type"`
	Major  int64  `json:"major"`
	Minor  int64  `json:"minor"`
	Access string `json:"access"`
}

// CgroupConfig is the container's cgroup as /sys/fs/cgroup shows it.
type CgroupConfig struct {
	// V1 shows the cgroup v1 layout (one mount per controller) instead
	// of v2's single hierarchy.
	V1        bool   `json:"v1,omitempty"`
	Memory    int64  `json:"memory,omitempty"`
	CPUQuota  int64  `json:"cpuQuota,omitempty"`
	CPUPeriod uint64 `json:"cpuPeriod,omitempty"`
	CPUShares uint64 `json:"cpuShares,omitempty"`
}

// CapSets are a process's capability sets, bit n for capability n.
type CapSets struct {
	Bounding    uint64 `json:"bounding"`
	Effective   uint64 `json:"effective"`
	Inheritable uint64 `json:"inheritable"`
	Permitted   uint64 `json:"permitted"`
	Ambient     uint64 `json:"ambient"`
}

// creds are the library OS credentials of a process the runtime starts.
func creds(uid, gid uint32, groups []uint32, c *CapSets, noNewPrivs bool) kernel.Creds {
	cr := kernel.Creds{
		UID: uid, EUID: uid, SUID: uid, FSUID: uid,
		GID: gid, EGID: gid, SGID: gid, FSGID: gid,
		Groups:     groups,
		Caps:       kernel.RootCaps(),
		NoNewPrivs: noNewPrivs,
	}
	if c != nil {
		cr.Caps = kernel.CapSets{
			Bounding:    kernel.CapSet(c.Bounding) & kernel.AllCaps,
			Effective:   kernel.CapSet(c.Effective) & kernel.AllCaps,
			Inheritable: kernel.CapSet(c.Inheritable) & kernel.AllCaps,
			Permitted:   kernel.CapSet(c.Permitted) & kernel.AllCaps,
			Ambient:     kernel.CapSet(c.Ambient) & kernel.AllCaps,
		}
	}
	return cr
}

// NICGrant is the name exo gives the capability of interface name.
func NICGrant(name string) string { return "nic:" + name }

// TasksGrant names the tasks handle through which exo counts each stub
// thread that runs workload code as one of the container's tasks in its
// pids cgroup (caps/tasks.go), when exo split that cgroup.
const TasksGrant = "tasks"

// placeDelay is how long a new stub thread waits before exo moves it
// into the container's pids cgroup. A cgroup v1 move holds the host's
// threadgroup lock across an RCU grace period, stalling every fork and
// exit meanwhile: placing each thread at once cost a shell loop of
// fork+exec+exit 1.7 ms per iteration (300 iterations: 2.2 s against 1.6 s
// unplaced). Most threads of such loops are gone before the delay is up:
// they are never moved, nor even looked up by exo.
const placeDelay = 50 * time.Millisecond

// taskPlacer asks exo, through tasks handle id, to count each new stub
// thread as one of the container's tasks, placeDelay after it started,
// from one goroutine of its own and in order, never on the workload's
// fork, exec or clone; until then a thread is counted with the sandbox's
// own. A thread gone by then (ESRCH) is nothing to count; any other
// refusal is logged once and the thread stays where it is.
func taskPlacer(client *caps.Client, id caps.ID, log *slog.Logger) func(pid, tid int) {
	type newThread struct {
		pid, tid int
		due      time.Time
	}
	queue := make(chan newThread, 1024)
	go func() {
		var once sync.Once
		for t := range queue {
			time.Sleep(time.Until(t.due))
			if unix.Tgkill(t.pid, t.tid, 0) == unix.ESRCH {
				continue // gone already: exo need not look for it
			}
			if err := client.PlaceTask(id, t.pid, t.tid); err != nil && caps.Errno(err) != unix.ESRCH {
				once.Do(func() {
					log.Warn("stub thread not counted in the container's pids cgroup (logged once)", "pid", t.pid, "tid", t.tid, "err", err)
				})
			}
		}
	}()
	return func(pid, tid int) { queue <- newThread{pid, tid, time.Now().Add(placeDelay)} }
}

// DNSGrant names the datagram socket exo connected to the resolver of the
// container's network namespace at DNSAddr (docker's embedded DNS): the
// library OS answers at the same address and relays through it.
const DNSGrant = "dns-forward"

// DNSAddr is where docker's embedded DNS server answers in a container.
var DNSAddr = netip.MustParseAddr("127.0.0.11")

// Rlimit is one resource limit of init, by RLIMIT_* number.
type Rlimit struct {
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
}

// Mount is one file system the workload gets besides its rootfs.
type Mount struct {
	// Type is "bind" (a host directory, granted as a dir capability, or
	// with File a host file, granted as a file capability), "tmpfs",
	// "mqueue", "cgroup" (the container's cgroup, read-only), or where
	// the library OS's own file systems go: "devfs" (/dev), "devpts"
	// (/dev/pts), "proc" (/proc) and "sysfs" (/sys). Those the mounts do
	// not list are attached first (/proc last), as `runsc-exo do` has
	// them.
	Type string `json:"type"`
	// Source is what /proc/mounts shows as the source of a mount other
	// than a bind (empty: the file system's usual name).
	Source string `json:"source,omitempty"`
	// Options are the file system's NAME=VALUE options as /proc/mounts
	// shows them (devpts's ptmxmode= also sets /dev/pts/ptmx's mode).
	Options string `json:"options,omitempty"`
	// Destination is the absolute path in the sandbox; a missing one is
	// made (an empty file for File, else a directory).
	Destination string `json:"destination"`
	ReadOnly    bool   `json:"readOnly,omitempty"`
	// File says a bind's source is a regular file.
	File bool `json:"file,omitempty"`
	// NoExec, NoSuid and NoDev are the mount flags of the same names.
	NoExec bool `json:"noexec,omitempty"`
	NoSuid bool `json:"nosuid,omitempty"`
	NoDev  bool `json:"nodev,omitempty"`
	// Grant names the dir capability of a bind mount (BindGrant).
	Grant string `json:"grant,omitempty"`
	// Size bounds a tmpfs's data in bytes (0: the memory quota); Mode is
	// its root's permission bits (0: 01777).
	Size int64  `json:"size,omitempty"`
	Mode uint32 `json:"mode,omitempty"`
}

// BindGrant is the name exo gives the dir capability of a bind mount at
// dst.
func BindGrant(dst string) string {
	if len(dst) <= 48 {
		return "mount:" + dst
	}
	// Capability names are short (caps allows 128 bytes, and a pod
	// container's prefix takes some): a long destination is named by
	// its hash.
	h := sha256.Sum256([]byte(dst))
	return "mount:#" + hex.EncodeToString(h[:12])
}

// Sandbox is a booted library OS with its platform.
type Sandbox struct {
	cfg      Config
	log      *slog.Logger
	kernel   *kernel.Kernel
	platform platform.Platform
	mem      *mm.MemoryFile
	strace   io.Writer
	// grants holds the granted files for the sandbox's lifetime: the file
	// systems and stdio use their raw fds, which the *os.File finalizers
	// would otherwise close once the files became unreachable.
	grants []caps.Grant
	// nicGrants are the NICs AddNICs added after boot, held as grants
	// are.
	nicMu     sync.Mutex
	nicGrants []caps.Grant
	// init is the container's first task once Load made it; started
	// says whether it was given to the platform.
	init *kernel.Task
	// seccomp is cfg.Seccomp compiled, for init and the processes
	// exec'd into the container (nil: none).
	seccomp *kernel.SeccompFilter
	started sync.Once
	// client asks exo for capabilities granted after boot (an exec's
	// stdio).
	client *caps.Client
	// terms are the sandbox's terminals bridged to host ptys.
	terms *terminals
	// host is kept for the /proc of the pod's other containers (pod.go);
	// pod holds those containers.
	host HostState
	pod  pod
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
	if cfg.MemoryLimit > 0 {
		if err := mem.SetLimit(uint64(cfg.MemoryLimit)); err != nil {
			return nil, fmt.Errorf("memory limit %d: %w", cfg.MemoryLimit, err)
		}
	}
	root, ok := byName["rootfs"]
	if !ok || root.Kind != caps.KindDir {
		return nil, errors.New("exo granted no rootfs capability")
	}
	terms := &terminals{log: log}
	if cfg.Terminal {
		g, ok := byName["console"]
		if !ok || g.Kind != caps.KindFile {
			return nil, errors.New("process.terminal: exo granted no console capability")
		}
		terms.initHost = g.File
	}
	// /proc shows the kernel, which needs the mounts: its source is set
	// once the kernel exists.
	popts := proc.Options{CPUInfo: host.CPUInfo, Release: kernel.Release, Version: kernel.Version, Sysctl: cfg.Sysctl}
	if cfg.Cgroup.V1 {
		popts.CgroupV1 = sysfs.V1Controllers
	}
	procSrc := &lateProc{}
	mounts, dev, err := buildMounts(cfg, root, byName, mem, log, terms, proc.New(procSrc, popts))
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
		opts := systrap.Options{FSGSBase: host.Aux.HWCap2&systrap.HWCap2FSGSBase != 0}
		if g, ok := byName[TasksGrant]; ok && g.Kind == caps.KindTasks && client != nil {
			opts.PlaceThread = taskPlacer(client, g.ID, log)
		}
		plat, err = systrap.New(host.StubDir, opts)
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
	s := &Sandbox{cfg: cfg, log: log, platform: plat, mem: mem, grants: grants, client: client, terms: terms, host: host}
	s.kernel = kernel.New(kernel.Config{
		Memory:     mem,
		Mounts:     mounts,
		Stdio:      stdio,
		Hostname:   cfg.Hostname,
		Domainname: cfg.Domainname,
		HostAux:    host.Aux,
		VDSO:       vdso,
		Log:        log,
		NewAddressSpace: func(name string) (kernel.HostAddressSpace, error) {
			return plat.NewAddressSpace(mem, name)
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
	if cfg.HostNetwork {
		g, ok := byName[HostNetGrant]
		if !ok || g.Kind != caps.KindHostNet {
			return nil, errors.New("host network: exo granted no host-network capability")
		}
		s.kernel.HostNet = hostinet.New(client, g.ID, log)
	}
	procSrc.Source = s.kernel.ProcSource()
	if err := applyMasks(mounts, dev, cfg, mem, log); err != nil {
		return nil, err
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
	filter, err := seccompFilter(s.cfg.Seccomp)
	if err != nil {
		return err
	}
	s.seccomp = filter
	t, err := s.kernel.NewInitTask(kernel.InitSpec{
		Argv:        s.cfg.Argv,
		Env:         s.cfg.Env,
		Cwd:         s.cfg.Cwd,
		Creds:       creds(s.cfg.UID, s.cfg.GID, s.cfg.Groups, s.cfg.Caps, s.cfg.NoNewPrivileges),
		Rlimits:     rlimits,
		OOMScoreAdj: s.cfg.OOMScoreAdj,
		TTY:         s.terms.initTTY(),
		Seccomp:     s.seccomp,
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
		if all {
			// The pod's containers still held at create must run to
			// die.
			s.startHeldContainers()
		}
	}
}

// SignalProcess sends sig to the sandbox's process pid (one Exec
// started).
func (s *Sandbox) SignalProcess(pid int, sig int) error {
	return s.kernel.SignalProcessFromHost(int32(pid), sig)
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
	// A client that does not read holds the output back; it does not
	// hold the sandbox's end back for long.
	s.terms.drain(5 * time.Second)
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
// /dev, sysfs at /sys, then the configured mounts in order (/proc is
// mounted by Boot once the kernel exists). A read-only rootfs
// capability is the lower layer of an overlay whose upper layer is a
// tmpfs in the sandbox's memory (unless cfg.ReadOnlyRoot), so the
// workload can change its root file system while the host's stays as it
// was.
func buildMounts(cfg Config, root caps.Grant, byName map[string]caps.Grant, mem *mm.MemoryFile, log *slog.Logger, terms *terminals, procFS vfs.FS) (*vfs.MountTable, *devfs.FS, error) {
	writable := root.Rights&caps.RightWrite != 0
	lower := dirfs.New(int(root.File.Fd()), writable)
	lower.SetMemory(mem)
	var mounts *vfs.MountTable
	points := mountPoints(cfg)
	switch {
	case cfg.ReadOnlyRoot && !writable && missingPoint(lower.Root(), points):
		// runc makes the spec's mount points before it makes the root
		// read-only; here the root is read-only from the start, so the
		// missing ones are made in a tmpfs upper layer and the whole
		// overlay is mounted read-only.
		upper := tmpfs.New(mem, tmpfs.Options{Dev: unix.Mkdev(0, 63)})
		ovl := overlay.New(lower.Root(), upper)
		for _, p := range points {
			if err := makePoint(ovl.Root(), p); err != nil {
				log.Debug("cannot make mount point", "path", p.path, "err", err)
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
	// Mounts directly under /dev (an OCI container's /dev/mqueue, CRI's
	// /dev/termination-log) get their mount points in devfs, where
	// nothing can be created.
	var devDirs, devFiles []string
	for _, m := range cfg.Mounts {
		if path.Dir(m.Destination) == "/dev" {
			if m.File {
				devFiles = append(devFiles, path.Base(m.Destination))
			} else {
				devDirs = append(devDirs, path.Base(m.Destination))
			}
		}
	}
	dev := devfs.New(devDirs...)
	for _, f := range devFiles {
		dev.AddFile(f)
	}
	for _, d := range cfg.Devices {
		dev.AddNode(devfs.Node{Name: d.Name, Mode: d.Mode, Major: d.Major, Minor: d.Minor, UID: d.UID, GID: d.GID})
	}
	if len(cfg.DeviceRules) > 0 {
		dev.SetDeviceAccess(deviceAccess(cfg.DeviceRules))
	}
	pts := devpts.New(unix.Mkdev(0, 24))
	dev.SetPTS(pts)
	if err := terms.attach(dev, pts); err != nil {
		return nil, nil, err
	}
	sysFS, err := sysfs.New(mem, sysfs.Options{CPUs: runtime.NumCPU(), Dev: unix.Mkdev(0, 20)})
	if err != nil {
		return nil, nil, err
	}
	// The library OS's own file systems go where the mounts list them
	// (an OCI spec's order, which /proc/self/mountinfo shows), the others
	// first, as `runsc-exo do` has them; /proc, which shows the kernel,
	// last.
	given := map[string]bool{}
	shmGiven := false
	var devMount vfs.FS = dev
	for _, m := range cfg.Mounts {
		switch m.Type {
		case "devfs", "devpts", "proc", "sysfs":
			given[m.Type] = true
			if m.Type == "devfs" {
				// runc mounts a tmpfs there and fills it.
				devMount = &namedFS{FS: dev, name: "tmpfs"}
			}
			if m.Type == "devpts" {
				// runc makes /dev/ptmx a symlink into the devpts it
				// mounts, whose ptmx then has the ptmxmode= asked for.
				dev.SetPtmxLink()
				pts.SetPtmxMode(ptmxMode(m.Options))
			}
		}
		if path.Clean(m.Destination) == "/dev/shm" {
			shmGiven = true
		}
	}
	var attachOwn func(typ string, m *Mount) error
	attachOwn = func(typ string, m *Mount) error {
		var fs vfs.FS
		var dst string
		var opts vfs.MountOptions
		switch typ {
		case "devfs":
			fs, dst, opts = devMount, "/dev", vfs.MountOptions{Source: "devtmpfs", Options: "mode=755", NoSuid: true}
		case "devpts":
			fs, dst, opts = pts, "/dev/pts", vfs.MountOptions{Source: "devpts", Options: "gid=5,mode=620,ptmxmode=000", NoSuid: true, NoExec: true}
		case "sysfs":
			fs, dst, opts = sysFS, "/sys", vfs.MountOptions{ReadOnly: true, Source: "sysfs", NoSuid: true, NoDev: true, NoExec: true}
		case "proc":
			fs, dst, opts = procFS, "/proc", vfs.MountOptions{Source: "proc", NoSuid: true, NoDev: true, NoExec: true}
		}
		if m != nil {
			src := m.Source
			if src == "" {
				src = opts.Source
			}
			opts = vfs.MountOptions{ReadOnly: m.ReadOnly, NoExec: m.NoExec, NoSuid: m.NoSuid, NoDev: m.NoDev, Source: src, Options: m.Options}
		}
		err := attach(dst, fs, opts)
		switch {
		case err == nil:
		case typ == "devpts":
			return fmt.Errorf("mount devpts on /dev/pts: %w", err)
		default:
			// A read-only rootfs without /dev, /sys or /proc (a bare
			// directory of test programs) simply has none.
			log.Debug("no mount point in the rootfs: not mounted", "fs", typ, "path", dst, "err", err)
			return nil
		}
		if typ != "devfs" {
			return nil
		}
		// Terminals, and the tmpfs glibc keeps POSIX shared memory and
		// named semaphores in, unless the mounts bring their own.
		if !given["devpts"] {
			if err := attachOwn("devpts", nil); err != nil {
				return err
			}
		}
		if !shmGiven {
			shm := tmpfs.New(mem, tmpfs.Options{Mode: 0o1777, Dev: unix.Mkdev(0, 62)})
			if err := attach("/dev/shm", shm, vfs.MountOptions{Source: "shm", NoSuid: true, NoDev: true}); err != nil {
				return fmt.Errorf("mount tmpfs on /dev/shm: %w", err)
			}
		}
		return nil
	}
	if !given["devfs"] {
		if err := attachOwn("devfs", nil); err != nil {
			return nil, nil, err
		}
	}
	if !given["sysfs"] {
		if err := attachOwn("sysfs", nil); err != nil {
			return nil, nil, err
		}
	}
	for i, m := range cfg.Mounts {
		var fs vfs.FS
		opts := vfs.MountOptions{ReadOnly: m.ReadOnly, NoExec: m.NoExec, NoSuid: m.NoSuid, NoDev: m.NoDev}
		devNum := unix.Mkdev(0, uint32(64+i))
		switch m.Type {
		case "bind":
			g, ok := byName[m.Grant]
			switch {
			case ok && m.File && g.Kind == caps.KindFile:
				w := g.Rights&caps.RightWrite != 0 && !m.ReadOnly
				f := dirfs.NewFile(int(g.File.Fd()), g.Rights&caps.RightWrite != 0)
				f.SetMemory(mem)
				fs = f
				opts.ReadOnly = !w
			case ok && !m.File && g.Kind == caps.KindDir:
				w := g.Rights&caps.RightWrite != 0 && !m.ReadOnly
				d := dirfs.New(int(g.File.Fd()), w)
				d.SetMemory(mem)
				fs = d
				opts.ReadOnly = !w
			default:
				return nil, nil, fmt.Errorf("mount %s: exo granted no capability %q for it", m.Destination, m.Grant)
			}
			opts.Source = m.Grant
			// mountinfo shows a bind's source directory as its root.
			opts.Root = m.Source
		case "tmpfs":
			// Each tmpfs has a device number of its own, as st_dev tells
			// mounts apart (find -xdev, du -x).
			fs = tmpfs.New(mem, tmpfs.Options{Size: m.Size, Mode: m.Mode, Dev: devNum})
			opts.Source = cmp.Or(m.Source, "tmpfs")
			opts.Options = m.Options
		case "mqueue":
			// POSIX message queues are not modelled: an empty file system
			// where the workload expects one.
			fs = &namedFS{FS: tmpfs.New(mem, tmpfs.Options{Mode: 0o1777, Dev: devNum}), name: "mqueue"}
			opts.Source = cmp.Or(m.Source, "mqueue")
		case "devfs", "devpts", "proc", "sysfs":
			if err := attachOwn(m.Type, &cfg.Mounts[i]); err != nil {
				return nil, nil, err
			}
			continue
		case "cgroup":
			if err := mountCgroup(mounts, m.Destination, cfg.Cgroup, cfg.PidsLimit, mem, devNum, opts); err != nil {
				return nil, nil, fmt.Errorf("mount cgroup %s: %w", m.Destination, err)
			}
			continue
		default:
			return nil, nil, fmt.Errorf("mount %s: unknown type %q (want bind, tmpfs, mqueue, cgroup, devfs, devpts, proc or sysfs)", m.Destination, m.Type)
		}
		var err error
		if m.File {
			err = attachFile(mounts, m.Destination, fs, opts)
		} else {
			err = attach(m.Destination, fs, opts)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("mount %s %s: mount point: %w", m.Type, m.Destination, err)
		}
	}
	if !given["proc"] {
		if err := attachOwn("proc", nil); err != nil {
			return nil, nil, err
		}
	}
	return mounts, dev, nil
}

// ptmxMode reads devpts's ptmxmode= from a mount's options; Linux's
// default is 0.
func ptmxMode(options string) uint32 {
	for _, o := range strings.Split(options, ",") {
		if v, ok := strings.CutPrefix(o, "ptmxmode="); ok {
			if n, err := strconv.ParseUint(v, 8, 32); err == nil {
				return uint32(n) & 0o777
			}
		}
	}
	return 0
}

// lateProc is the proc.Source of a /proc mounted before its kernel (or
// container) exists: nothing reads it before the workload runs. It
// forwards the optional setters too, which /proc finds by type assertion.
type lateProc struct{ proc.Source }

// SetOOMScoreAdj implements proc.OOMScoreAdjSetter.
func (l *lateProc) SetOOMScoreAdj(tgid, adj int32) error {
	if s, ok := l.Source.(proc.OOMScoreAdjSetter); ok {
		return s.SetOOMScoreAdj(tgid, adj)
	}
	return unix.EACCES
}

// SetComm implements proc.CommSetter.
func (l *lateProc) SetComm(tgid, tid int32, comm string) error {
	if s, ok := l.Source.(proc.CommSetter); ok {
		return s.SetComm(tgid, tid, comm)
	}
	return unix.EACCES
}

// Processes implements proc.Source: mounting stats /proc's root, whose
// link count counts them, before the source is set.
func (l *lateProc) Processes() []int32 {
	if l.Source == nil {
		return nil
	}
	return l.Source.Processes()
}

// namedFS is a file system shown under another type name (an empty
// tmpfs standing in for mqueue).
type namedFS struct {
	vfs.FS
	name string
}

// Name implements vfs.FS.
func (n *namedFS) Name() string { return n.name }

// mountCgroup mounts the container's cgroup at dst, read-only: a cgroup2
// file system, or with cg.V1 a tmpfs holding one cgroup mount per v1
// controller, as a v1 host's /sys/fs/cgroup is laid out.
func mountCgroup(mounts *vfs.MountTable, dst string, cg CgroupConfig, pids int, mem *mm.MemoryFile, dev uint64, opts vfs.MountOptions) error {
	l := sysfs.Limits{Memory: cg.Memory, Pids: pids, CPUQuota: cg.CPUQuota, CPUPeriod: cg.CPUPeriod, CPUShares: cg.CPUShares, CPUs: runtime.NumCPU()}
	opts.ReadOnly = true
	opts.NoSuid, opts.NoDev, opts.NoExec = true, true, true
	if !cg.V1 {
		fs, err := sysfs.NewCgroup2(mem, dev, l)
		if err != nil {
			return err
		}
		opts.Source = "cgroup2"
		return attachMaking(mounts, dst, fs, opts)
	}
	top := tmpfs.New(mem, tmpfs.Options{Mode: 0o755, Dev: dev})
	for _, c := range sysfs.V1Controllers {
		if _, err := top.Root().Mkdir(c, 0o755, vfs.Cred{}); err != nil {
			return err
		}
	}
	for _, c := range []string{"cpu", "cpuacct"} {
		if _, err := top.Root().Symlink(c, "cpu,cpuacct", vfs.Cred{}); err != nil {
			return err
		}
	}
	topOpts := opts
	topOpts.Source, topOpts.Options = "tmpfs", "mode=755"
	if err := attachMaking(mounts, dst, top, topOpts); err != nil {
		return err
	}
	for i, c := range sysfs.V1Controllers {
		fs, err := sysfs.NewCgroup1(mem, unix.Mkdev(0, uint32(40+i)), c, l)
		if err != nil {
			return err
		}
		copts := opts
		copts.Source, copts.Options = "cgroup", c
		if _, err := mounts.Attach(path.Join(dst, c), fs, copts); err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
	}
	return nil
}

// deviceAccess evaluates device cgroup rules as Linux does: for each
// access asked for, the last rule that matches the device and names that
// access decides; no matching rule denies.
func deviceAccess(rules []DeviceRule) devfs.DeviceAccess {
	return func(typ byte, major, minor uint32, acc string) bool {
		for _, a := range acc {
			allowed := false
			for _, r := range rules {
				if (r.Type == 'a' || r.Type == typ) &&
					(r.Major < 0 || r.Major == int64(major)) &&
					(r.Minor < 0 || r.Minor == int64(minor)) &&
					strings.ContainsRune(r.Access, a) {
					allowed = r.Allow
				}
			}
			if !allowed {
				return false
			}
		}
		return true
	}
}

// applyMasks hides cfg.MaskedPaths and makes cfg.ReadonlyPaths read-only,
// after every mount, as runc does last. A path that does not exist is
// skipped.
func applyMasks(mounts *vfs.MountTable, dev *devfs.FS, cfg Config, mem *mm.MemoryFile, log *slog.Logger) error {
	ctx := &vfs.Context{Root: mounts.Root(), Start: mounts.Root()}
	for _, p := range cfg.ReadonlyPaths {
		d, err := mounts.Lookup(ctx, p, vfs.LookupFollow)
		if err == unix.ENOENT || err == unix.ENOTDIR {
			continue
		}
		if err != nil {
			return fmt.Errorf("readonly path %s: %w", p, err)
		}
		opts := d.Mount().Options()
		opts.ReadOnly = true
		opts.NoSuid, opts.NoDev, opts.NoExec = true, true, true
		if _, err := mounts.Mount(d, vfs.Bind(d.Mount().FS(), d.Inode()), opts); err != nil {
			return fmt.Errorf("readonly path %s: %w", p, err)
		}
	}
	for i, p := range cfg.MaskedPaths {
		d, err := mounts.Lookup(ctx, p, vfs.LookupFollow)
		if err == unix.ENOENT || err == unix.ENOTDIR {
			continue
		}
		if err != nil {
			return fmt.Errorf("masked path %s: %w", p, err)
		}
		st, err := d.Stat()
		if err != nil {
			return fmt.Errorf("masked path %s: %w", p, err)
		}
		var fs vfs.FS
		opts := vfs.MountOptions{ReadOnly: true}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			fs = tmpfs.New(mem, tmpfs.Options{Dev: unix.Mkdev(0, uint32(200+i))})
			opts.Source = "tmpfs"
		} else {
			null, err := dev.Root().Lookup("null")
			if err != nil {
				return fmt.Errorf("masked path %s: /dev/null: %w", p, err)
			}
			fs = vfs.Bind(dev, null)
			opts = vfs.MountOptions{Source: "devtmpfs", Options: "mode=755", NoSuid: true}
		}
		if _, err := mounts.Mount(d, fs, opts); err != nil {
			return fmt.Errorf("masked path %s: %w", p, err)
		}
		log.Debug("masked", "path", p)
	}
	return nil
}

// mountPoint is a place the sandbox mounts on, and whether what goes
// there is a file.
type mountPoint struct {
	path string
	file bool
}

// mountPoints are the places the sandbox mounts on, outside /dev
// (devfs makes those of /dev).
func mountPoints(cfg Config) []mountPoint {
	points := []mountPoint{{"/dev", false}, {"/proc", false}, {"/sys", false}}
	for _, m := range cfg.Mounts {
		if !strings.HasPrefix(path.Clean(m.Destination), "/dev/") {
			points = append(points, mountPoint{path.Clean(m.Destination), m.File})
		}
	}
	return points
}

// missingPoint reports whether any of the points is missing under root
// (symlinks are not followed: such a path counts as present, and its
// mount fails later as it would have).
func missingPoint(root vfs.Inode, points []mountPoint) bool {
	for _, p := range points {
		cur := root
		for _, name := range strings.Split(strings.Trim(p.path, "/"), "/") {
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

// makePoint makes the mount point p and its missing parents under root,
// owned by root, through the file system itself: directories mode 0755,
// a file's point an empty file of mode 0755 as runc makes it.
func makePoint(root vfs.Inode, p mountPoint) error {
	cur := root
	names := strings.Split(strings.Trim(p.path, "/"), "/")
	for i, name := range names {
		if name == "" {
			continue
		}
		next, err := cur.Lookup(name)
		if err == unix.ENOENT {
			if p.file && i == len(names)-1 {
				next, err = cur.Create(name, 0o755, vfs.Cred{})
			} else {
				next, err = cur.Mkdir(name, 0o755, vfs.Cred{})
			}
		}
		if err != nil {
			return err
		}
		cur = next
	}
	return nil
}

// attachFile mounts the single-file fs at dst, making dst first (an
// empty file, its parents directories) where the tree can be written.
func attachFile(mounts *vfs.MountTable, dst string, fs vfs.FS, opts vfs.MountOptions) error {
	_, err := mounts.Attach(dst, fs, opts)
	if err == unix.ENOENT {
		ctx := &vfs.Context{Root: mounts.Root(), Start: mounts.Root()}
		if mkErr := mkdirAll(mounts, ctx, path.Dir(dst)); mkErr != nil {
			return mkErr
		}
		f, mkErr := mounts.Open(ctx, dst, vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_RDONLY, Mode: 0o755})
		if mkErr != nil {
			return mkErr
		}
		f.DecRef()
		_, err = mounts.Attach(dst, fs, opts)
	}
	return err
}

// attachMaking mounts fs at dst, making the mount point first where the
// root can be written (the overlay); in a read-only tree it must exist.
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
	c := inet.NICConfig{FD: int(g.File.Fd()), Name: nc.Name, MAC: mac, MTU: uint32(nc.MTU), Addrs: nc.Addrs, VnetHdr: nc.VnetHdr}
	for _, r := range nc.Routes {
		c.Routes = append(c.Routes, inet.Route{Dst: r.Dst, Gateway: r.Gateway})
	}
	if err := st.AddNIC(c); err != nil {
		return fmt.Errorf("network interface %q: %w", nc.Name, err)
	}
	return nil
}

// AddNICs gives the running library OS the interfaces exo granted after
// boot: an OCI container's network namespace gets its interface from the
// runtime's hooks (docker's libnetwork-setkey), which run once the sandbox
// is created, so exo opens it only then.
func (s *Sandbox) AddNICs(ncs []caps.NICConfig) error {
	if len(ncs) == 0 {
		return nil
	}
	if s.client == nil {
		return errors.New("no capability client")
	}
	all, err := s.client.Grants()
	if err != nil {
		return fmt.Errorf("receive network interfaces: %w", err)
	}
	byName := map[string]caps.Grant{}
	var dns *os.File
	for _, g := range all {
		if g.Name == DNSGrant && g.Kind == caps.KindFile && dns == nil {
			dns = g.File
			continue
		}
		if g.Kind != caps.KindNIC {
			g.File.Close()
			continue
		}
		byName[g.Name] = g
	}
	s.nicMu.Lock()
	defer s.nicMu.Unlock()
	var errs []error
	if dns != nil {
		if err := s.kernel.Net.ForwardDNS(DNSAddr, dns); err != nil {
			dns.Close()
			errs = append(errs, err)
		}
	}
	for _, nc := range ncs {
		if err := addNIC(s.kernel.Net, nc, byName); err != nil {
			errs = append(errs, err)
			continue
		}
		// The stack reads and writes the raw fd: the file must stay
		// reachable.
		s.nicGrants = append(s.nicGrants, byName[NICGrant(nc.Name)])
		delete(byName, NICGrant(nc.Name))
	}
	for _, g := range byName {
		g.File.Close()
	}
	return errors.Join(errs...)
}

// NetFiles implements proc.NetSource.
func (l *lateProc) NetFiles(tgid int32) []string {
	if s, ok := l.Source.(proc.NetSource); ok {
		return s.NetFiles(tgid)
	}
	return nil
}

// NetFile implements proc.NetSource.
func (l *lateProc) NetFile(tgid int32, name string) ([]byte, error) {
	if s, ok := l.Source.(proc.NetSource); ok {
		return s.NetFile(tgid, name)
	}
	return nil, unix.ENOENT
}
