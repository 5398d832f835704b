package main

import (
	"net"
	"os"
	"testing"
)

// TestNeverTakeHostInterfaces: in the runtime's own network namespace
// exo takes nothing, and loopback is never taken.
func TestNeverTakeHostInterfaces(t *testing.T) {
	self, err := os.Open("/proc/self/ns/net")
	if err != nil {
		t.Skip(err)
	}
	defer self.Close()
	same, err := sameNetNS(self)
	if err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Error("sameNetNS: this process's own namespace is not the runtime's")
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip(err)
	}
	if takeable(*lo) {
		t.Error("loopback is takeable")
	}
}
