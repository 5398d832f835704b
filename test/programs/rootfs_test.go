package programs

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"exokernelul.dev/exo/test/internal/harness"
)

// busybox is Debian's busybox-static, the shell of the minimal rootfs.
const busybox = "/bin/busybox"

// copyTree copies the tree at src to dst (which must not exist),
// preserving modes, symlinks and modification times.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			if err := os.Mkdir(to, 0o700); err != nil {
				return err
			}
		case info.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		default:
			in, err := os.Open(path)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, in); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		}
		if err := os.Chmod(to, info.Mode().Perm()|info.Mode()&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
			return err
		}
		return os.Chtimes(to, info.ModTime(), info.ModTime())
	})
}

// makeRootfs builds a minimal rootfs in a new directory of the scratch
// area: /bin/busybox (static) and /bin/sh, the static /fsops helper,
// /rootfs.sh, a few /etc files, /data with the seed layout, and empty
// mount points /bind, /scratch, /tmp, /proc, /dev, /sys.
func makeRootfs(t *testing.T) string {
	t.Helper()
	bin := helper(t)
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("%s is needed (apt-get install -y busybox-static): %v", busybox, err)
	}
	root, err := os.MkdirTemp(suite.Dir, "rootfs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(root, 0o755))
	for _, d := range []string{"bin", "etc", "bind", "scratch", "tmp", "proc", "dev", "sys"} {
		must(os.Mkdir(filepath.Join(root, d), 0o755))
	}
	must(os.Chmod(filepath.Join(root, "tmp"), 0o1777))
	must(harness.CopyExecutable(busybox, filepath.Join(root, "bin", "busybox")))
	must(os.Symlink("busybox", filepath.Join(root, "bin", "sh")))
	must(harness.CopyExecutable(bin, filepath.Join(root, "fsops")))
	must(os.WriteFile(filepath.Join(root, "rootfs.sh"), []byte(script(t, "rootfs.sh")), 0o644))
	for name, data := range map[string]string{
		"passwd":     "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
		"group":      "root:x:0:\nnogroup:x:65534:\n",
		"hostname":   "exo-lower\n",
		"os-release": "PRETTY_NAME=\"runsc-exo test rootfs\"\nID=exo-test\n",
	} {
		must(os.WriteFile(filepath.Join(root, "etc", name), []byte(data), 0o644))
	}
	must(writeSeed(filepath.Join(root, "data")))
	return root
}

// unchanged fails the test if the tree at dir differs from the snapshot
// taken before (by content, metadata or modification and change times).
func unchanged(t *testing.T, what, dir, before string) {
	t.Helper()
	after, err := snapshot(dir, true)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if after != before {
		t.Errorf("%s changed on the host (%s):\n%s", what, dir, diffLines(before, after))
	}
}

// sameOutput fails the test unless both runs exited 0 and printed the same.
func sameOutput(t *testing.T, native, sandboxed *harness.Result) {
	t.Helper()
	compare(t, results{native: native, sandboxed: sandboxed}, nil)
}

// TestRootfsUnchanged: with --rootfs DIR, DIR is the read-only lower
// layer: a workload that appends, truncates, deletes, renames (a file and a
// directory), chmods, links, makes and removes directories under /data,
// rewrites /etc files and deletes its own binary sees all of it, as the
// same workload natively on a copy of DIR does, and DIR is byte-for-byte
// (and time-for-time) unchanged afterwards.
func TestRootfsUnchanged(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	root := makeRootfs(t)
	before, err := snapshot(root, true)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("fsops", func(t *testing.T) {
		work := filepath.Join(suite.Dir, "copy-"+filepath.Base(root))
		if err := copyTree(filepath.Join(root, "data"), work); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(work)
		native := harness.Native(t, helper(t), "mutate", work)
		sandboxed := rt.Do(t, harness.DoOpts{Rootfs: root}, "/fsops", "mutate", "/data")
		noPanic(t, sandboxed)
		sameOutput(t, native, sandboxed)
		unchanged(t, "the --rootfs directory", root, before)
	})

	t.Run("busybox", func(t *testing.T) {
		copyRoot := filepath.Join(suite.Dir, "copy2-"+filepath.Base(root))
		if err := copyTree(root, copyRoot); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(copyRoot)
		env := progEnv()
		argv := []string{filepath.Join(copyRoot, "bin", "busybox"), "sh", filepath.Join(copyRoot, "rootfs.sh"), copyRoot}
		t.Logf("native: %s", harness.ShellQuote(argv))
		native := harness.Run(harness.Cmd{Args: argv, Env: env, Dir: "/"})
		args := rt.DoArgs(harness.DoOpts{Rootfs: root}, "/bin/busybox", "sh", "/rootfs.sh", "")
		t.Logf("sandboxed: %s", harness.ShellQuote(args))
		sandboxed := harness.Run(harness.Cmd{Args: args, Env: env, Dir: "/"})
		noPanic(t, sandboxed)
		sameOutput(t, native, sandboxed)
		unchanged(t, "the --rootfs directory", root, before)
	})
}

// TestOverlayDefaultRootfs: with the default rootfs (the host's /), the
// workload can change a host directory's files and /etc/passwd and create
// files in /usr: it sees its changes, as the same workload natively on a
// copy does, and the host sees none of them.
func TestOverlayDefaultRootfs(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	bin := helper(t)
	dir := filepath.Join(suite.Dir, "overlay-host")
	copyDir := filepath.Join(suite.Dir, "overlay-copy")
	for _, d := range []string{dir, copyDir} {
		os.RemoveAll(d)
		if err := writeSeed(d); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(d)
	}
	before, err := snapshot(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	native := harness.Native(t, bin, "mutate", copyDir)
	sandboxed := rt.Do(t, harness.DoOpts{}, bin, "mutate", dir)
	noPanic(t, sandboxed)
	// The tree listing names no paths, so the outputs match as they are.
	sameOutput(t, native, sandboxed)
	unchanged(t, "the host directory", dir, before)

	// System files: only sandboxed (natively this would change the host).
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	var pst, ust os.FileInfo
	pst, _ = os.Stat("/etc/passwd")
	ust, _ = os.Stat("/usr")
	const probe = "/usr/exo-overlay-probe"
	t.Cleanup(func() {
		// Only if the sandbox leaked its writes: put the host back.
		os.Remove(probe)
		if now, err := os.ReadFile("/etc/passwd"); err == nil && !bytes.Equal(now, passwd) {
			t.Errorf("restoring the host's /etc/passwd the sandbox changed")
			os.WriteFile("/etc/passwd", passwd, pst.Mode().Perm())
		}
	})
	r := rt.Do(t, harness.DoOpts{}, busybox, "sh", "-c",
		`echo "exo-overlay:x:4243:4243::/:/bin/sh" >> /etc/passwd && busybox tail -n 1 /etc/passwd &&
		 echo probe > `+probe+` && busybox cat `+probe+` && busybox rm `+probe+` &&
		 busybox ls `+probe+` 2>/dev/null || echo removed`)
	noPanic(t, r)
	if harness.CheckExit(t, "changing /etc/passwd and /usr in the sandbox", r, 0) {
		if want := "exo-overlay:x:4243:4243::/:/bin/sh\nprobe\nremoved\n"; string(r.Stdout) != want {
			t.Errorf("the workload saw %q, want %q\n%s", r.Stdout, want, r)
		}
	}
	if p2, _ := os.ReadFile("/etc/passwd"); !bytes.Equal(passwd, p2) {
		t.Errorf("/etc/passwd changed on the host")
	}
	if p2, err := os.Stat("/etc/passwd"); err != nil || !p2.ModTime().Equal(pst.ModTime()) {
		t.Errorf("/etc/passwd's mtime changed on the host")
	}
	if u2, err := os.Stat("/usr"); err != nil || !u2.ModTime().Equal(ust.ModTime()) {
		t.Errorf("/usr's mtime changed on the host (an entry was made or removed in it)")
	}
	if _, err := os.Lstat(probe); err == nil {
		t.Errorf("%s exists on the host", probe)
	}
}

// TestBindMountReadWrite: --mount type=bind,src=HOSTDIR,dst=/bind gives the
// workload HOSTDIR itself: after the helper's changes through /bind, HOSTDIR
// holds exactly what a copy of it holds after the same changes made
// natively; the --rootfs directory stays unchanged.
func TestBindMountReadWrite(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	root := makeRootfs(t)
	before, err := snapshot(root, true)
	if err != nil {
		t.Fatal(err)
	}
	hostDir := filepath.Join(suite.Dir, "bind-rw")
	copyDir := filepath.Join(suite.Dir, "bind-rw-copy")
	for _, d := range []string{hostDir, copyDir} {
		os.RemoveAll(d)
		if err := writeSeed(d); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(d)
	}
	native := harness.Native(t, helper(t), "mutate", copyDir)
	sandboxed := rt.Do(t, harness.DoOpts{Rootfs: root, Extra: []string{"--mount", "type=bind,src=" + hostDir + ",dst=/bind"}},
		"/fsops", "mutate", "/bind")
	noPanic(t, sandboxed)
	sameOutput(t, native, sandboxed)
	want, err := snapshot(copyDir, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := snapshot(hostDir, false)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("the bind-mounted host directory does not hold the workload's changes:\n%s", diffLines(want, got))
	}
	if data, err := os.ReadFile(filepath.Join(hostDir, "new.txt")); err != nil || string(data) != "made by the workload\n" {
		t.Errorf("new.txt on the host: %q, %v", data, err)
	}
	unchanged(t, "the --rootfs directory", root, before)
}

// TestBindMountReadOnly: with ,ro every change through the mount fails
// with EROFS and reads work, exactly as through a read-only bind mount on
// the host (made in a private mount namespace for the native run); the
// host directory is unchanged.
func TestBindMountReadOnly(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	need(t, "unshare", "mount", "sh")
	root := makeRootfs(t)
	hostDir := filepath.Join(suite.Dir, "bind-ro")
	os.RemoveAll(hostDir)
	if err := writeSeed(hostDir); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(hostDir)
	before, err := snapshot(hostDir, true)
	if err != nil {
		t.Fatal(err)
	}
	native := harness.Native(t, "unshare", "-m", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec "$0" readonly "$1"`, helper(t), hostDir)
	unchanged(t, "the host directory (native read-only bind)", hostDir, before)
	sandboxed := rt.Do(t, harness.DoOpts{Rootfs: root, Extra: []string{"--mount", "type=bind,src=" + hostDir + ",dst=/bind,ro"}},
		"/fsops", "readonly", "/bind")
	noPanic(t, sandboxed)
	sameOutput(t, native, sandboxed)
	if !strings.Contains(string(sandboxed.Stdout), "unlink                           EROFS") {
		t.Errorf("unlink through the read-only bind mount did not fail with EROFS\n%s", sandboxed)
	}
	unchanged(t, "the read-only bind-mounted host directory", hostDir, before)
}

// TestTmpfsMount: --mount type=tmpfs,dst=/scratch is an empty tmpfs that
// takes files (a 1 MiB one too) exactly as a tmpfs mounted on the host
// does; nothing of it reaches the --rootfs directory.
func TestTmpfsMount(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	need(t, "unshare", "mount", "sh")
	root := makeRootfs(t)
	before, err := snapshot(root, true)
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(suite.Dir, "tmpfs-native")
	os.RemoveAll(mnt)
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(mnt)
	native := harness.Native(t, "unshare", "-m", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs exo-test "$1" && exec "$0" tmpfs "$1"`, helper(t), mnt)
	sandboxed := rt.Do(t, harness.DoOpts{Rootfs: root, Extra: []string{"--mount", "type=tmpfs,dst=/scratch"}},
		"/fsops", "tmpfs", "/scratch")
	noPanic(t, sandboxed)
	sameOutput(t, native, sandboxed)
	unchanged(t, "the --rootfs directory", root, before)
}
