package main

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "512m": 512 << 20, "2G": 2 << 30, "64MiB": 64 << 20, "1kb": 1024, "-1": -1} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "m", "-5", "1x", "99999999999t"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
}

func TestLibosLimits(t *testing.T) {
	r := readResourcesString(t, `{"memory":{"limit":0},"pids":{"limit":0},"cpu":{"shares":2}}`)
	if l := libosLimits(r); l.Memory != nil || l.Pids != nil {
		t.Errorf("zero limits (docker's unset) reach the library OS: %+v", l)
	}
	r = readResourcesString(t, `{"memory":{"limit":-1},"pids":{"limit":5}}`)
	if l := libosLimits(r); l.Memory == nil || *l.Memory != -1 || l.Pids == nil || *l.Pids != 5 {
		t.Errorf("limits = %+v, want memory -1 and pids 5", l)
	}
}

func readResourcesString(t *testing.T, s string) *specs.LinuxResources {
	t.Helper()
	var r specs.LinuxResources
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}
