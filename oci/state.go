package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Container statuses of the OCI state.
const (
	StatusCreating = specs.StateCreating
	StatusCreated  = specs.StateCreated
	StatusRunning  = specs.StateRunning
	StatusStopped  = specs.StateStopped
	// StatusPaused is runc's status of a frozen container.
	StatusPaused specs.ContainerState = "paused"
)

// State is what state.json holds: the OCI state plus what the runtime
// needs to find the container's processes again.
type State struct {
	specs.State
	// Rootfs is the container's root directory on the host.
	Rootfs string `json:"rootfs"`
	// Created is when create began.
	Created time.Time `json:"created"`
	// PidStart is the start time (clock ticks since boot) of Pid, so a
	// reused pid is not taken for the container's process.
	PidStart uint64 `json:"pidStart,omitempty"`
	// ExitCode and ExitSignal say how init ended, once stopped.
	ExitCode   int `json:"exitCode,omitempty"`
	ExitSignal int `json:"exitSignal,omitempty"`
	// Cgroups are the cgroup directories made for the container
	// (JoinCgroups), removed with it.
	Cgroups []string `json:"cgroups,omitempty"`
	// Sandbox is, for a container of a pod (the CRI annotations), the
	// id of the pod's sandbox container it runs in: its processes are
	// that sandbox's library OS's, reached through its exo process.
	Sandbox string `json:"sandbox,omitempty"`
}

// The CRI annotations that put a container in a pod's sandbox.
const (
	AnnotationContainerType = "io.kubernetes.cri.container-type"
	AnnotationSandboxID     = "io.kubernetes.cri.sandbox-id"
)

// PodSandboxOf returns the id of the pod sandbox a container with these
// annotations joins: set for container-type "container" with a
// sandbox-id, "" for a pod's sandbox or a container on its own.
func PodSandboxOf(annotations map[string]string) string {
	if annotations[AnnotationContainerType] != "container" {
		return ""
	}
	return annotations[AnnotationSandboxID]
}

// OCI is the state as the spec shows it (the `state` command's output and
// the hooks' stdin).
func (s *State) OCI() specs.State { return s.State }

// ErrNotExist is returned for a container id the store does not hold.
var ErrNotExist = errors.New("container does not exist")

// ErrExist is returned when creating a container whose id is taken.
var ErrExist = errors.New("container already exists")

// validID is what runc accepts as a container id.
var validID = regexp.MustCompile(`^[\w+\-.]+$`)

// ValidateID checks a container id as runc does.
func ValidateID(id string) error {
	if id == "" {
		return errors.New("container id must not be empty")
	}
	if !validID.MatchString(id) || id == "." || id == ".." || len(id) > 1024 {
		return fmt.Errorf("invalid container id %q: only letters, digits, _ + - . are allowed", id)
	}
	return nil
}

// Store keeps one directory per container under Root.
type Store struct{ Root string }

// Dir is the state directory of container id.
func (s Store) Dir(id string) string { return filepath.Join(s.Root, id) }

// Locked is a container's state directory held under its flock, so
// concurrent commands on one container take turns.
type Locked struct {
	ID  string
	Dir string
	f   *os.File
}

// Create makes the state directory of a new container, locked.
func (s Store) Create(id string) (*Locked, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Root, 0o711); err != nil {
		return nil, fmt.Errorf("state root %q: %w", s.Root, err)
	}
	dir := s.Dir(id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %q: %w", id, ErrExist)
		}
		return nil, fmt.Errorf("container %q: state directory: %w", id, err)
	}
	l, err := s.lock(id)
	if err != nil {
		os.Remove(dir)
		return nil, err
	}
	return l, nil
}

// Lock takes the lock of an existing container.
func (s Store) Lock(id string) (*Locked, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	return s.lock(id)
}

func (s Store) lock(id string) (*Locked, error) {
	dir := s.Dir(id)
	for {
		f, err := os.Open(dir)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
		if err != nil {
			return nil, fmt.Errorf("container %q: %w", id, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("container %q: lock: %w", id, err)
		}
		// A delete may have removed the directory while this waited for
		// the lock: the lock is good only on the directory still there.
		var held, now unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(dir, &now) == nil && held.Ino == now.Ino && held.Dev == now.Dev {
			return &Locked{ID: id, Dir: dir, f: f}, nil
		}
		f.Close()
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
	}
}

// Unlock releases the lock.
func (l *Locked) Unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// Read loads state.json. A container whose process is gone is reported
// stopped, whatever the file says.
func (l *Locked) Read() (*State, error) {
	return readState(l.Dir, l.ID)
}

func readState(dir, id string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("container %q: read state: %w", id, err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("container %q: state.json: %w", id, err)
	}
	if st.Status != StatusStopped && st.Pid > 0 && !ProcessAlive(st.Pid, st.PidStart) {
		st.Status = StatusStopped
	}
	return &st, nil
}

// Write replaces state.json atomically.
func (l *Locked) Write(st *State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := filepath.Join(l.Dir, ".state.json.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("container %q: write state: %w", l.ID, err)
	}
	if err := os.Rename(tmp, filepath.Join(l.Dir, "state.json")); err != nil {
		return fmt.Errorf("container %q: write state: %w", l.ID, err)
	}
	return nil
}

// Remove deletes the state directory and releases the lock.
func (l *Locked) Remove() error {
	err := os.RemoveAll(l.Dir)
	l.Unlock()
	if err != nil {
		return fmt.Errorf("container %q: remove state: %w", l.ID, err)
	}
	return nil
}

// Update changes the state of container id under its lock.
func (s Store) Update(id string, change func(*State)) error {
	l, err := s.Lock(id)
	if err != nil {
		return err
	}
	defer l.Unlock()
	st, err := l.Read()
	if err != nil {
		return err
	}
	change(st)
	return l.Write(st)
}

// Get reads the state of container id.
func (s Store) Get(id string) (*State, error) {
	l, err := s.Lock(id)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	return l.Read()
}

// List reads the state of every container, by id. Directories without a
// readable state (a create in progress) are left out.
func (s Store) List() ([]*State, error) {
	ents, err := os.ReadDir(s.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state root %q: %w", s.Root, err)
	}
	var out []*State
	for _, e := range ents {
		if !e.IsDir() || ValidateID(e.Name()) != nil {
			continue
		}
		st, err := s.Get(e.Name())
		if err != nil {
			continue
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ProcessStart is the start time of pid in clock ticks since boot (0 if
// the process does not exist).
func ProcessStart(pid int) uint64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name in parentheses may hold spaces; fields count from
	// after it.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}

// ProcessAlive reports whether pid runs and, when start is known, is the
// same process that started then.
func ProcessAlive(pid int, start uint64) bool {
	s := ProcessStart(pid)
	return s != 0 && (start == 0 || s == start)
}
