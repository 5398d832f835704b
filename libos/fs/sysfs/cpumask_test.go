package sysfs

import "testing"

func TestCPUMask(t *testing.T) {
	for cpus, want := range map[int]string{1: "1\n", 2: "3\n", 4: "f\n", 5: "1f\n", 32: "ffffffff\n", 33: "1,ffffffff\n", 64: "ffffffff,ffffffff\n"} {
		if got := cpuMask(cpus); got != want {
			t.Errorf("cpuMask(%d) = %q, want %q", cpus, got, want)
		}
	}
}
