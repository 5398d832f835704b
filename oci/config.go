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
	Rlimits  []Rlimit
	Hostname string
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

	// Warnings are what the spec asks for that is accepted but not
	// honoured as such; the runtime logs them.
	Warnings []string
}

// Rlimit is one resource limit of the init process.
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

// Mount is one bind or tmpfs mount.
type Mount struct {
	// Type is "bind" (a host directory, granted as a dir capability) or
	// "tmpfs".
	Type        string
	Source      string
	Destination string
	ReadOnly    bool
	// Size and Mode are a tmpfs's size= and mode= options.
	Size int64
	Mode uint32
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
	if err := validateHooks(spec.Hooks); err != nil {
		return nil, err
	}
	for i, m := range spec.Mounts {
		if err := translateMount(i, m, sb); err != nil {
			return nil, err
		}
	}
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
	return nil
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
	ro := false
	for _, o := range m.Options {
		switch o {
		case "ro":
			ro = true
		case "rw":
			ro = false
		}
	}
	switch {
	case providedFS[typ]:
		// The library OS has its own /proc, /sys, /dev/pts, /dev/mqueue
		// and cgroup view.
		return nil
	case typ == "tmpfs" && dst == "/dev":
		// runc fills a tmpfs at /dev with the default devices; the library
		// OS's devfs is that.
		return nil
	case typ == "tmpfs":
		tm := Mount{Type: "tmpfs", Destination: dst, ReadOnly: ro}
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
		if !st.IsDir() {
			// A dir capability cannot hold one file without the
			// directory around it, and granting that directory would
			// expose its other entries; docker and CRI bind
			// /etc/hosts and friends this way.
			sb.Warnings = append(sb.Warnings, fmt.Sprintf("%s: bind mount of the file %q at %s is not supported yet; skipped", field, m.Source, dst))
			return nil
		}
		sb.addMount(Mount{Type: "bind", Source: m.Source, Destination: dst, ReadOnly: ro})
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
		if ns.Path != "" {
			sb.Warnings = append(sb.Warnings, fmt.Sprintf("%s: joining the %s namespace %s is not supported yet; the sandbox has its own", field, ns.Type, ns.Path))
		}
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
