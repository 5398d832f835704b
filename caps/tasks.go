package caps

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// The task manager. A tasks handle (KindTasks) lets the sentry ask exo to
// count one host thread as one of the container's tasks: exo moves the
// thread into the cgroup v1 pids cgroup whose pids.max is the container's
// task limit. The sentry asks for each stub thread that runs workload
// code, so that cgroup holds exactly the workload's tasks, as a runc
// container's holds its processes, while exo, the sentry and the stubs'
// address-space threads are counted in a sibling with room of their own: an
// exact limit over them would let a workload near its limit make the
// sentry's Go runtime fail a thread creation and die.
//
// The limit itself is the library OS's, exact; the host counts the tasks
// (pids.current, which docker stats shows) and bounds the sandbox's whole
// thread count through the sibling's limit. A thread moved into a pids
// cgroup is not checked against its pids.max (only forks in it are): exo
// looks the thread up among its grandchildren instead (the stubs), so
// exo's and the sentry's own threads can never be named.

// tasksCgroup is what one tasks handle places threads into.
type tasksCgroup struct {
	file string // the cgroup's v1 "tasks" file
}

// taskTable maps tasks handles to their cgroups.
type taskTable struct {
	mu sync.Mutex
	m  map[ID]tasksCgroup
}

// GrantTasks creates a tasks handle placing threads in the v1 cgroup whose
// "tasks" file is tasksFile. As with a host-network handle, its fd is an
// eventfd standing for nothing: the right is in the table.
func (e *Exo) GrantTasks(name, tasksFile string) (ID, error) {
	if _, err := os.Stat(tasksFile); err != nil {
		return 0, fmt.Errorf("caps: grant tasks %q: %w", name, err)
	}
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return 0, fmt.Errorf("caps: grant tasks %q: eventfd: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "tasks:"+name)
	id, err := e.table.insert(HandleInfo{Kind: KindTasks, Rights: RightWrite, Name: name}, resource{file: f})
	if err != nil {
		f.Close()
		return 0, fmt.Errorf("caps: grant tasks %q: %w", name, err)
	}
	e.tasks.mu.Lock()
	if e.tasks.m == nil {
		e.tasks.m = make(map[ID]tasksCgroup)
	}
	e.tasks.m[id] = tasksCgroup{file: tasksFile}
	e.tasks.mu.Unlock()
	return id, nil
}

// placeTask moves the stub thread the sentry knows as tid of process pid
// (ids of the sentry's pid namespace) into handle id's cgroup.
func (e *Exo) placeTask(id ID, pid, tid int) error {
	if _, err := e.table.Lookup(id, KindTasks, RightWrite); err != nil {
		return err
	}
	e.tasks.mu.Lock()
	cg, ok := e.tasks.m[id]
	e.tasks.mu.Unlock()
	if !ok {
		return fmt.Errorf("caps: place task: handle %d: %w", id, ErrInvalid)
	}
	host, err := stubThread(pid, tid, os.Getpid())
	if err != nil {
		// Not found is also what a thread that already exited gets (the
		// sentry places threads after the fact): worth a debug line only.
		e.log.Debug("caps: denied", "op", opPlaceTask, "id", id, "pid", pid, "tid", tid, "err", err)
		return fmt.Errorf("caps: place task %d/%d: %w", pid, tid, err)
	}
	if err := os.WriteFile(cg.file, []byte(strconv.Itoa(host)), 0); err != nil {
		// ESRCH: the thread exited meanwhile; nothing to count.
		var en unix.Errno
		if errors.As(err, &en) {
			err = errnoError{en}
		}
		return fmt.Errorf("caps: place task %d/%d: %w", pid, tid, err)
	}
	return nil
}

// stubThread finds the host id of thread tid of process pid, both as the
// sentry's pid namespace numbers them, among the grandchildren of exo (pid
// exo): the stubs the sentry started. Nothing else can be named, so exo's
// and the sentry's own threads are never placed.
func stubThread(pid, tid, exo int) (int, error) {
	if pid <= 0 || tid <= 0 {
		return 0, fmt.Errorf("thread %d/%d: %w", pid, tid, ErrInvalid)
	}
	for _, child := range children(exo) {
		for _, stub := range children(child) {
			if nsLast(strconv.Itoa(stub)) != pid {
				continue
			}
			threads, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", stub))
			if err != nil {
				return 0, fmt.Errorf("thread %d/%d: %w: %w: %w", pid, tid, err, ErrDenied, errnoError{unix.ESRCH})
			}
			for _, t := range threads {
				if nsLast(fmt.Sprintf("%d/task/%s", stub, t.Name())) == tid {
					return strconv.Atoi(t.Name())
				}
			}
		}
	}
	return 0, fmt.Errorf("thread %d/%d is not a stub's: %w: %w", pid, tid, ErrDenied, errnoError{unix.ESRCH})
}

// children lists the children of every thread of process pid.
func children(pid int) []int {
	threads, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var out []int
	for _, t := range threads {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, f := range bytes.Fields(data) {
			if c, err := strconv.Atoi(string(f)); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// nsLast is the innermost pid namespace's id of /proc/ID (a process or
// PID/task/TID), from its NSpid line, or -1.
func nsLast(id string) int {
	data, err := os.ReadFile("/proc/" + id + "/status")
	if err != nil {
		return -1
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("NSpid:")); ok {
			f := bytes.Fields(v)
			if len(f) == 0 {
				return -1
			}
			n, err := strconv.Atoi(string(f[len(f)-1]))
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// PlaceTask asks exo to count thread tid of stub process pid (a stub
// thread running workload code; ids of the sentry's pid namespace) as one
// of the container's tasks, through tasks handle id.
func (c *Client) PlaceTask(id ID, pid, tid int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.exchange(request{Op: opPlaceTask, ID: id, PID: pid, TID: tid}, func(resp response, g []Grant) { closeGrants(g) })
	if err != nil {
		return fmt.Errorf("caps: place task %d/%d: %w", pid, tid, err)
	}
	return nil
}
