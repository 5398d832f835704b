// Package programs runs real, dynamically linked programs of the host's
// Debian rootfs natively and under `runsc-exo do` (whose default rootfs is
// the host's / as the read-only lower layer of an overlay with a tmpfs
// upper) and compares what they print: python3 scripts that read, write,
// rename, list and stat files, and that use pseudo-terminals and shared
// memory; git init/add/commit/log/gc/clone; sqlite3 with 10,000 rows in a
// transaction and a WAL database; perl; python3 over AF_UNIX sockets (a
// socketpair, a forked client, an fd passed); a tar czf / tar xzf round
// trip; find / -xdev; ls -la /proc/self/; cat /proc/self/maps.
//
// Each workload runs in a work directory under the suite's scratch
// directory (in /tmp), seeded with a few files; both runs use the same
// path, so their output needs no path rewriting. The workloads change the
// seed files as well as making new ones: after the sandboxed run the host's
// copy of the directory must be exactly as seeded (the writes stayed in the
// sandbox's upper layer). What legitimately differs between the runs (the
// host name, /proc entries the library OS does not have) is normalized or
// compared as a set.
//
// rootfs_test.go runs a static helper and busybox in a minimal rootfs made
// in a temp directory and checks that directory is byte-for-byte unchanged
// afterwards, that a --mount type=bind,…,rw receives the writes, that
// ,ro refuses them with EROFS (as a read-only bind mount does natively),
// and that --mount type=tmpfs is an empty tmpfs.
package programs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"exokernelul.dev/exo/test/internal/harness"
)

var (
	suite    *harness.Suite
	fsops    string // the static helper of testdata/fsops.c
	buildErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	harness.LimitParallel()
	s, err := harness.NewSuite("programs")
	if err != nil {
		fmt.Fprintln(os.Stderr, "programs: cannot create a scratch directory:", err)
		os.Exit(1)
	}
	suite = s
	if err := harness.GlibcStatic.Available(); err != nil {
		buildErr = err
	} else {
		bins, errs, err := harness.CompileDir("testdata", s.Dir, harness.GlibcStatic)
		buildErr = err
		for name, e := range errs {
			buildErr = fmt.Errorf("%s: %v", name, e)
		}
		fsops = bins["fsops"]
	}
	code := m.Run()
	s.Close()
	os.Exit(code)
}

// helper returns the fsops binary or ends the test.
func helper(t *testing.T) string {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("building testdata/fsops.c failed: %v", buildErr)
	}
	if fsops == "" {
		t.Fatal("testdata/fsops.c was not built")
	}
	return fsops
}

// need fails the test unless each program is installed on the host.
func need(t *testing.T, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is needed on the host (tools/setup installs it): %v", p, err)
		}
	}
}

// script reads testdata/NAME.
func script(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// scriptFile copies testdata/NAME into the scratch directory (which the
// sandbox sees through its rootfs) and returns its path there.
func scriptFile(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(suite.Dir, name)
	if err := os.WriteFile(path, []byte(script(t, name)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// seed is the layout every work directory starts with (fsops.c and the
// scripts rely on it): files to change, delete, rename, chmod and truncate,
// a directory tree to remove and a directory to rename, an empty directory.
var seedFiles = []struct{ path, data string }{
	{"hello.txt", "hello from the host\n"},
	{"delete-me.txt", "delete me\n"},
	{"rename-me.txt", "rename me\n"},
	{"chmod-me.txt", "chmod me\n"},
	{"truncate-me.txt", "truncate me, please\n"},
	{"dir/inner.txt", "inner\n"},
	{"dir/sub/deep.txt", "deep\n"},
	{"dir2/a.txt", "a\n"},
}

var seedDirs = []string{"dir", "dir/sub", "dir2", "empty"}

// writeSeed makes dir (which must not exist) with the seed layout.
func writeSeed(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for _, d := range seedDirs {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	for _, f := range seedFiles {
		p := filepath.Join(dir, f.path)
		if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// snapshot describes every entry below root, one line each, sorted: type,
// mode, owner, size, link count, contents hash or link target, and with
// times also mtime and ctime (to the nanosecond). Access times are left
// out: reading a file legitimately changes them.
func snapshot(root string, times bool) (string, error) {
	var lines []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("%s mode=%o uid=%d gid=%d", rel, st.Mode, st.Uid, st.Gid)
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += fmt.Sprintf(" size=%d nlink=%d sha256=%s", st.Size, st.Nlink, hex.EncodeToString(sum[:8]))
		case syscall.S_IFLNK:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			line += " -> " + target
		case syscall.S_IFDIR:
			// Directory sizes differ between file systems; the entries
			// below show the contents.
		default:
			line += fmt.Sprintf(" size=%d", st.Size)
		}
		if times {
			line += fmt.Sprintf(" mtime=%d.%09d ctime=%d.%09d", st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n", err
}

// diffLines describes the lines only in a and only in b.
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	am, bm := in(a), in(b)
	var out strings.Builder
	for _, l := range strings.Split(a, "\n") {
		if !bm[l] {
			fmt.Fprintf(&out, "  - %s\n", l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !am[l] {
			fmt.Fprintf(&out, "  + %s\n", l)
		}
	}
	return out.String()
}

// progEnv is the environment of a workload: the harness's plus extra.
// TZ is fixed so that printed dates do not depend on /etc/localtime.
func progEnv(extra ...string) []string {
	env := append(harness.Env(), "TZ=UTC", "PYTHONDONTWRITEBYTECODE=1", "PYTHONHASHSEED=0")
	return append(env, extra...)
}

// pair is a workload run natively and then sandboxed.
type pair struct {
	// argv is the command line; it gets the work directory.
	argv func(work string) []string
	// env is the environment of both runs (default progEnv()).
	env func(work string) []string
	// opts are the runtime's options for the sandboxed run.
	opts harness.DoOpts
	// timeout of each run (default harness.Timeout()).
	timeout time.Duration
}

type results struct {
	native, sandboxed *harness.Result
	work              string
}

// runPair runs p natively and then under runsc-exo, each in a freshly
// seeded work directory at the same path, and fails the test if the
// sandboxed run changed the host's copy of that directory. The caller
// compares the outputs.
func runPair(t *testing.T, name string, p pair) results {
	t.Helper()
	rt := suite.Runtime(t)
	work := filepath.Join(suite.Dir, "work-"+name)
	t.Cleanup(func() { os.RemoveAll(work) })
	env := progEnv()
	if p.env != nil {
		env = p.env(work)
	}
	timeout := p.timeout
	if timeout == 0 {
		timeout = harness.Timeout()
	}
	argv := p.argv(work)

	os.RemoveAll(work)
	if err := writeSeed(work); err != nil {
		t.Fatal(err)
	}
	t.Logf("native: %s", harness.ShellQuote(argv))
	native := harness.Run(harness.Cmd{Args: argv, Env: env, Dir: "/", Timeout: timeout})

	if err := os.RemoveAll(work); err != nil {
		t.Fatal(err)
	}
	if err := writeSeed(work); err != nil {
		t.Fatal(err)
	}
	before, err := snapshot(work, true)
	if err != nil {
		t.Fatal(err)
	}
	args := rt.DoArgs(p.opts, argv...)
	t.Logf("sandboxed: %s", harness.ShellQuote(args))
	sandboxed := harness.Run(harness.Cmd{Args: args, Env: env, Dir: "/", Timeout: timeout})
	noPanic(t, sandboxed)
	after, err := snapshot(work, true)
	if err != nil {
		t.Errorf("after the sandboxed run: %v", err)
	} else if before != after {
		t.Errorf("the sandboxed run changed the host's work directory %s (writes must stay in the sandbox's overlay):\n%s",
			work, diffLines(before, after))
	}
	return results{native: native, sandboxed: sandboxed, work: work}
}

func noPanic(t *testing.T, r *harness.Result) {
	t.Helper()
	if bytes.Contains(r.Stderr, []byte("panic:")) && bytes.Contains(r.Stderr, []byte("goroutine ")) {
		t.Errorf("the runtime panicked:\n%s", r)
	}
}

// compare fails the test unless both runs exited 0 and printed the same
// (after norm, if given).
func compare(t *testing.T, r results, norm func([]byte) []byte) {
	t.Helper()
	if r.native.ExitCode != 0 || r.native.TimedOut {
		t.Fatalf("the native run failed, so the workload or this host is at fault, not the sandbox:\n%s", r.native)
	}
	n, s := r.native.Stdout, r.sandboxed.Stdout
	if norm != nil {
		n, s = norm(n), norm(s)
	}
	var problems []string
	if r.sandboxed.ExitCode != 0 || r.sandboxed.TimedOut {
		problems = append(problems, "exit: native exit status 0, sandboxed "+r.sandboxed.Status())
	}
	if d := harness.FirstDifference("native", n, "sandbox", s); d != "" {
		problems = append(problems, "stdout differs; "+d)
	}
	if len(problems) > 0 {
		t.Errorf("the sandboxed run differs from the native run:\n  %s\n=== native\n%s=== sandboxed\n%s",
			strings.Join(problems, "\n  "), r.native, r.sandboxed)
	}
}

// TestPython: a python3 -c script reads, writes, appends, truncates,
// renames, lists, stats, chmods, links, mmaps, locks and removes files in a
// new directory, runs a child process, and changes the host's seed files
// (which must stay unchanged on the host).
func TestPython(t *testing.T) {
	t.Parallel()
	need(t, "python3")
	code := script(t, "files.py")
	r := runPair(t, "python", pair{argv: func(w string) []string { return []string{"python3", "-c", code, w} }})
	host, _ := os.Hostname()
	compare(t, r, func(b []byte) []byte {
		b = bytes.ReplaceAll(b, []byte("nodename="+host+" "), []byte("nodename=HOSTNAME "))
		return bytes.ReplaceAll(b, []byte("nodename=runsc-exo "), []byte("nodename=HOSTNAME "))
	})
}

// TestPythonPty: python3's pty module (openpty, termios settings, setraw,
// pty.fork with the child's stdio on the slave as its controlling
// terminal) and multiprocessing.shared_memory, which lives in /dev/shm.
func TestPythonPty(t *testing.T) {
	t.Parallel()
	need(t, "python3")
	code := script(t, "terminal.py")
	r := runPair(t, "pythonpty", pair{argv: func(w string) []string { return []string{"python3", "-c", code} }})
	compare(t, r, nil)
}

// TestPythonUnixSockets: python3 talks over AF_UNIX sockets: a
// socketpair, a stream server and a forked client on a path name with an
// fd passed by SCM_RIGHTS, datagrams on an abstract name, and connect
// errors; the library OS's sockets answer as the host's do.
func TestPythonUnixSockets(t *testing.T) {
	t.Parallel()
	need(t, "python3")
	code := script(t, "unixsock.py")
	r := runPair(t, "pyunix", pair{argv: func(w string) []string { return []string{"python3", "-c", code, w} }})
	compare(t, r, nil)
}

// gitEnv fixes everything a commit id depends on.
func gitEnv(work string) []string {
	return progEnv("HOME="+work, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Exo Tester", "GIT_AUTHOR_EMAIL=exo@example.com", "GIT_AUTHOR_DATE=@1700000000 +0000",
		"GIT_COMMITTER_NAME=Exo Tester", "GIT_COMMITTER_EMAIL=exo@example.com", "GIT_COMMITTER_DATE=@1700000000 +0000")
}

// TestGit: git init, add, commit (with a rename, a removal, a branch and a
// merge), log, status, gc, fsck and clone in a new repository: the same
// subjects and the same commit ids natively and sandboxed.
func TestGit(t *testing.T) {
	t.Parallel()
	need(t, "git", "sh")
	sh := scriptFile(t, "git.sh")
	r := runPair(t, "git", pair{
		argv: func(w string) []string { return []string{"/bin/sh", sh, w} },
		env:  gitEnv,
	})
	compare(t, r, nil)
	if !bytes.Contains(r.native.Stdout, []byte("merge feature\nremove main.c\nfeature work\n")) {
		t.Errorf("git log does not list the commits:\n%s", r.native)
	}
}

// TestSqlite: sqlite3 creates a database, inserts 10,000 rows in one
// transaction, aggregates, indexes, updates, deletes, vacuums and checks
// integrity, then uses a write-ahead-log database (shared memory and
// locks) and attaches one to the other.
func TestSqlite(t *testing.T) {
	t.Parallel()
	need(t, "sqlite3", "sh")
	var sql strings.Builder
	sql.WriteString("BEGIN;\nCREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, v INTEGER NOT NULL);\n")
	for i := 1; i <= 10000; i++ {
		fmt.Fprintf(&sql, "INSERT INTO t VALUES(%d, 'row-%d', %d);\n", i, i, (i*7919)%10007)
	}
	sql.WriteString("COMMIT;\n")
	sqlFile := filepath.Join(suite.Dir, "insert.sql")
	if err := os.WriteFile(sqlFile, []byte(sql.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := scriptFile(t, "sqlite.sh")
	r := runPair(t, "sqlite", pair{argv: func(w string) []string { return []string{"/bin/sh", sh, w, sqlFile} }})
	compare(t, r, nil)
	if !bytes.Contains(r.native.Stdout, []byte("10000|50041187|1|10000|")) {
		t.Errorf("the aggregate over 10,000 rows is not there:\n%s", r.native)
	}
}

// TestPostgres: PostgreSQL's initdb, a server on a unix socket, a table of
// 20,000 rows with an index, a join, a rolled-back transaction and a
// parallel scan (background workers, dynamic shared memory), and a clean
// stop. Its latches wait on a signalfd and its postmaster holds a System V
// shared memory segment.
func TestPostgres(t *testing.T) {
	t.Parallel()
	need(t, "setpriv")
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) == 0 {
		t.Fatal("postgresql is needed on the host (tools/setup installs it)")
	}
	sh := scriptFile(t, "postgres.sh")
	r := runPair(t, "postgres", pair{argv: func(string) []string { return []string{"/bin/bash", sh} }, timeout: 5 * time.Minute})
	compare(t, r, nil)
	if !bytes.Contains(r.native.Stdout, []byte("20000|100070125|row-1|20000\n")) || !bytes.HasSuffix(r.native.Stdout, []byte("stopped\n")) {
		t.Errorf("the queries did not all run natively:\n%s", r.native)
	}
}

// TestPerl: a perl -e script writes, appends, renames, stats, chmods,
// links, makes and removes a tree, forks, runs a command in backticks, and
// changes the seed files.
func TestPerl(t *testing.T) {
	t.Parallel()
	need(t, "perl")
	code := script(t, "files.pl")
	r := runPair(t, "perl", pair{argv: func(w string) []string { return []string{"perl", "-e", code, w} }})
	compare(t, r, nil)
}

// TestTar: tar czf of a tree (1 MiB file, symlink, modes, an old mtime, a
// copy of the seed directory), gzip -t, tar xzf elsewhere, diff -r, and
// the extracted names, modes, sizes and mtime.
func TestTar(t *testing.T) {
	t.Parallel()
	need(t, "tar", "gzip", "diff", "find", "sh")
	sh := scriptFile(t, "tar.sh")
	r := runPair(t, "tar", pair{argv: func(w string) []string { return []string{"/bin/sh", sh, w} }})
	compare(t, r, nil)
	if !bytes.Contains(r.native.Stdout, []byte("diff -r: identical\n")) {
		t.Errorf("the round trip was not identical natively:\n%s", r.native)
	}
}

// TestFind: find / -xdev -name os-release walks the whole root file
// system. The sandbox's / is its rootfs (the host's root file system, not
// the mounts below it), so what it finds under /usr and /etc must be what
// the host's find finds there. (Elsewhere, e.g. under /tmp, the runs may
// legitimately see different files.)
func TestFind(t *testing.T) {
	t.Parallel()
	need(t, "find")
	r := runPair(t, "find", pair{
		argv:    func(string) []string { return []string{"find", "/", "-xdev", "-name", "os-release"} },
		timeout: 5 * time.Minute,
	})
	keep := func(b []byte) []byte {
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "/usr/") || strings.HasPrefix(l, "/etc/") {
				lines = append(lines, l)
			}
		}
		sort.Strings(lines)
		return []byte(strings.Join(lines, "\n") + "\n")
	}
	// find exits 1 when some directory cannot be read (e.g. one that
	// vanished during the walk): only the output matters.
	for _, res := range []*harness.Result{r.native, r.sandboxed} {
		if res.ExitCode == 1 && !res.TimedOut {
			res.ExitCode = 0
		}
	}
	compare(t, r, keep)
	if !bytes.Contains(keep(r.native.Stdout), []byte("/etc/os-release\n")) {
		t.Errorf("find did not find /etc/os-release natively:\n%s", r.native)
	}
}

// procSelfRequired are the /proc/self entries the library OS provides
// (issue 4), with the type ls -l shows for each.
var procSelfRequired = map[string]byte{
	".": 'd', "..": 'd', "cmdline": '-', "cwd": 'l', "environ": '-', "exe": 'l', "fd": 'd', "fdinfo": 'd',
	"limits": '-', "maps": '-', "mountinfo": '-', "mounts": '-', "root": 'l', "stat": '-', "status": '-',
}

var lsLine = regexp.MustCompile(`^([-dlcbps][-rwxsStT]{9})\S*\s+\d+\s+\S+\s+\S+\s+\d+\s+\S+\s+\S+\s+\S+\s+(.+)$`)

type lsEntry struct {
	mode, target string
}

// parseLs reads ls -la output into entries by name.
func parseLs(t *testing.T, what string, out []byte) map[string]lsEntry {
	t.Helper()
	m := map[string]lsEntry{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(l, "total ") || l == "" {
			continue
		}
		g := lsLine.FindStringSubmatch(l)
		if g == nil {
			t.Errorf("%s: cannot parse ls -la line %q", what, l)
			continue
		}
		name, target, _ := strings.Cut(g[2], " -> ")
		m[name] = lsEntry{mode: g[1], target: target}
	}
	return m
}

// TestProcSelfLs: ls -la /proc/self/ runs and lists the entries the
// library OS provides, each of the type Linux gives it (file, directory,
// symlink), exe pointing to ls, cwd and root to /; every name it lists is
// one Linux has. Entries Linux has and the sandbox lacks, and permission
// bits that differ, are logged.
func TestProcSelfLs(t *testing.T) {
	t.Parallel()
	need(t, "ls")
	r := runPair(t, "procls", pair{
		argv: func(string) []string { return []string{"ls", "-la", "/proc/self/"} },
		opts: harness.DoOpts{Extra: []string{"--cwd", "/"}},
	})
	if r.native.ExitCode != 0 {
		t.Fatalf("native ls failed:\n%s", r.native)
	}
	if !harness.CheckExit(t, "sandboxed ls -la /proc/self/", r.sandboxed, 0) {
		return
	}
	native := parseLs(t, "native", r.native.Stdout)
	sandboxed := parseLs(t, "sandboxed", r.sandboxed.Stdout)
	exe, _ := exec.LookPath("ls")
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	for name, typ := range procSelfRequired {
		n, ok := native[name]
		if !ok {
			t.Errorf("the host's /proc/self has no %s?\n%s", name, r.native)
			continue
		}
		s, ok := sandboxed[name]
		switch {
		case !ok:
			t.Errorf("/proc/self/%s is missing in the sandbox", name)
		case s.mode[0] != typ:
			t.Errorf("/proc/self/%s: type %c in the sandbox, want %c (%s natively)", name, s.mode[0], typ, n.mode)
		case name != ".." && s.mode != n.mode:
			// Names and types are compared; permissions only noted.
			t.Logf("/proc/self/%s: mode %s in the sandbox, %s natively", name, s.mode, n.mode)
		}
	}
	for name, want := range map[string]string{"exe": exe, "cwd": "/", "root": "/"} {
		if got := sandboxed[name].target; got != want {
			t.Errorf("/proc/self/%s -> %q in the sandbox, want %q", name, got, want)
		}
		if got := native[name].target; got != want {
			t.Errorf("/proc/self/%s -> %q natively, want %q", name, got, want)
		}
	}
	var extra, missing []string
	for name := range sandboxed {
		if _, ok := native[name]; !ok {
			extra = append(extra, name)
		}
	}
	for name := range native {
		if _, ok := sandboxed[name]; !ok {
			missing = append(missing, name)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	if len(extra) > 0 {
		t.Errorf("the sandbox's /proc/self lists entries Linux does not have: %s", strings.Join(extra, " "))
	}
	t.Logf("/proc/self: %d entries in the sandbox, %d natively; not in the sandbox: %s",
		len(sandboxed), len(native), strings.Join(missing, " "))
}

var mapsLine = regexp.MustCompile(`^([0-9a-f]+)-([0-9a-f]+) ([r-][w-][x-][ps]) ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+)(?:\s+(.*))?$`)

type mapping struct {
	start, end uint64
	perms      string
	inode      string
	name       string
}

// parseMaps checks the format of /proc/self/maps output and returns the
// mappings.
func parseMaps(t *testing.T, what string, out []byte) []mapping {
	t.Helper()
	var ms []mapping
	for i, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		g := mapsLine.FindStringSubmatch(l)
		if g == nil {
			t.Errorf("%s: line %d does not parse as a maps line: %q", what, i+1, l)
			continue
		}
		var m mapping
		fmt.Sscanf(g[1], "%x", &m.start)
		fmt.Sscanf(g[2], "%x", &m.end)
		m.perms, m.inode, m.name = g[3], g[7], strings.TrimSpace(g[8])
		if m.start >= m.end || m.start%4096 != 0 || m.end%4096 != 0 {
			t.Errorf("%s: line %d: bad range %q", what, i+1, l)
		}
		if len(ms) > 0 && m.start < ms[len(ms)-1].end {
			t.Errorf("%s: line %d overlaps or is out of order: %q", what, i+1, l)
		}
		if strings.HasPrefix(m.name, "/") && m.inode == "0" {
			t.Errorf("%s: line %d: a file mapping with inode 0: %q", what, i+1, l)
		}
		ms = append(ms, m)
	}
	return ms
}

// TestProcSelfMaps: cat /proc/self/maps in the sandbox prints lines in the
// kernel's format, in address order, naming cat itself, libc and the
// dynamic loader (each with an executable mapping), [heap], [stack] and
// [vdso]; the set of files mapped is the native one. Addresses are not
// compared.
func TestProcSelfMaps(t *testing.T) {
	t.Parallel()
	need(t, "cat")
	r := runPair(t, "procmaps", pair{argv: func(string) []string { return []string{"cat", "/proc/self/maps"} }})
	if r.native.ExitCode != 0 {
		t.Fatalf("native cat failed:\n%s", r.native)
	}
	if !harness.CheckExit(t, "sandboxed cat /proc/self/maps", r.sandboxed, 0) {
		return
	}
	cat, _ := exec.LookPath("cat")
	if real, err := filepath.EvalSymlinks(cat); err == nil {
		cat = real
	}
	files := func(ms []mapping) map[string]string {
		f := map[string]string{}
		for _, m := range ms {
			if m.name != "" {
				f[m.name] += m.perms + " "
			}
		}
		return f
	}
	nf := files(parseMaps(t, "native", r.native.Stdout))
	sf := files(parseMaps(t, "sandboxed", r.sandboxed.Stdout))
	for _, want := range []string{cat, "[heap]", "[stack]", "[vdso]"} {
		if _, ok := sf[want]; !ok {
			t.Errorf("no %s mapping in the sandbox's /proc/self/maps\n%s", want, r.sandboxed)
		}
	}
	for _, lib := range []string{"libc.so.6", "ld-linux-x86-64.so.2", cat} {
		found := false
		for name, perms := range sf {
			if strings.HasSuffix(name, "/"+filepath.Base(lib)) && strings.Contains(perms, "r-xp") {
				found = true
			}
		}
		if !found {
			t.Errorf("no executable mapping of %s in the sandbox's /proc/self/maps\n%s", lib, r.sandboxed)
		}
	}
	var nfiles, sfiles []string
	for name := range nf {
		if strings.HasPrefix(name, "/") {
			nfiles = append(nfiles, name)
		}
	}
	for name := range sf {
		if strings.HasPrefix(name, "/") {
			sfiles = append(sfiles, name)
		}
	}
	sort.Strings(nfiles)
	sort.Strings(sfiles)
	if strings.Join(nfiles, " ") != strings.Join(sfiles, " ") {
		t.Errorf("files mapped: native %v, sandboxed %v", nfiles, sfiles)
	}
}
