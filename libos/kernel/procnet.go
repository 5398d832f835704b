package kernel

import (
	"slices"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/net/inet"
)

// NetFiles implements proc.NetSource: the sandbox has one network
// namespace, its stack's files and the unix sockets'.
func (s procSource) NetFiles(int32) []string {
	var names []string
	if s.k.Net != nil {
		names = append(names, inet.ProcNetFiles...)
	}
	if s.k.UnixSockets != nil {
		names = append(names, "unix")
	}
	slices.Sort(names)
	return names
}

// NetFile implements proc.NetSource.
func (s procSource) NetFile(_ int32, name string) ([]byte, error) {
	if name == "unix" && s.k.UnixSockets != nil {
		return s.k.UnixSockets.ProcNet(), nil
	}
	if s.k.Net != nil {
		if b, ok := s.k.Net.ProcNet(name); ok {
			return b, nil
		}
	}
	return nil, unix.ENOENT
}
