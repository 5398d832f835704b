// Command mkimage writes a single-layer container image of a directory as a
// docker-archive tarball (manifest.json, the image config, the layer), which
// both `ctr images import` and `docker load` accept, so the end-to-end tests
// need no registry.
//
//	mkimage [-entrypoint JSON] [-cmd JSON] [-env K=V]... ROOTFS NAME:TAG OUT.tar
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	entrypoint := flag.String("entrypoint", "", "the image's entrypoint, a JSON array")
	cmd := flag.String("cmd", "", "the image's command, a JSON array")
	workdir := flag.String("workdir", "/", "the image's working directory")
	env := listFlag{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	flag.Var(&env, "env", "an environment variable K=V of the image (repeatable)")
	flag.Parse()
	if flag.NArg() != 3 {
		fmt.Fprintln(os.Stderr, "usage: mkimage [flags] ROOTFS NAME:TAG OUT.tar")
		os.Exit(2)
	}
	if err := write(flag.Arg(0), flag.Arg(1), flag.Arg(2), *entrypoint, *cmd, *workdir, env); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func write(rootfs, ref, out, entrypoint, cmd, workdir string, env []string) error {
	layer, err := layerTar(rootfs)
	if err != nil {
		return fmt.Errorf("layer of %q: %w", rootfs, err)
	}
	layerDigest := sha256hex(layer)
	imgCfg := map[string]any{"Env": env, "WorkingDir": workdir}
	for k, v := range map[string]string{"Entrypoint": entrypoint, "Cmd": cmd} {
		if v == "" {
			continue
		}
		var args []string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			return fmt.Errorf("-%s: want a JSON array of strings: %w", strings.ToLower(k), err)
		}
		imgCfg[k] = args
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      "1970-01-01T00:00:00Z",
		"config":       imgCfg,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerDigest}},
	})
	if err != nil {
		return err
	}
	cfgName := sha256hex(cfg) + ".json"
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   cfgName,
		"RepoTags": []string{ref},
		"Layers":   []string{layerDigest + "/layer.tar"},
	}})
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		data []byte
	}{
		{cfgName, cfg},
		{layerDigest + "/layer.tar", layer},
		{"manifest.json", manifest},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// layerTar is rootfs as one tar layer, owned by root, in a stable order.
func layerTar(rootfs string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(rootfs, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == rootfs {
			return err
		}
		rel, err := filepath.Rel(rootfs, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "root", "root"
		hdr.ModTime = time.Unix(0, 0)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
