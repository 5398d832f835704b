// Package oci turns an OCI bundle into what a runsc-exo sandbox runs: it
// loads and validates config.json (every error names the field), translates
// the spec into a Sandbox description, keeps each container's state under
// the runtime's root directory, and runs the spec's hooks.
package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Sandbox is what the runtime builds from a bundle: the rootfs and mounts
// exo grants, the init process the sentry loads, and the quotas.
type Sandbox struct {
	// Rootfs is the absolute host path of the container's root.
	Rootfs       string
	ReadOnlyRoot bool

	Args   []string
	Env    []string
	Cwd    string
	UID    uint32
	GID    uint32
	Groups []uint32
	// Rlimits are the process's resource limits, by RLIMIT_* number.
	Rlimits []Rlimit
	// Caps are process.capabilities (nil: not given, the process keeps
	// every capability as with runc).
	Caps            *Caps
	NoNewPrivileges bool
	// Seccomp is linux.seccomp compiled to classic BPF (nil: none).
	Seccomp []SockFilter
	// OOMScoreAdj is process.oomScoreAdj (0 when not given).
	OOMScoreAdj int
	Hostname    string
	// Terminal asks for a pty as the process's stdio (process.terminal),
	// of ConsoleSize if set.
	Terminal    bool
	ConsoleSize *specs.Box

	// Mounts are the file systems besides the rootfs, in spec order;
	// only the ones the runtime must build (bind and tmpfs).
	Mounts []Mount

	// MemoryLimit is the memory quota in bytes (0: no limit given).
	MemoryLimit int64
	// PidsLimit caps the container's tasks (0: no limit).
	PidsLimit int
	// NetworkRate caps each granted interface's egress in bytes per
	// second (NetworkRateAnnotation; 0: no limit).
	NetworkRate int64

	// MaskedPaths and ReadonlyPaths are linux.maskedPaths and
	// linux.readonlyPaths.
	MaskedPaths   []string
	ReadonlyPaths []string
	// Sysctl are linux.sysctl's namespaced settings, as paths below
	// /proc/sys ("kernel/shmmax") with their values.
	Sysctl map[string]string
	// Domainname is kernel.domainname's value ("" if not set).
	Domainname string
	// Devices are linux.devices; DeviceRules linux.resources.devices
	// with runc's default allowed devices appended.
	Devices     []Device
	DeviceRules []DeviceRule
	// CPUQuota, CPUPeriod and CPUShares are linux.resources.cpu's (0:
	// not given), for the container's cgroup files.
	CPUQuota  int64
	CPUPeriod uint64
	CPUShares uint64
	// NetNS is the network namespace (linux.namespaces' network path)
	// the sandbox's host processes join; "" for a new one (NewNetNS) or,
	// without a network namespace in the spec, the runtime's own.
	NetNS string
	// HostNS are the namespaces given by path (network among them) that
	// exo is started in (InNamespaces), so the host sees the container's
	// process in them as it would a runc container's; the library OS
	// keeps its own of every kind but network.
	HostNS []specs.LinuxNamespace
	// NewNetNS says the container gets a new network namespace (a
	// network namespace without a path), as runc makes one: exo is
	// started in it, and the runtime's hooks (docker's libnetwork-setkey)
	// put the container's interfaces there.
	NewNetNS bool
	// HostNetwork says the spec has no network namespace: the container
	// shares the runtime's network, as with runc (docker --network=host).
	// The sandbox then gets host sockets that exo makes in that namespace
	// (weaker isolation) instead of the library OS's TCP/IP.
	HostNetwork bool

	// Warnings are what the spec asks for that is accepted but not
	// honoured as such; the runtime logs them.
	Warnings []string
}

// Device is one node of linux.devices, directly under /dev.
type Device struct {
	Name         string
	Mode         uint32 // S_IFCHR or S_IFBLK with the permission bits
	Major, Minor uint32
	UID, GID     uint32
}

// DeviceRule is one device cgroup rule: Type 'a', 'c' or 'b', Major and
// Minor -1 for any, Access a subset of "rwm".
type DeviceRule struct {
	Allow        bool
	Type         byte
	Major, Minor int64
	Access       string
}

// Caps are a process's capability sets, bit n for capability n.
type Caps struct {
	Bounding, Effective, Inheritable, Permitted, Ambient uint64
}

// Rlimit is one resource limit of the init process.
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

// Mount is one mount the runtime builds.
type Mount struct {
	// Type is "bind" (a host directory, granted as a dir capability, or
	// with File a host regular file, granted as a file capability),
	// "tmpfs", "mqueue", "cgroup", or one of the library OS's own file
	// systems at its usual place: "proc" (/proc), "sysfs" (/sys),
	// "devpts" (/dev/pts) and "devfs" (a tmpfs at /dev, which runc fills
	// with the default devices).
	Type string
	// Source is a bind's host path; for the others, what /proc/mounts
	// shows as the source.
	Source      string
	Destination string
	ReadOnly    bool
	File        bool
	// NoExec, NoSuid and NoDev are the mount options of those names.
	NoExec, NoSuid, NoDev bool
	// Size and Mode are a tmpfs's size= and mode= options.
	Size int64
	Mode uint32
	// Options are the spec's NAME=VALUE options, comma-separated, as
	// /proc/mounts shows a file system's own options (mode=755,size=65536k).
	Options string
}

// LoadBundle reads bundle/config.json.
func LoadBundle(bundle string) (*specs.Spec, error) {
	p := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("bundle %q: no config.json", bundle)
		}
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return &spec, nil
}

// fieldError is a config.json error naming the field.
func fieldError(field, format string, a ...any) error {
	return fmt.Errorf("config.json: %s: %s", field, fmt.Sprintf(format, a...))
}

// rlimitNumbers are the RLIMIT_* names Linux knows.
var rlimitNumbers = map[string]int{
	"RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3,
	"RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
	"RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
	"RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}

// providedFS are the mount types the library OS serves itself: accepting
// them means the workload finds them where the spec puts them.
var providedFS = map[string]bool{
	"proc": true, "sysfs": true, "devpts": true, "mqueue": true, "cgroup": true, "cgroup2": true, "devtmpfs": true,
}

// namespaceTypes are the namespace kinds of the spec; every container gets
// its own of each inside the library OS.
var namespaceTypes = map[specs.LinuxNamespaceType]bool{
	specs.PIDNamespace: true, specs.NetworkNamespace: true, specs.MountNamespace: true,
	specs.IPCNamespace: true, specs.UTSNamespace: true, specs.UserNamespace: true,
	specs.CgroupNamespace: true, specs.TimeNamespace: true,
}

// Translate validates spec (of the bundle at bundle) and turns it into a
// Sandbox. What runc accepts is accepted; what cannot be honoured safely is
// refused with an error naming the field.
func Translate(spec *specs.Spec, bundle string) (*Sandbox, error) {
	sb := &Sandbox{}
	if spec.Version == "" {
		return nil, fieldError("ociVersion", "must be set")
	}
	if !strings.HasPrefix(spec.Version, "1.") {
		return nil, fieldError("ociVersion", "%q is not a 1.x version", spec.Version)
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return nil, fieldError("root.path", "must be set")
	}
	root := spec.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(bundle, root)
	}
	st, err := os.Stat(root)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fieldError("root.path", "%q: no such directory", spec.Root.Path)
	case err != nil:
		return nil, fieldError("root.path", "%q: %v", spec.Root.Path, errors.Unwrap(err))
	case !st.IsDir():
		return nil, fieldError("root.path", "%q: not a directory", spec.Root.Path)
	}
	sb.Rootfs = root
	sb.ReadOnlyRoot = spec.Root.Readonly

	if err := translateProcess(spec.Process, sb); err != nil {
		return nil, err
	}
	sb.Hostname = spec.Hostname
	if err := translateNetworkRate(spec.Annotations, sb); err != nil {
		return nil, err
	}
	if err := validateHooks(spec.Hooks); err != nil {
		return nil, err
	}
	for i, m := range spec.Mounts {
		if err := translateMount(i, m, sb); err != nil {
			return nil, err
		}
	}
	sb.HostNetwork = true
	if spec.Linux != nil {
		if err := translateLinux(spec.Linux, sb); err != nil {
			return nil, err
		}
	}
	return sb, nil
}

func translateProcess(p *specs.Process, sb *Sandbox) error {
	if p == nil {
		return fieldError("process", "must be set")
	}
	sb.Terminal = p.Terminal
	sb.ConsoleSize = p.ConsoleSize
	if len(p.Args) == 0 {
		return fieldError("process.args", "must not be empty")
	}
	if p.Args[0] == "" {
		return fieldError("process.args[0]", "must not be empty")
	}
	if p.Cwd == "" {
		return fieldError("process.cwd", "must be set")
	}
	if !path.IsAbs(p.Cwd) {
		return fieldError("process.cwd", "%q is not an absolute path", p.Cwd)
	}
	for i, e := range p.Env {
		if !strings.Contains(e, "=") || strings.HasPrefix(e, "=") {
			return fieldError(fmt.Sprintf("process.env[%d]", i), "%q is not NAME=VALUE", e)
		}
	}
	sb.Args = p.Args
	sb.Env = p.Env
	if !hasEnv(p.Env, "HOME") {
		// As runc: a process without HOME gets its user's home directory.
		sb.Env = append(slices.Clip(p.Env), "HOME="+homeDir(sb.Rootfs, p.User.UID))
	}
	sb.Cwd = p.Cwd
	sb.UID, sb.GID = p.User.UID, p.User.GID
	sb.Groups = p.User.AdditionalGids
	seen := map[string]bool{}
	for i, r := range p.Rlimits {
		field := fmt.Sprintf("process.rlimits[%d]", i)
		n, ok := rlimitNumbers[r.Type]
		if !ok {
			return fieldError(field+".type", "%q is not a resource limit", r.Type)
		}
		if seen[r.Type] {
			return fieldError(field+".type", "%s is given twice", r.Type)
		}
		seen[r.Type] = true
		if r.Soft > r.Hard {
			return fieldError(field, "soft limit %d is above the hard limit %d", r.Soft, r.Hard)
		}
		sb.Rlimits = append(sb.Rlimits, Rlimit{Resource: n, Soft: r.Soft, Hard: r.Hard})
	}
	if c := p.Capabilities; c != nil {
		sb.Caps = &Caps{}
		for _, set := range []struct {
			field string
			names []string
			mask  *uint64
		}{
			{"bounding", c.Bounding, &sb.Caps.Bounding},
			{"effective", c.Effective, &sb.Caps.Effective},
			{"inheritable", c.Inheritable, &sb.Caps.Inheritable},
			{"permitted", c.Permitted, &sb.Caps.Permitted},
			{"ambient", c.Ambient, &sb.Caps.Ambient},
		} {
			for i, name := range set.names {
				n, ok := capNumbers[strings.ToUpper(name)]
				if !ok {
					// As runc 1.1: a name this kernel does not know
					// (a newer one, or a typo) is skipped, not an error.
					sb.Warnings = append(sb.Warnings, fmt.Sprintf("process.capabilities.%s[%d]: unknown capability %q ignored", set.field, i, name))
					continue
				}
				*set.mask |= 1 << n
			}
		}
	}
	sb.NoNewPrivileges = p.NoNewPrivileges
	if p.OOMScoreAdj != nil {
		if *p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000 {
			return fieldError("process.oomScoreAdj", "%d is outside -1000..1000", *p.OOMScoreAdj)
		}
		sb.OOMScoreAdj = *p.OOMScoreAdj
	}
	return nil
}

// capNumbers are the capability names of Linux 6.x and their numbers.
var capNumbers = map[string]int{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
	"CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
	"CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
	"CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
	"CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
	"CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
	"CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
	"CAP_CHECKPOINT_RESTORE": 40,
}

func validateHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	stages := []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", h.Prestart}, {"createRuntime", h.CreateRuntime}, {"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer}, {"poststart", h.Poststart}, {"poststop", h.Poststop},
	}
	for _, s := range stages {
		for i, hk := range s.hooks {
			field := fmt.Sprintf("hooks.%s[%d]", s.name, i)
			if !filepath.IsAbs(hk.Path) {
				return fieldError(field+".path", "%q is not an absolute path", hk.Path)
			}
			if hk.Timeout != nil && *hk.Timeout <= 0 {
				return fieldError(field+".timeout", "%d is not a positive number of seconds", *hk.Timeout)
			}
		}
	}
	return nil
}

func translateMount(i int, m specs.Mount, sb *Sandbox) error {
	field := fmt.Sprintf("mounts[%d]", i)
	if m.Destination == "" {
		return fieldError(field+".destination", "must be set")
	}
	// runc still takes a relative destination as relative to / (with a
	// deprecation warning).
	dst := path.Clean("/" + m.Destination)
	typ := m.Type
	bind := false
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			bind = true
		}
	}
	if bind || typ == "bind" {
		typ = "bind"
	}
	var flags Mount
	for _, o := range m.Options {
		switch o {
		case "ro":
			flags.ReadOnly = true
		case "rw":
			flags.ReadOnly = false
		case "noexec":
			flags.NoExec = true
		case "exec":
			flags.NoExec = false
		case "nosuid":
			flags.NoSuid = true
		case "suid":
			flags.NoSuid = false
		case "nodev":
			flags.NoDev = true
		case "dev":
			flags.NoDev = false
		}
	}
	flags.Destination = dst
	var data []string
	for _, o := range m.Options {
		if strings.Contains(o, "=") {
			data = append(data, o)
		}
	}
	switch {
	case typ == "mqueue":
		flags.Type = "mqueue"
		flags.Source = m.Source
		sb.addMount(flags)
		return nil
	case typ == "cgroup" || typ == "cgroup2":
		// The container's own cgroup, always read-only as the library OS
		// serves it.
		flags.Type = "cgroup"
		flags.ReadOnly = true
		sb.addMount(flags)
		return nil
	case typ == "proc" && dst == "/proc", typ == "sysfs" && dst == "/sys", typ == "devpts" && dst == "/dev/pts",
		(typ == "tmpfs" || typ == "devtmpfs") && dst == "/dev":
		// The library OS's own file systems, attached where the spec
		// lists them, as the spec names them (runtimetest finds each
		// mount in /proc/self/mountinfo in the spec's order). runc fills
		// a tmpfs at /dev with the default devices: the devfs is that.
		if dst == "/dev" {
			typ = "devfs"
		}
		if typ == "devpts" {
			for _, o := range data {
				if v, ok := strings.CutPrefix(o, "ptmxmode="); ok {
					if n, err := strconv.ParseUint(v, 8, 32); err != nil || n&^0o777 != 0 {
						return fieldError(field+".options", "ptmxmode=%s is not an octal permission mode", v)
					}
				}
			}
		}
		flags.Type, flags.Source, flags.Options = typ, m.Source, strings.Join(data, ",")
		sb.addMount(flags)
		return nil
	case providedFS[typ]:
		// One more proc, sysfs or devpts elsewhere: the library OS has
		// one of each, at its usual place.
		return nil
	case typ == "tmpfs":
		tm := flags
		tm.Type = "tmpfs"
		tm.Source, tm.Options = m.Source, strings.Join(data, ",")
		for _, o := range m.Options {
			k, v, ok := strings.Cut(o, "=")
			if !ok {
				continue
			}
			switch k {
			case "size":
				n, err := parseSize(v)
				if err != nil {
					return fieldError(field+".options", "size=%s: %v", v, err)
				}
				tm.Size = n
			case "mode":
				n, err := strconv.ParseUint(v, 8, 32)
				if err != nil || n&^0o7777 != 0 {
					return fieldError(field+".options", "mode=%s is not an octal permission mode", v)
				}
				tm.Mode = uint32(n)
			}
		}
		sb.addMount(tm)
		return nil
	case typ == "bind":
		if m.Source == "" {
			return fieldError(field+".source", "must be set for a bind mount")
		}
		if !filepath.IsAbs(m.Source) {
			return fieldError(field+".source", "%q is not an absolute path", m.Source)
		}
		st, err := os.Stat(m.Source)
		if err != nil {
			return fieldError(field+".source", "%q: %v", m.Source, errors.Unwrap(err))
		}
		bm := flags
		bm.Type, bm.Source = "bind", m.Source
		switch {
		case st.IsDir():
		case st.Mode().IsRegular():
			// Granted as a file capability (docker's /etc/hosts, CRI's
			// /dev/termination-log).
			bm.File = true
		default:
			// A socket, FIFO or device node: a file capability would be
			// an open file, not the node; sockets are reached by name.
			sb.Warnings = append(sb.Warnings, fmt.Sprintf("%s: bind mount of %q (%s) at %s is not supported; skipped", field, m.Source, st.Mode().Type(), dst))
			return nil
		}
		sb.addMount(bm)
		return nil
	case typ == "":
		return fieldError(field+".type", "must be set (or options must hold bind)")
	default:
		return fieldError(field+".type", "%q is not supported (bind, tmpfs, proc, sysfs, devpts, mqueue, cgroup)", typ)
	}
}

func translateLinux(l *specs.Linux, sb *Sandbox) error {
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range l.Namespaces {
		field := fmt.Sprintf("linux.namespaces[%d]", i)
		if !namespaceTypes[ns.Type] {
			return fieldError(field+".type", "%q is not a namespace type", ns.Type)
		}
		if seen[ns.Type] {
			return fieldError(field+".type", "%s is given twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Type == specs.NetworkNamespace {
			sb.HostNetwork = false
		}
		if ns.Path == "" {
			if ns.Type == specs.NetworkNamespace {
				sb.NewNetNS = true
			}
			continue
		}
		if err := checkNamespacePath(ns); err != nil {
			return fieldError(field+".path", "%v", err)
		}
		switch ns.Type {
		case specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.PIDNamespace, specs.MountNamespace:
			sb.HostNS = append(sb.HostNS, ns)
		}
		if ns.Type == specs.NetworkNamespace {
			// exo and its sentry are started in it, so the NIC exo opens
			// is that namespace's.
			sb.NetNS = ns.Path
			continue
		}
		// The library OS keeps its own namespaces of every other kind:
		// sharing them between containers means sharing one sandbox,
		// which pods do not do yet.
		sb.Warnings = append(sb.Warnings, fmt.Sprintf("%s: the %s namespace %s is accepted, but the sandbox keeps its own", field, ns.Type, ns.Path))
	}
	if err := translateSysctl(l.Sysctl, sb); err != nil {
		return err
	}
	if l.Seccomp != nil {
		prog, err := compileSeccomp(l.Seccomp)
		if err != nil {
			return err
		}
		sb.Seccomp = prog
	}
	for i, p := range l.MaskedPaths {
		if !path.IsAbs(p) {
			return fieldError(fmt.Sprintf("linux.maskedPaths[%d]", i), "%q is not an absolute path", p)
		}
		sb.MaskedPaths = append(sb.MaskedPaths, path.Clean(p))
	}
	for i, p := range l.ReadonlyPaths {
		if !path.IsAbs(p) {
			return fieldError(fmt.Sprintf("linux.readonlyPaths[%d]", i), "%q is not an absolute path", p)
		}
		sb.ReadonlyPaths = append(sb.ReadonlyPaths, path.Clean(p))
	}
	if err := translateDevices(l, sb); err != nil {
		return err
	}
	if r := l.Resources; r != nil {
		if r.Memory != nil && r.Memory.Limit != nil {
			switch n := *r.Memory.Limit; {
			case n > 0:
				sb.MemoryLimit = n
			case n == 0 || n == -1:
				// No limit, as runc reads 0 and -1.
			default:
				return fieldError("linux.resources.memory.limit", "%d is not a size in bytes", n)
			}
		}
		if c := r.CPU; c != nil {
			if c.Quota != nil && *c.Quota > 0 {
				sb.CPUQuota = *c.Quota
			}
			if c.Period != nil {
				sb.CPUPeriod = *c.Period
			}
			if c.Shares != nil {
				sb.CPUShares = *c.Shares
			}
		}
		if r.Pids != nil {
			switch n := r.Pids.Limit; {
			case n > 0:
				sb.PidsLimit = int(min(n, 1<<22))
			case n == 0 || n == -1:
			default:
				return fieldError("linux.resources.pids.limit", "%d is not a number of tasks", n)
			}
		}
	}
	return nil
}

// ipcSysctls are the IPC namespace's sysctls besides fs.mqueue.*.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// translateSysctl accepts what runc accepts: the sysctls of namespaces
// the container has its own of (every one, in the library OS): IPC's,
// UTS's kernel.hostname and kernel.domainname, and net.*. The others
// would change the host kernel under runc, which refuses them; so does
// this runtime.
func translateSysctl(sysctl map[string]string, sb *Sandbox) error {
	for k, v := range sysctl {
		field := fmt.Sprintf("linux.sysctl[%q]", k)
		name := strings.ReplaceAll(k, "/", ".")
		switch {
		case ipcSysctls[name], strings.HasPrefix(name, "fs.mqueue."), strings.HasPrefix(name, "net."):
		case name == "kernel.domainname":
			sb.Domainname = v
		case name == "kernel.hostname":
			sb.Hostname = v
		default:
			return fieldError(field, "sysctl %q is not in a separate kernel namespace", k)
		}
		p := strings.ReplaceAll(name, ".", "/")
		for _, part := range strings.Split(p, "/") {
			if part == "" {
				return fieldError(field, "%q is not a sysctl name", k)
			}
		}
		if sb.Sysctl == nil {
			sb.Sysctl = map[string]string{}
		}
		sb.Sysctl[p] = v
	}
	return nil
}

// defaultDeviceRules are the devices runc lets every container open,
// after the spec's own rules: null, zero, full, random, urandom, tty,
// console, ptmx and the ptys, and mknod of any device.
var defaultDeviceRules = []DeviceRule{
	{true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"},
	{true, 'c', 1, 3, "rwm"}, {true, 'c', 1, 8, "rwm"}, {true, 'c', 1, 7, "rwm"},
	{true, 'c', 5, 0, "rwm"}, {true, 'c', 1, 5, "rwm"}, {true, 'c', 1, 9, "rwm"},
	{true, 'c', 136, -1, "rwm"}, {true, 'c', 5, 2, "rwm"}, {true, 'c', 5, 1, "rwm"},
}

// translateDevices takes linux.devices and linux.resources.devices.
func translateDevices(l *specs.Linux, sb *Sandbox) error {
	seen := map[string]bool{}
	for i, d := range l.Devices {
		field := fmt.Sprintf("linux.devices[%d]", i)
		if !path.IsAbs(d.Path) || path.Clean(d.Path) != d.Path {
			return fieldError(field+".path", "%q is not a clean absolute path", d.Path)
		}
		var mode uint32
		switch d.Type {
		case "c", "u":
			mode = 0o20000
		case "b":
			mode = 0o60000
		case "p":
			// A FIFO: a pipe of the library OS, as mknod makes one.
			mode = 0o10000
		default:
			return fieldError(field+".type", "%q is not a device type (c, b, u, p)", d.Type)
		}
		perm := uint32(0o666)
		if d.FileMode != nil {
			perm = uint32(*d.FileMode) & 0o7777
		}
		dir, name := path.Split(d.Path)
		if dir != "/dev/" {
			sb.Warnings = append(sb.Warnings, fmt.Sprintf("%s: device %s is not directly in /dev; not made", field, d.Path))
			continue
		}
		if seen[name] {
			return fieldError(field+".path", "%s is given twice", d.Path)
		}
		seen[name] = true
		dev := Device{Name: name, Mode: mode | perm, Major: uint32(d.Major), Minor: uint32(d.Minor)}
		if d.UID != nil {
			dev.UID = *d.UID
		}
		if d.GID != nil {
			dev.GID = *d.GID
		}
		sb.Devices = append(sb.Devices, dev)
	}
	if l.Resources == nil || len(l.Resources.Devices) == 0 {
		return nil
	}
	for i, r := range l.Resources.Devices {
		field := fmt.Sprintf("linux.resources.devices[%d]", i)
		rule := DeviceRule{Allow: r.Allow, Type: 'a', Major: -1, Minor: -1, Access: r.Access}
		switch r.Type {
		case "", "a":
		case "c", "b":
			rule.Type = r.Type[0]
		default:
			return fieldError(field+".type", "%q is not a device type (a, c, b)", r.Type)
		}
		if r.Major != nil {
			rule.Major = *r.Major
		}
		if r.Minor != nil {
			rule.Minor = *r.Minor
		}
		if rule.Access == "" {
			rule.Access = "rwm"
		}
		if strings.Trim(rule.Access, "rwm") != "" {
			return fieldError(field+".access", "%q is not a subset of rwm", r.Access)
		}
		sb.DeviceRules = append(sb.DeviceRules, rule)
	}
	sb.DeviceRules = append(sb.DeviceRules, defaultDeviceRules...)
	return nil
}

// addMount appends m. An earlier mount at the same place, and those under
// it, would be hidden by m, as Linux stacks mounts (CRI's sandbox has a
// tmpfs and then a bind at /dev/shm): they are dropped.
func (sb *Sandbox) addMount(m Mount) {
	sb.Mounts = slices.DeleteFunc(sb.Mounts, func(o Mount) bool {
		return o.Destination == m.Destination || strings.HasPrefix(o.Destination, m.Destination+"/")
	})
	sb.Mounts = append(sb.Mounts, m)
}

// parseSize reads a tmpfs size: bytes, or a number with k, m or g.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<46)/mult {
		return 0, errors.New("not a size like 64m")
	}
	return n * mult, nil
}

func hasEnv(env []string, name string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, name+"=") {
			return true
		}
	}
	return false
}

// homeDir is uid's home directory in the rootfs's /etc/passwd, or "/".
// Only a regular /etc/passwd is read: a symlink in the rootfs could point
// anywhere on the host.
func homeDir(rootfs string, uid uint32) string {
	etc := filepath.Join(rootfs, "etc")
	p := filepath.Join(etc, "passwd")
	if st, err := os.Lstat(etc); err != nil || !st.IsDir() {
		return "/"
	}
	if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() {
		return "/"
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return "/"
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 6 && f[2] == strconv.FormatUint(uint64(uid), 10) && f[5] != "" {
			return f[5]
		}
	}
	return "/"
}
