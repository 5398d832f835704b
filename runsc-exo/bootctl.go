package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/caps"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/oci"
	"exokernelul.dev/exo/sentry"
)

// bootControlled is the sentry's side of an OCI container: it loads init,
// tells exo over the control fd, runs init when exo says start, delivers
// exo's kills, and reports how init ended before exiting with its status.
func bootControlled(sb *sentry.Sandbox, fd int) int {
	// The workload's stub processes must not inherit it.
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "control")
	defer f.Close()
	var mu sync.Mutex
	enc := json.NewEncoder(f)
	send := func(m oci.Message) {
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(m)
	}
	if err := sb.Load(); err != nil {
		send(oci.Message{Event: "failed", Error: err.Error()})
		fmt.Fprintf(os.Stderr, "runsc-exo: %v\n", err)
		return sentry.ExitCode(err)
	}
	send(oci.Message{Event: "created"})
	go func() {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var req oci.Message
			if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
				send(oci.Message{Event: "reply", Error: "bad request: " + err.Error()})
				continue
			}
			reply := oci.Message{Event: "reply"}
			switch req.Op {
			case "start":
				if req.Container != "" {
					if err := sb.StartContainer(req.Container); err != nil {
						reply.Error = err.Error()
					}
					break
				}
				sb.Start()
			case "create-container":
				var cfg sentry.Config
				if err := json.Unmarshal(req.Config, &cfg); err != nil {
					reply.Error = "create-container: config: " + err.Error()
					break
				}
				ctr := req.Container
				pid, err := sb.CreateContainer(ctr, cfg, func(st kernel.ExitStatus) {
					send(oci.Message{Event: "containerExited", Container: ctr, Code: st.Code, ExitSignal: st.Signal})
				})
				if err != nil {
					reply.Error = err.Error()
					break
				}
				reply.Pid = int(pid)
			case "exec":
				if req.Exec == nil {
					reply.Error = "exec: no process"
					break
				}
				id := req.ExecID
				spec := execSpec(req.Exec)
				spec.ID = id
				spec.Container = req.Container
				pid, err := sb.Exec(spec, func(st kernel.ExitStatus) {
					send(oci.Message{Event: "execExited", ExecID: id, Code: st.Code, ExitSignal: st.Signal})
				})
				if err != nil {
					reply.Error = err.Error()
					break
				}
				reply.Pid = int(pid)
			case "add-nics":
				var ncs []caps.NICConfig
				if err := json.Unmarshal(req.Config, &ncs); err != nil {
					reply.Error = "add-nics: " + err.Error()
					break
				}
				if err := sb.AddNICs(ncs); err != nil {
					reply.Error = err.Error()
				}
			case "resize":
				var err error
				if req.Container != "" {
					err = sb.ResizeContainer(req.Container)
				} else {
					err = sb.Resize(req.ExecID)
				}
				if err != nil {
					reply.Error = err.Error()
				}
			case "kill":
				if req.Signal <= 0 || req.Signal > 64 {
					reply.Error = fmt.Sprintf("signal %d out of range", req.Signal)
					break
				}
				if req.Pid > 0 {
					if err := sb.SignalProcess(req.Pid, req.Signal); err != nil {
						reply.Error = fmt.Sprintf("signal process %d: %v", req.Pid, err)
					}
					break
				}
				if req.Container != "" {
					if err := sb.SignalContainer(req.Container, req.Signal, req.All); err != nil {
						reply.Error = err.Error()
					}
					break
				}
				sb.Signal(req.Signal, req.All)
			case "update":
				if req.Limits == nil {
					break
				}
				if err := sb.Update(sentry.Resources{MemoryLimit: req.Limits.Memory, PidsLimit: req.Limits.Pids}); err != nil {
					reply.Error = err.Error()
				}
			case "stats":
				st := sb.Stats()
				reply.Stats = &oci.LibOSStats{
					MemoryUsage: st.MemoryUsage, MemoryMaxUsage: st.MemoryMaxUsage, MemoryLimit: st.MemoryLimit,
					MemoryFailcnt: st.MemoryFailcnt, Pids: st.Pids, PidsLimit: st.PidsLimit,
				}
			default:
				reply.Error = fmt.Sprintf("unknown request %q", req.Op)
			}
			send(reply)
		}
		// exo is gone: nothing can start or stop the container any more.
		sb.Signal(9, true)
	}()
	status := sb.Wait()
	send(oci.Message{Event: "exited", Code: status.Code, ExitSignal: status.Signal})
	if status.Signal != 0 {
		return 128 + status.Signal
	}
	return status.Code
}

// reportBootFailure tells exo why the sandbox could not boot.
func reportBootFailure(fd int, msg string) {
	f := os.NewFile(uintptr(fd), "control")
	json.NewEncoder(f).Encode(oci.Message{Event: "failed", Error: msg})
}

func execSpec(p *oci.ExecProcess) sentry.ExecSpec {
	spec := sentry.ExecSpec{Argv: p.Args, Env: p.Env, Cwd: p.Cwd, UID: p.UID, GID: p.GID, Groups: p.Groups, Stdio: p.Stdio, Console: p.Console,
		Caps: sentryCaps(p.Caps), NoNewPrivileges: p.NoNewPrivileges}
	for _, r := range p.Rlimits {
		spec.Rlimits = append(spec.Rlimits, sentry.Rlimit{Resource: r.Resource, Soft: r.Soft, Hard: r.Hard})
	}
	return spec
}

// sentryCaps passes the spec's capability sets on to the sentry.
func sentryCaps(c *oci.Caps) *sentry.CapSets {
	if c == nil {
		return nil
	}
	return &sentry.CapSets{Bounding: c.Bounding, Effective: c.Effective, Inheritable: c.Inheritable, Permitted: c.Permitted, Ambient: c.Ambient}
}

// sentrySeccomp passes the compiled linux.seccomp program on to the
// sentry.
func sentrySeccomp(prog []oci.SockFilter) []sentry.SeccompInsn {
	if len(prog) == 0 {
		return nil
	}
	out := make([]sentry.SeccompInsn, len(prog))
	for i, in := range prog {
		out[i] = sentry.SeccompInsn{Code: in.Code, JT: in.JT, JF: in.JF, K: in.K}
	}
	return out
}
