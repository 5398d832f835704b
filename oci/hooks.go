package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Hook stages, by their config.json names.
const (
	Prestart        = "prestart"
	CreateRuntime   = "createRuntime"
	CreateContainer = "createContainer"
	StartContainer  = "startContainer"
	Poststart       = "poststart"
	Poststop        = "poststop"
)

// HooksOf returns the hooks of one stage of spec.
func HooksOf(spec *specs.Spec, stage string) []specs.Hook {
	h := spec.Hooks
	if h == nil {
		return nil
	}
	switch stage {
	case Prestart:
		return h.Prestart //nolint:staticcheck // the legacy stage runc still runs
	case CreateRuntime:
		return h.CreateRuntime
	case CreateContainer:
		return h.CreateContainer
	case StartContainer:
		return h.StartContainer
	case Poststart:
		return h.Poststart
	case Poststop:
		return h.Poststop
	}
	return nil
}

// RunHooks runs the hooks of one stage in order, each with the state JSON
// on stdin, its args and env, and its timeout; the first failure stops the
// stage and is returned. Every stage runs on the host: the container's
// namespaces belong to the library OS, so createContainer and
// startContainer, which runc runs in the container's namespaces, see the
// host's here.
func RunHooks(spec *specs.Spec, stage string, st specs.State) error {
	hooks := HooksOf(spec, stage)
	if len(hooks) == 0 {
		return nil
	}
	in, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runHook(h, in); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", stage, i, h.Path, err)
		}
	}
	return nil
}

func runHook(h specs.Hook, stdin []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		// args[0] is the hook's argv[0], as in execve.
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A hook that leaves children holding its output must not hang the
	// runtime after it exits.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(out.String())
		var ee *exec.ExitError
		if errors.As(err, &ee) && msg != "" {
			return fmt.Errorf("%v: %s", err, msg)
		}
		return err
	}
	return nil
}
