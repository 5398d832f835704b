package proc

import (
	"slices"

	"golang.org/x/sys/unix"
)

// NetSource is implemented by a Source whose processes have a network
// namespace: /proc/PID/net shows it (and /proc/net links to self/net, as
// on Linux). Without it there is no net directory.
type NetSource interface {
	// NetFiles are the names of the files of process tgid's
	// /proc/PID/net, sorted; nil if it has no network namespace.
	NetFiles(tgid int32) []string
	// NetFile is the content of /proc/PID/net/NAME, generated afresh.
	NetFile(tgid int32, name string) ([]byte, error)
}

// hasNet reports whether /proc shows network namespaces.
func (fs *FS) hasNet() bool {
	_, ok := fs.src.(NetSource)
	return ok
}

// netDir is /proc/PID/net.
type netDir struct{ c *pctx }

func (d netDir) names() ([]string, error) {
	if _, err := d.c.view(); err != nil {
		return nil, err
	}
	return d.c.fs.src.(NetSource).NetFiles(d.c.tgid), nil
}

func (d netDir) list() ([]dirent, error) {
	names, err := d.names()
	if err != nil {
		return nil, err
	}
	out := make([]dirent, 0, len(names))
	for _, n := range names {
		out = append(out, dirent{n, unix.DT_REG})
	}
	return out, nil
}

func (d netDir) lookup(name string) (*inode, error) {
	names, err := d.names()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(names, name) {
		return nil, unix.ENOENT
	}
	n := d.c.fs.newNode(join(join(d.c.dir, "net"), name), unix.S_IFREG|0o444, d.c)
	n.read = func() ([]byte, error) {
		if _, err := d.c.view(); err != nil {
			return nil, err
		}
		return d.c.fs.src.(NetSource).NetFile(d.c.tgid, name)
	}
	return n, nil
}
