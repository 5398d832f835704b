// Command prog is the static Go program TestGoProgram runs natively and
// sandboxed: goroutines over channels, sync.WaitGroup and Mutex, timers
// (time.Sleep, time.After, time.Ticker), os/exec of a child process, a
// signal sent to itself through signal.Notify, a garbage collection
// under GOMAXPROCS 4, and net's unix sockets (a stream server with three
// clients, datagrams on an abstract name). It prints only deterministic lines and ends with
// "goprog: ok"; a failed check prints FAIL to stderr and exits 1.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

var failures int

func check(ok bool, format string, args ...any) {
	if !ok {
		failures++
		fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	}
}

// workers squares numbers on 8 goroutines fed through a channel.
func workers() {
	jobs := make(chan int)
	results := make(chan int, 16)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range jobs {
				results <- n * n
			}
		}()
	}
	go func() {
		for i := 1; i <= 1000; i++ {
			jobs <- i
		}
		close(jobs)
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	sum := 0
	for r := range results {
		sum += r
	}
	check(sum == 333833500, "sum of squares: %d", sum)
	fmt.Printf("8 workers: sum of squares 1..1000 = %d\n", sum)
}

// mutex increments a shared counter from 50 goroutines.
func mutex() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
				if i%100 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	wg.Wait()
	check(counter == 50000, "counter: %d", counter)
	fmt.Printf("50 goroutines under a mutex: counter %d\n", counter)
}

// timers: Sleep, After in a select, a Ticker, and goroutines woken in
// order of their sleeps.
func timers() {
	start := time.Now()
	time.Sleep(20 * time.Millisecond)
	check(time.Since(start) >= 20*time.Millisecond, "time.Sleep(20ms) returned after %v", time.Since(start))

	never := make(chan int)
	select {
	case <-never:
		check(false, "a nil send arrived")
	case <-time.After(30 * time.Millisecond):
	}
	check(time.Since(start) >= 50*time.Millisecond, "time.After: %v", time.Since(start))

	tk := time.NewTicker(5 * time.Millisecond)
	for i := 0; i < 5; i++ {
		<-tk.C
	}
	tk.Stop()

	order := make(chan int, 3)
	for _, d := range []int{3, 1, 2} {
		go func() {
			time.Sleep(time.Duration(d) * 50 * time.Millisecond)
			order <- d
		}()
	}
	got := []int{<-order, <-order, <-order}
	check(got[0] == 1 && got[1] == 2 && got[2] == 3, "sleepers woke in order %v", got)
	fmt.Printf("time.Sleep, time.After, Ticker x5; sleepers woke in order %v\n", got)
}

// child runs /bin/busybox echo through os/exec, and one that fails.
func child() {
	out, err := exec.Command("/bin/busybox", "echo", "hello from a child").Output()
	check(err == nil, "exec busybox echo: %v", err)
	fmt.Printf("child said: %s", out)

	cmd := exec.Command("/bin/busybox", "sh", "-c", "read line; echo \"got: $line\"; exit 9")
	cmd.Stdin = strings.NewReader("via stdin\n")
	out, err = cmd.Output()
	ee, ok := err.(*exec.ExitError)
	check(ok && ee.ExitCode() == 9, "child exit: %v", err)
	fmt.Printf("child said: %sand exited %d\n", out, cmd.ProcessState.ExitCode())

	err = exec.Command("/nonexistent/program").Run()
	check(err != nil && os.IsNotExist(err), "exec of a missing program: %v", err)
	fmt.Println("exec of a missing program: not found")
}

// signals: SIGUSR1 to itself arrives on the channel given to signal.Notify.
func signals() {
	pid := os.Getpid()
	check(pid > 0 && os.Getppid() >= 0, "pid %d ppid %d", pid, os.Getppid())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	check(syscall.Kill(pid, syscall.SIGUSR1) == nil, "kill")
	select {
	case s := <-ch:
		fmt.Printf("signal.Notify: got %v\n", s)
	case <-time.After(10 * time.Second):
		check(false, "SIGUSR1 did not arrive")
	}
	signal.Stop(ch)
}

// memory allocates and frees enough for several garbage collections.
func memory() {
	var keep [][]byte
	for i := 0; i < 200; i++ {
		b := make([]byte, 256<<10)
		b[0] = byte(i)
		if i%20 == 0 {
			keep = append(keep, b)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	check(ms.NumGC > 0, "no garbage collection ran")
	check(len(keep) == 10 && keep[9][0] == 180, "kept buffers")
	m := map[string]int{}
	for i := 0; i < 10000; i++ {
		m[fmt.Sprint(i%100)]++
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Printf("allocated 50 MiB, collected; map of %d keys, first %s last %s\n", len(keys), keys[0], keys[len(keys)-1])
}

func main() {
	prev := runtime.GOMAXPROCS(4)
	check(prev >= 1, "GOMAXPROCS was %d", prev)
	check(runtime.GOMAXPROCS(0) == 4, "GOMAXPROCS is %d", runtime.GOMAXPROCS(0))
	check(runtime.NumCPU() >= 1, "NumCPU %d", runtime.NumCPU())
	fmt.Println("GOMAXPROCS 4")
	workers()
	mutex()
	timers()
	child()
	signals()
	memory()
	unixSockets()
	if failures > 0 {
		fmt.Fprintf(os.Stderr, "goprog: %d check(s) failed\n", failures)
		os.Exit(1)
	}
	fmt.Println("goprog: ok")
}

// unixSockets serves three clients over a unix stream socket through
// net's poller (non-blocking sockets, accept4, epoll), then exchanges a
// datagram on an abstract name.
func unixSockets() {
	d, err := os.MkdirTemp("", "goprog-unix-")
	if err != nil {
		check(false, "MkdirTemp: %v", err)
		return
	}
	defer os.RemoveAll(d)
	p := filepath.Join(d, "sock")
	l, err := net.Listen("unix", p)
	if err != nil {
		check(false, "listen: %v", err)
		return
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				s := bufio.NewScanner(c)
				for s.Scan() {
					fmt.Fprintf(c, "echo %s\n", s.Text())
				}
			}(c)
		}
	}()
	for i := range 3 {
		c, err := net.Dial("unix", p)
		if err != nil {
			check(false, "dial: %v", err)
			return
		}
		fmt.Fprintf(c, "hello %d\n", i)
		line, err := bufio.NewReader(c).ReadString('\n')
		check(err == nil && line == fmt.Sprintf("echo hello %d\n", i), "reply %q %v", line, err)
		c.Close()
	}
	_, err = net.Dial("unix", filepath.Join(d, "missing"))
	check(err != nil, "dialing a missing socket worked")
	name := fmt.Sprintf("@goprog-%d", os.Getpid())
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		check(false, "ListenUnixgram: %v", err)
		return
	}
	defer pc.Close()
	cc, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		check(false, "DialUnix: %v", err)
		return
	}
	defer cc.Close()
	cc.Write([]byte("datagram"))
	b := make([]byte, 64)
	n, _, err := pc.ReadFrom(b)
	check(err == nil && string(b[:n]) == "datagram", "ReadFrom %q %v", b[:n], err)
	fmt.Println("unix sockets: 3 stream clients echoed, a datagram on an abstract name")
}
