package main

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"exokernelul.dev/exo/oci"
)

func TestPodSandboxOf(t *testing.T) {
	for _, c := range []struct {
		ann  map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{oci.AnnotationContainerType: "sandbox", oci.AnnotationSandboxID: "s"}, ""},
		{map[string]string{oci.AnnotationContainerType: "container", oci.AnnotationSandboxID: "s"}, "s"},
		{map[string]string{oci.AnnotationContainerType: "container"}, ""},
	} {
		if got := oci.PodSandboxOf(c.ann); got != c.want {
			t.Errorf("PodSandboxOf(%v) = %q, want %q", c.ann, got, c.want)
		}
	}
}

func TestJoinsNamespace(t *testing.T) {
	ns := func(n ...specs.LinuxNamespace) *specs.Spec { return &specs.Spec{Linux: &specs.Linux{Namespaces: n}} }
	for _, c := range []struct {
		spec *specs.Spec
		want bool
	}{
		{ns(specs.LinuxNamespace{Type: specs.PIDNamespace, Path: "/proc/9/ns/pid"}), true},
		{ns(specs.LinuxNamespace{Type: specs.PIDNamespace}, specs.LinuxNamespace{Type: specs.IPCNamespace, Path: "/proc/9/ns/ipc"}), false},
		{ns(specs.LinuxNamespace{Type: specs.MountNamespace}), true},
		{&specs.Spec{}, true},
	} {
		if got := joinsNamespace(c.spec, specs.PIDNamespace); got != c.want {
			t.Errorf("joinsNamespace(pid)(%+v) = %v, want %v", c.spec.Linux, got, c.want)
		}
	}
}
