package caps

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// grandchild starts a child (standing for the sentry) with a child of its
// own (standing for a stub), both ended with the test, and returns the
// child and the grandchild's pid.
func grandchild(t *testing.T) (*exec.Cmd, int) {
	t.Helper()
	child := exec.Command("sh", "-c", "sleep 30 & echo $!; wait")
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	n, _ := out.Read(buf)
	grand, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	t.Cleanup(func() {
		if err == nil {
			exec.Command("kill", strconv.Itoa(grand)).Run()
		}
		child.Process.Kill()
		child.Wait()
	})
	if err != nil {
		t.Fatalf("grandchild pid %q: %v", buf[:n], err)
	}
	return child, grand
}

// TestStubThread: only a thread of a grandchild of exo (a stub the
// sentry started) may be placed; exo's own and its children's (the
// sentry's) may not.
func TestStubThread(t *testing.T) {
	child, grand := grandchild(t)
	if host, err := stubThread(grand, grand, os.Getpid()); err != nil || host != grand {
		t.Errorf("a grandchild: %d, %v; want %d", host, err, grand)
	}
	for _, tid := range []int{os.Getpid(), child.Process.Pid, 1, 0, -1} {
		if _, err := stubThread(tid, tid, os.Getpid()); err == nil {
			t.Errorf("thread %d placed", tid)
		}
	}
	if _, err := stubThread(grand, os.Getpid(), os.Getpid()); err == nil {
		t.Errorf("exo's thread placed as one of a stub's")
	}
}

// TestPlaceTask: a tasks handle writes a stub thread's id to its cgroup
// file, refuses other threads, and needs its own kind of handle.
func TestPlaceTask(t *testing.T) {
	e, _ := newExo(t)
	file := filepath.Join(t.TempDir(), "tasks")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	id, err := e.GrantTasks("tasks", file)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(serve(t, e).conn)
	_, grand := grandchild(t)
	if err := c.PlaceTask(id, grand, grand); err != nil {
		t.Fatalf("PlaceTask(stub thread): %v", err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		data, _ := os.ReadFile(file)
		if string(data) == strconv.Itoa(grand) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks file holds %q, want %d", data, grand)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.PlaceTask(id, os.Getpid(), os.Getpid()); !errors.Is(err, ErrDenied) {
		t.Errorf("PlaceTask(exo's own thread) = %v, want ErrDenied", err)
	}
	mem, err := e.GrantMemory("mem", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PlaceTask(mem, grand, grand); err == nil {
		t.Errorf("PlaceTask through a memory handle succeeded")
	}
}
