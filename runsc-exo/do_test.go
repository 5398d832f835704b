package main

import (
	"strings"
	"testing"
)

func TestMountFlag(t *testing.T) {
	dir := t.TempDir()
	good := []struct {
		spec string
		typ  string
		dst  string
		ro   bool
	}{
		{"type=bind,src=" + dir + ",dst=/data", "bind", "/data", false},
		{"type=bind,source=" + dir + ",target=/data/,ro", "bind", "/data", true},
		{"type=bind,src=" + dir + ",dst=/x,readonly=true", "bind", "/x", true},
		{"type=tmpfs,dst=/tmp", "tmpfs", "/tmp", false},
		{"type=tmpfs,destination=/run,size=64M,mode=755", "tmpfs", "/run", false},
	}
	for _, g := range good {
		var m mountFlags
		if err := m.Set(g.spec); err != nil {
			t.Errorf("%q: %v", g.spec, err)
			continue
		}
		if got := m[0]; got.Type != g.typ || got.Destination != g.dst || got.ReadOnly != g.ro {
			t.Errorf("%q parsed as %+v", g.spec, got.Mount)
		}
	}
	bad := map[string]string{
		"dst=/x":                                 "type",
		"type=nfs,dst=/x":                        "type",
		"type=bind,dst=/x":                       "src",
		"type=bind,src=" + dir:                   "dst",
		"type=bind,src=" + dir + ",dst=rel":      "dst",
		"type=bind,src=/nonexistent-exo,dst=/x":  "src",
		"type=tmpfs,dst=/x,size=lots":            "size",
		"type=tmpfs,dst=/x,mode=999":             "mode",
		"type=tmpfs,dst=/x,colour=blue":          "colour",
		"type=tmpfs,src=" + dir + ",dst=/x":      "src",
		"type=bind,src=" + dir + ",dst=/x,ro=no": "ro",
	}
	for spec, field := range bad {
		var m mountFlags
		err := m.Set(spec)
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%q: error %v does not name %q", spec, err, field)
		}
	}
	var m mountFlags
	m.Set("type=tmpfs,dst=/x")
	if err := m.Set("type=tmpfs,dst=/x/"); err == nil {
		t.Errorf("the same dst twice is accepted")
	}
}
