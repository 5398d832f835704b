// Package sysfs is the library OS's minimal /sys: the few files programs
// read to learn about the machine (how many CPUs are online, transparent
// huge page policy) and the directories whose absence confuses them
// (class/net, fs/cgroup, block, bus, dev). Nothing in it is writable.
//
// The tree is a tmpfs filled once at boot and mounted read-only: sysfs
// changes nothing at run time that the sandbox models, and tmpfs already
// does everything a read-only tree needs.
package sysfs

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
)

// Options describe the machine the sandbox shows.
type Options struct {
	// CPUs is the number of CPUs the sandbox may run on.
	CPUs int
	// Dev is the device number reported as st_dev.
	Dev uint64
}

// FS is a sysfs instance.
type FS struct{ *tmpfs.FS }

// Name implements vfs.FS.
func (*FS) Name() string { return "sysfs" }

// New builds the tree in frames of mem.
func New(mem *mm.MemoryFile, opts Options) (*FS, error) {
	fs := &FS{tmpfs.New(mem, tmpfs.Options{Mode: 0o755, Dev: opts.Dev, Magic: unix.SYSFS_MAGIC})}
	cpus := max(opts.CPUs, 1)
	cpuList := "0\n"
	if cpus > 1 {
		cpuList = fmt.Sprintf("0-%d\n", cpus-1)
	}
	files := map[string]string{
		"devices/system/cpu/online":                     cpuList,
		"devices/system/cpu/possible":                   cpuList,
		"devices/system/cpu/present":                    cpuList,
		"devices/system/cpu/kernel_max":                 "8191\n",
		"devices/system/node/online":                    "0\n",
		"devices/system/node/possible":                  "0\n",
		"devices/system/node/has_cpu":                   "0\n",
		"devices/system/node/has_memory":                "0\n",
		"devices/system/node/has_normal_memory":         "0\n",
		"devices/system/node/node0/cpulist":             cpuList,
		"devices/system/node/node0/cpumap":              cpuMask(cpus),
		"devices/system/node/node0/distance":            "10\n",
		"kernel/mm/transparent_hugepage/enabled":        "always [madvise] never\n",
		"kernel/mm/transparent_hugepage/defrag":         "always defer defer+madvise [madvise] never\n",
		"kernel/mm/transparent_hugepage/hpage_pmd_size": "2097152\n",
	}
	for i := range cpus {
		files[fmt.Sprintf("devices/system/cpu/cpu%d/online", i)] = "1\n"
		files[fmt.Sprintf("devices/system/cpu/cpu%d/topology/core_id", i)] = fmt.Sprintf("%d\n", i)
		files[fmt.Sprintf("devices/system/cpu/cpu%d/topology/physical_package_id", i)] = "0\n"
		files[fmt.Sprintf("devices/system/node/node0/cpu%d", i)] = ""
	}
	dirs := []string{"block", "bus", "class/net", "dev/block", "dev/char", "firmware", "fs/cgroup", "kernel/security", "module", "power"}
	for _, d := range dirs {
		if _, err := mkdirAll(fs.Root(), d); err != nil {
			return nil, fmt.Errorf("sysfs: %s: %w", d, err)
		}
	}
	for p, content := range files {
		dir, name := "", p
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			dir, name = p[:i], p[i+1:]
		}
		parent, err := mkdirAll(fs.Root(), dir)
		if err != nil {
			return nil, fmt.Errorf("sysfs: %s: %w", dir, err)
		}
		if err := writeFile(parent, name, content); err != nil {
			return nil, fmt.Errorf("sysfs: %s: %w", p, err)
		}
	}
	return fs, nil
}

var root = vfs.Cred{}

// mkdirAll makes the directories of p under dir and returns the last.
func mkdirAll(dir vfs.Inode, p string) (vfs.Inode, error) {
	for _, name := range strings.Split(p, "/") {
		if name == "" {
			continue
		}
		next, err := dir.Lookup(name)
		if err == unix.ENOENT {
			next, err = dir.Mkdir(name, 0o755, root)
		}
		if err != nil {
			return nil, err
		}
		dir = next
	}
	return dir, nil
}

// writeFile makes the read-only file name in dir holding content.
func writeFile(dir vfs.Inode, name, content string) error {
	ino, err := dir.Create(name, 0o444, root)
	if err != nil {
		return err
	}
	f, err := ino.Open(unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write([]byte(content))
	return err
}

// cpuMask is the first cpus CPUs as sysfs writes a cpumask: hexadecimal in
// 32-bit groups separated by commas, the first group without leading
// zeroes, as many groups as the CPU count needs ("3" for 2 CPUs,
// "1,ffffffff" for 33).
func cpuMask(cpus int) string {
	var groups []string
	for left := cpus; left > 0; left -= 32 {
		n := min(left, 32)
		groups = append([]string{fmt.Sprintf("%0*x", (n+3)/4, uint64(1)<<n-1)}, groups...)
	}
	return strings.Join(groups, ",") + "\n"
}
