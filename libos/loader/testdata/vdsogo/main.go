// Command vdsogo checks the library OS's vDSO from inside the sandbox
// through the Go runtime's own lookup: between two getppid markers it
// reads the time in a loop (time.Now reads CLOCK_REALTIME and
// CLOCK_MONOTONIC through the vDSO), which must not go back. The test
// counts the clock system calls the strace shows between the markers:
// none.
//
// It prints "sysinfo_ehdr no" and stops when the loader gave it no vDSO.
package main

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	aux, err := unix.Auxv()
	ehdr := false
	for _, kv := range aux {
		if kv[0] == 33 && kv[1] != 0 { // AT_SYSINFO_EHDR
			ehdr = true
		}
	}
	if err != nil || !ehdr {
		fmt.Println("sysinfo_ehdr no")
		return
	}
	fmt.Println("sysinfo_ehdr yes")
	// The time keeper needs a few tens of milliseconds after boot.
	time.Sleep(300 * time.Millisecond)
	syscall.Getppid()
	prev := time.Now()
	for i := 0; i < 2000; i++ {
		now := time.Now()
		if now.Before(prev) {
			fmt.Println("FAIL: time went back")
			os.Exit(1)
		}
		prev = now
	}
	syscall.Getppid()
	if prev.Year() < 2020 {
		fmt.Println("FAIL: wall clock", prev)
		os.Exit(1)
	}
	fmt.Println("vdso: ok")
}
