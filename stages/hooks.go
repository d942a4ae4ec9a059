package stages

// Hooks: commands of the user's that run at points of the pipeline.
//
//   - --hook STAGE:before|after=CMD runs CMD (with /bin/sh -c) on the host at
//     that point; --replace-stage STAGE=CMD runs CMD instead of a host-side
//     stage (rootfs, network): "write the network stage yourself".
//   - config.json's hooks, at the points the OCI runtime spec names:
//     prestart and createRuntime after the network stage, on the host;
//     createContainer in the container's namespaces before pivot_root and
//     startContainer after it, just before execve (both run by the init);
//     poststart once the program runs, poststop after the teardown.
//
// Every hook gets the container's state, as the runtime spec defines it, on
// stdin, and the container's facts in its environment (HookEnv). A hook that
// fails fails the run (poststart and poststop only warn, as the spec says).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Hook is a user's command at a point of the pipeline (--hook).
type Hook struct {
	At      Breakpoint
	Command string
}

// Replaceable are the stages whose work is all on the host side, so a
// command can do it instead (--replace-stage).
var Replaceable = []*Stage{Rootfs, Network}

// State is the container's state as the OCI runtime spec defines it: what
// hooks read on stdin.
func (r *Run) State(status specs.ContainerState) specs.State {
	id := r.ID
	if r.OCI {
		id = r.Name
	}
	return specs.State{Version: specs.Version, ID: id, Status: status, Pid: r.Pid,
		Bundle: r.Bundle, Annotations: r.Spec.Annotations}
}

// HookEnv is what a hook at point (stage, when) knows of the container, in
// its environment: documented in docs/stages/hooks.md.
func (r *Run) HookEnv(stage string, when string) []string {
	env := []string{
		"GLASSBOX_STAGE=" + stage, "GLASSBOX_WHEN=" + when,
		"GLASSBOX_ID=" + r.ID, "GLASSBOX_NAME=" + r.Name,
		"GLASSBOX_STATE_DIR=" + r.Dir, "GLASSBOX_ROOTFS=" + r.rootfsDir(),
		"GLASSBOX_BUNDLE=" + r.Bundle,
	}
	if r.Pid != 0 {
		p := strconv.Itoa(r.Pid)
		env = append(env, "GLASSBOX_PID="+p, "GLASSBOX_NETNS=/proc/"+p+"/ns/net", "GLASSBOX_MNTNS=/proc/"+p+"/ns/mnt")
	}
	if len(r.Cgroups) > 0 {
		env = append(env, "GLASSBOX_CGROUP="+r.Cgroups[len(r.Cgroups)-1], "GLASSBOX_CGROUPS="+strings.Join(r.Cgroups, ":"))
	}
	if r.IP != "" {
		env = append(env, "GLASSBOX_IP="+r.IP)
	}
	return env
}

// runUserHooks runs the --hook commands of one point.
func (r *Run) runUserHooks(b Breakpoint) error {
	for _, h := range r.Opts.Debug.Hooks {
		if h.At == b {
			hook := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", h.Command}}
			if err := r.runHostHook("hook "+b.String(), hook, b.Stage.Name, string(b.When), specs.StateCreating); err != nil {
				return &Error{Call: "--hook " + b.Stage.Name + ":" + string(b.When) + "=" + h.Command, Msg: err.Error()}
			}
		}
	}
	return nil
}

// runOCIHooks runs one of config.json's host-side hook lists.
func (r *Run) runOCIHooks(kind string, hooks []specs.Hook, status specs.ContainerState) error {
	for _, h := range hooks {
		if err := r.runHostHook(kind+" hook", h, kind, "oci", status); err != nil {
			return &Error{Call: kind + " hook " + h.Path, Msg: err.Error(), Hint: "see hooks." + kind + " in config.json"}
		}
	}
	return nil
}

// runHostHook runs a hook on the host with the state on stdin and records it
// as a span named name.
func (r *Run) runHostHook(name string, h specs.Hook, stage, when string, status specs.ContainerState) error {
	state, _ := json.Marshal(r.State(status))
	start := time.Now()
	err := runHook(h, state, append(os.Environ(), r.HookEnv(stage, when)...), r.stderr())
	st := stepsFor(r.Opts)
	st.record(strings.Join(append([]string{"hook", h.Path}, hookArgs(h)...), " "), start, err)
	r.timed(Timing{Stage: name, Start: start, End: time.Now(), Err: err, Steps: st.take()})
	return err
}

// runHook execs h.Path with h.Args (argv[0] included, as in the spec), h.Env
// on top of env, state on stdin, and h.Timeout in seconds.
func runHook(h specs.Hook, state []byte, env []string, stderr *os.File) error {
	ctx := context.Background()
	if h.Timeout != nil && *h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path, hookArgs(h)...)
	if len(h.Args) > 0 {
		cmd.Args[0] = h.Args[0]
	}
	cmd.Env = append(env, h.Env...)
	cmd.Stdin = bytes.NewReader(state)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	return err
}

func hookArgs(h specs.Hook) []string {
	if len(h.Args) > 1 {
		return h.Args[1:]
	}
	return nil
}

// replaced runs the user's command instead of stage st's host half.
func (r *Run) replaced(st *Stage, command string) error {
	start := time.Now()
	state, _ := json.Marshal(r.State(specs.StateCreating))
	h := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", command}}
	err := runHook(h, state, append(os.Environ(), r.HookEnv(st.Name, "instead")...), r.stderr())
	r.steps.record("replace-stage "+st.Name+"="+command, start, err)
	if err != nil {
		return &Error{Call: "--replace-stage " + st.Name + "=" + command, Msg: err.Error(),
			Hint: "the command does the stage's work; its environment has GLASSBOX_PID, GLASSBOX_NETNS … (glassbox explain hooks)"}
	}
	return nil
}

// ParseHook reads --hook STAGE:before|after=CMD.
func ParseHook(v string) (Hook, error) {
	point, command, ok := strings.Cut(v, "=")
	stage, when, ok2 := strings.Cut(point, ":")
	if !ok || !ok2 || command == "" || (when != string(Before) && when != string(After)) {
		return Hook{}, fmt.Errorf("--hook %s: write STAGE:before=CMD or STAGE:after=CMD", v)
	}
	b, err := ParseBreakpoint(stage, When(when))
	if err != nil {
		return Hook{}, fmt.Errorf("--hook %s: %w", v, err)
	}
	return Hook{At: b, Command: command}, nil
}

// ParseReplace reads --replace-stage STAGE=CMD.
func ParseReplace(v string) (stage, command string, err error) {
	stage, command, ok := strings.Cut(v, "=")
	st := ByName(stage)
	if !ok || command == "" {
		return "", "", fmt.Errorf("--replace-stage %s: write STAGE=CMD", v)
	}
	for _, r := range Replaceable {
		if r == st {
			return stage, command, nil
		}
	}
	return "", "", fmt.Errorf("--replace-stage %s: only the host-side stages rootfs and network can be replaced", v)
}

// runInitHooks runs config.json hooks from the container's init: in its
// namespaces, with the state the host sent.
func (in *Init) runInitHooks(kind string, hooks []specs.Hook) error {
	for _, h := range hooks {
		start := time.Now()
		err := runHook(h, in.State, append(os.Environ(), in.HookEnv...), os.Stderr)
		in.steps.record(kind+" hook "+h.Path, start, err)
		if err != nil {
			return &Error{Call: kind + " hook " + h.Path, Msg: err.Error(), Hint: "see hooks." + kind + " in config.json"}
		}
	}
	return nil
}
