package engine

// Create and Start: a container made now and run later, as the Engine API
// has it (docker create, docker start; docker run -d is both). Create only
// writes the record — status created, the Spec, nothing of the kernel's
// yet. Start runs every stage under a monitor process, as `glassbox run -d`
// and `glassbox start` do: the monitor holds the container from then on, so
// the caller — a CLI command or a daemon request — may go.

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/internal/beside"
	"github.com/glassbox-dev/glassbox/internal/specjson"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
	"github.com/glassbox-dev/glassbox/trace"
)

// AutoRemoveAnnotation: a created container that is removed when it exits
// (the Engine API's HostConfig.AutoRemove, docker run --rm), kept in the
// Spec between create and start.
const AutoRemoveAnnotation = "org.glassbox.autoremove"

// ResolveImage looks an image up in the store (image.ErrNotFound if it is not
// there: pulling is the caller's choice) and gives what a Spec needs of it.
func (e *Engine) ResolveImage(ref string) (*spec.Image, error) {
	s, err := image.Open(e.Root)
	if err != nil {
		return nil, err
	}
	rec, err := s.Find(ref)
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config(rec)
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", ref, err)
	}
	out := &spec.Image{
		ID: rec.ID, Name: ref,
		Entrypoint: cfg.Config.Entrypoint, Cmd: cfg.Config.Cmd, Env: cfg.Config.Env,
		WorkingDir: cfg.Config.WorkingDir, User: cfg.Config.User,
	}
	if h := cfg.Config.Healthcheck; h != nil {
		out.Healthcheck = &spec.Healthcheck{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	for p := range cfg.Config.ExposedPorts {
		out.ExposedPorts = append(out.ExposedPorts, p)
	}
	slices.Sort(out.ExposedPorts)
	for _, l := range rec.Layers {
		out.Layers = append(out.Layers, s.LayerDir(l.DiffID))
	}
	return out, nil
}

// StdinAnnotation: a created container's stdin is open to attaches (its
// FIFO, container.StdinFifo), kept in the Spec between create and start.
const StdinAnnotation = "org.glassbox.stdin"

// The modes of a container's stdin (StdinAnnotation).
const (
	StdinOpen = "open" // for the container's life, to attach after attach (docker run -di)
	StdinOnce = "once" // closed when the first attach ends (docker run -i: end of input ends cat)
)

// CreateOptions are what a created container is besides its run options.
type CreateOptions struct {
	Name       string
	Labels     map[string]string
	AutoRemove bool   // it goes when it exits (docker run --rm)
	Stdin      string // "" (/dev/null), StdinOpen or StdinOnce
}

// Create makes a container's record from run options (o.Image resolved):
// status created, its Spec, its name (unique), its labels, its stdin FIFO if
// it has one; nothing of the kernel's yet.
func (e *Engine) Create(o spec.RunOptions, co CreateOptions) (*container.Container, error) {
	o.ID = container.NewID()
	makeVolumes, err := e.ResolveVolumes(&o)
	if err != nil {
		return nil, err
	}
	if o.Hostname == "" {
		o.Hostname = container.ShortID(o.ID)
	}
	s, err := spec.FromRunOptions(o)
	if err != nil {
		return nil, &InvalidError{err}
	}
	if err := makeVolumes(); err != nil {
		return nil, err
	}
	if co.AutoRemove {
		s.Annotations[AutoRemoveAnnotation] = "true"
	}
	switch co.Stdin {
	case "":
	case StdinOpen, StdinOnce:
		s.Annotations[StdinAnnotation] = co.Stdin
	default:
		return nil, &InvalidError{fmt.Errorf("stdin %q: open or once", co.Stdin)}
	}
	c, err := container.Create(e.Root, o.ID, co.Name, s)
	if err != nil {
		return nil, err
	}
	c.Status, c.Labels = container.Created, co.Labels
	err = c.Save()
	stages.Event(c, "create")
	if err == nil {
		// An attach before start opens it, and keeps what a --rm container
		// writes even once its state directory is gone.
		err = os.WriteFile(c.Path(container.LogFile), nil, 0o640)
	}
	if err == nil && co.Stdin != "" {
		err = unix.Mkfifo(c.Path(container.StdinFifo), 0o600)
	}
	c.Unlock()
	if err != nil {
		c.Lock()
		stages.Cleanup(c)
		return nil, err
	}
	return c, nil
}

// Start runs a created or exited container through every stage again under
// a monitor (over its writable layer, if it had one), and returns once its
// program runs. A request's trace context (ctx) becomes the start's.
func (e *Engine) Start(ctx context.Context, c *container.Container) error {
	return e.start(ctx, c, "start")
}

// start is Start, traced as command (start; restart, by a restart policy).
func (e *Engine) start(ctx context.Context, c *container.Container, command string) error {
	s := c.Spec
	// This start is a trace of its own: the last run's context goes.
	s.Process.Env = slices.DeleteFunc(s.Process.Env, func(e string) bool { return strings.HasPrefix(e, "TRACEPARENT=") })
	opts := stages.Options{Root: e.Root, ID: c.ID, Name: c.Name, Restart: true, Remove: s.Annotations[AutoRemoveAnnotation] == "true"}
	if err := JoinNetworkOf(s, e.Root); err != nil {
		return err
	}
	_, err := e.Detach(s, opts, trace.Options{Command: command, Request: trace.RequestOf(ctx)}, nil)
	return err
}

// InvalidError: the options a container was asked with are wrong (a
// relative volume path, a port published twice): the caller's to fix.
type InvalidError struct{ error }

func (e *InvalidError) Unwrap() error { return e.error }

// StageError: the stages of a detached run failed; Code is the exit status
// glassbox gives that failure (125, or 126/127 when the program cannot run).
type StageError struct {
	Code int
	Msg  string
}

func (e *StageError) Error() string { return e.Msg }

// monitorProgram is the program that runs `glassbox monitor`: glassbox, the
// lean build, beside this one (the daemon is glassbox-full, which has every
// command but pages in twice as much: cmd/glassbox/lean.go); else this one.
func monitorProgram() (string, error) {
	if p, err := beside.Program("glassbox"); err == nil {
		return p, nil
	}
	return os.Executable()
}

// Detach runs the stages of s under a monitor process (`glassbox monitor`,
// its own session, no terminal), and returns once the program runs, or a
// breakpoint paused the run (where), or the stages failed (a *StageError).
// extra are more monitor flags (the breakpoints).
func (e *Engine) Detach(s *specs.Spec, opts stages.Options, to trace.Options, extra []string) (paused string, err error) {
	specJSON, err := json.Marshal(specjson.Linux{Spec: s})
	if err != nil {
		return "", err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer statusR.Close()
	args := []string{"monitor", "--root", opts.Root, "--id", opts.ID, "--name", opts.Name,
		"--rm=" + strconv.FormatBool(opts.Remove), "--restart=" + strconv.FormatBool(opts.Restart), "--trace=" + strconv.FormatBool(!to.Off), "--otlp-endpoint", to.Endpoint, "--command", cmp.Or(to.Command, "run")}
	args = append(args, "--bundle", opts.Bundle)
	if r := to.Request; r != nil {
		args = append(args, "--http-method", r.Method, "--http-route", r.Route)
	}
	args = append(args, extra...)
	if _, err := ShimProgram(); err != nil {
		return "", err
	}
	exe, err := monitorProgram()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = "glassbox" // ps shows "glassbox monitor --id …"
	// The monitor's trace continues the request's, as glassbox's own does
	// a caller's TRACEPARENT.
	if r := to.Request; r != nil && r.Header.Get("traceparent") != "" {
		cmd.Env = append(slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "TRACEPARENT=") }),
			"TRACEPARENT="+r.Header.Get("traceparent"))
	}
	cmd.Stdin = strings.NewReader(string(specJSON))
	cmd.ExtraFiles = []*os.File{statusW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no controlling terminal, no job control signals
	if err := cmd.Start(); err != nil {
		statusW.Close()
		return "", fmt.Errorf("start the monitor: %w", err)
	}
	statusW.Close()
	go cmd.Wait() // the monitor outlives this call; this only reaps it if it fails early
	line, _ := bufio.NewReader(statusR).ReadString('\n')
	switch {
	case line == "ok\n":
		return "", nil
	case strings.HasPrefix(line, "paused "):
		return strings.TrimSpace(strings.TrimPrefix(line, "paused ")), nil
	case strings.HasPrefix(line, "error "):
		code, msg, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(line, "error "), "\n"), " ")
		n, _ := strconv.Atoi(code)
		return "", &StageError{Code: n, Msg: msg}
	}
	return "", errors.New("the monitor exited before reporting (see glassbox gc)")
}

// ShimProgram is glassbox-shim beside glassbox: what a detached container's
// monitor becomes once the container runs.
func ShimProgram() (string, error) {
	p, err := beside.Program("glassbox-shim")
	if err != nil {
		return "", fmt.Errorf("a detached container needs %w", err)
	}
	return p, nil
}

// JoinNetworkOf resolves --network container:NAME to the namespace of that
// running container's init.
func JoinNetworkOf(s *specs.Spec, root string) error {
	target, ok := strings.CutPrefix(s.Annotations[spec.NetworkAnnotation], "container:")
	if !ok {
		return nil
	}
	c, err := container.Find(root, target)
	if err != nil {
		return fmt.Errorf("--network container:%s: %w", target, err)
	}
	if c.Status != container.Running || c.Pid == 0 {
		return fmt.Errorf("--network container:%s: the container is %s, not running", target, c.Status)
	}
	if !slices.ContainsFunc(c.Spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.NetworkNamespace }) {
		return fmt.Errorf("--network container:%s: that container uses the host's network", target)
	}
	s.Annotations[spec.NetworkAnnotation] = "container:" + c.ID
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
			s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/net", c.Pid)
		}
	}
	return nil
}

// ExecDetached starts a process in a running container and returns at once
// (exec -d): its output goes nowhere, and it outlives the caller — it gets no
// parent-death signal — as an OCI caller's detached exec does.
func (e *Engine) ExecDetached(ctx context.Context, c *container.Container, s *specs.Spec) error {
	if Paused(c) {
		return fmt.Errorf("container %s %w: unpause it first", container.ShortID(c.ID), ErrPaused)
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	opts := stages.Options{Root: e.Root, ID: c.ID, IO: stages.IO{Stdin: null, Stdout: null, Stderr: null}, OCI: stages.OCI{Detached: true}}
	tr := trace.Container(trace.Options{Command: "exec", Request: trace.RequestOf(ctx)}, c, s, e.Root)
	if tr != nil {
		opts.After = tr.Stage
	}
	_, err = stages.Join(c, s, opts)
	return tr.End(nil, err, 0)
}

// ExecIO is an exec's stdio. Without a terminal: Stdin (nil: /dev/null),
// Stdout and Stderr. With one (the Spec's process.terminal), Terminal gets
// its master once the process runs; the caller copies both ways, and closes
// it after Exec has returned and the master has read EIO (the output is all
// read).
type ExecIO struct {
	Stdin, Stdout, Stderr *os.File
	Terminal              func(master *os.File)
}

// Exec runs a process in a running container — its namespaces, cgroup, user
// and capabilities (stages.Join) — and returns its exit code; traced as
// "glassbox exec" (as part of ctx's request, if any).
func (e *Engine) Exec(ctx context.Context, c *container.Container, s *specs.Spec, stdio ExecIO) (int, error) {
	if Paused(c) { // the process would join the frozen cgroup, and freeze
		return 0, fmt.Errorf("container %s %w: unpause it first", container.ShortID(c.ID), ErrPaused)
	}
	opts := stages.Options{Root: e.Root, ID: c.ID, IO: stages.IO{Stdin: stdio.Stdin, Stdout: stdio.Stdout, Stderr: stdio.Stderr}}
	if opts.IO.Stdin == nil {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return 0, err
		}
		defer null.Close()
		opts.IO.Stdin = null
	}
	con, err := stages.NewConsole(s.Process, &opts)
	if err != nil {
		return 0, err
	}
	tr := trace.Container(trace.Options{Command: "exec", Request: trace.RequestOf(ctx)}, c, s, e.Root)
	if tr != nil {
		opts.After = tr.Stage
	}
	r, err := stages.Join(c, s, opts)
	if err != nil {
		if con != nil {
			con.Discard()
		}
		return 0, tr.End(nil, err, 0)
	}
	if con != nil {
		master, err := con.Master()
		if err != nil {
			r.Signal(unix.SIGKILL)
			r.Wait()
			return 0, tr.End(nil, err, 0)
		}
		stdio.Terminal(master)
	}
	code := r.Wait()
	tr.Exited(code)
	tr.End(nil, nil, code)
	return code, nil
}
