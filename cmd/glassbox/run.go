package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/internal/signals"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
	"github.com/glassbox-dev/glassbox/trace"
)

func newRunCmd() *cobra.Command { return runCmd(false) }

// newCreateCmd is docker create: run's flags, a container made (status
// created, nothing of the kernel's yet), not started — glassbox start does.
func newCreateCmd() *cobra.Command { return runCmd(true) }

func runCmd(createOnly bool) *cobra.Command {
	var o spec.RunOptions
	var bundle, traceMode, otlpEndpoint, name, entrypoint, cidfile string
	var labels, labelFiles, mounts, logOpts []string
	var healthCmd string
	var healthInterval, healthTimeout, healthStartPeriod, healthStartInterval time.Duration
	var healthRetries int
	var registry image.Registry
	var remove, detach, interactive, step bool
	var pipeline pipelineFlags
	use, short := "run", "Create and run a container through the stages, in the foreground"
	if createOnly {
		use, short = "create", "Create a container, to start later (glassbox start): its record, nothing of the kernel's yet"
	}
	cmd := &cobra.Command{
		Use:   use + " [flags] (IMAGE [CMD [ARG...]] | --rootfs DIR -- CMD [ARG...] | --bundle DIR)",
		Short: short,
		Example: `  glassbox run --rm --trace busybox sh -c 'hostname; ps; ls /'
  glassbox run --rm -p 8080:80 --name web busybox httpd -f -p 80
  glassbox run --rm --trace --rootfs ./rootfs -- sh -c 'hostname; ps; ls /'
  glassbox run --rm -e GREETING=hi -w /tmp -u nobody --rootfs ./rootfs -- env
  glassbox run --rm --bundle ./mybundle`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The command ends with the container: its signals are caught
			// once no image pull is left, which Ctrl-C must still stop.
			var catching *signals.Catching
			catch := func() {
				if !createOnly && !detach {
					catching = catchForwarded()
				}
			}
			id := container.NewID()
			var s *specs.Spec
			var err error
			if bundle != "" {
				if err := bundleOnly(cmd, args); err != nil {
					return err
				}
				catch()
				s, err = spec.LoadBundle(bundle)
			} else {
				if o.LogOpts, err = spec.ParseLogOpts(logOpts); err != nil {
					return err
				}
				changed := cmd.Flags().Changed
				if changed("health-cmd") {
					o.Health.Test = []string{"CMD-SHELL", healthCmd}
				}
				for _, d := range []struct {
					flag string
					v    *time.Duration
					into **time.Duration
				}{{"health-interval", &healthInterval, &o.Health.Interval}, {"health-timeout", &healthTimeout, &o.Health.Timeout},
					{"health-start-period", &healthStartPeriod, &o.Health.StartPeriod}, {"health-start-interval", &healthStartInterval, &o.Health.StartInterval}} {
					if changed(d.flag) {
						*d.into = d.v
					}
				}
				if changed("health-retries") {
					o.Health.Retries = &healthRetries
				}
				if o.Rootfs == "" { // run IMAGE [CMD...]
					if len(args) == 0 {
						return fmt.Errorf("usage: glassbox run [flags] IMAGE [CMD...], or --rootfs DIR -- CMD")
					}
					if o.Image, err = runImage(stateRoot(cmd), args[0], registry); err != nil {
						return err
					}
					args = args[1:]
				}
				catch()
				if cmd.Flags().Changed("entrypoint") {
					o.Entrypoint = &entrypoint
				}
				if o.Labels, err = readLabels(labels, labelFiles); err != nil {
					return err
				}
				for _, v := range mounts {
					m, err := spec.ParseMountFlag(v)
					if err == nil {
						err = m.Apply(&o)
					}
					if err != nil {
						return err
					}
				}
				o.Args, o.ID = args, id
				if o.Hostname == "" {
					o.Hostname = container.ShortID(id)
				}
				var makeVolumes func() error
				if makeVolumes, err = (&engine.Engine{Root: stateRoot(cmd)}).ResolveVolumes(&o); err != nil {
					return err
				}
				if s, err = spec.FromRunOptions(o); err == nil {
					err = makeVolumes() // the options are valid: now they may leave something behind
				}
				if err == nil {
					err = engine.JoinNetworkOf(s, stateRoot(cmd))
				}
			}
			if err != nil {
				return err
			}
			for _, w := range spec.Warnings(s) {
				fmt.Fprintln(os.Stderr, "glassbox: warning:", w)
			}
			if traceMode != "" && traceMode != "true" && traceMode != "false" && traceMode != "full" {
				return fmt.Errorf("--trace=%s: expected true, full or false", traceMode)
			}
			// As in Docker, the container reads the caller's stdin only with -i.
			stdin := os.Stdin
			if !interactive {
				if stdin, err = os.Open(os.DevNull); err != nil {
					return err
				}
			}
			opts := stages.Options{
				Root: stateRoot(cmd), ID: id, Name: name, Remove: remove,
				IO: stages.IO{Stdin: stdin, Stdout: os.Stdout, Stderr: os.Stderr, Interactive: interactive},
			}
			if err := pipeline.apply(&opts); err != nil {
				return err
			}
			if step {
				if detach {
					return fmt.Errorf("--step asks before each stage: not with -d (use --break-at, then glassbox continue)")
				}
				opts.Debug.Step = stepper(opts.Root)
			}
			if bundle != "" {
				opts.Bundle, _ = filepath.Abs(bundle)
			}
			if createOnly {
				return runAttachable(cmd, o, name, cidfile, interactive, remove, bundle != "" || len(pipeline.args()) > 0 || step, false)
			}
			to := trace.Options{Off: traceMode == "false", Show: traceMode == "true" || traceMode == "full", Full: traceMode == "full", Endpoint: otlpEndpoint}
			if cidfile != "" && !(detach && (s.Process.Terminal || interactive)) {
				if err := writeCidfile(cidfile, id); err != nil {
					return err
				}
			}
			if policy := s.Annotations[spec.RestartAnnotation]; policy != "" && (remove || !detach) {
				return fmt.Errorf("--restart %s: with -d, and not with --rm (a container removed when it exits has nothing to restart)", policy)
			}
			if detach {
				if to.Show {
					return fmt.Errorf("--trace prints the waterfall when the container ends: not with -d (glassbox trace show reads it later)")
				}
				if s.Process.Terminal || interactive {
					// Kept open for glassbox attach: made as the daemon makes one.
					return runAttachable(cmd, o, name, cidfile, interactive, remove, bundle != "" || len(pipeline.args()) > 0, true)
				}
				if err := startMonitor(s, opts, to, pipeline.args()); err != nil {
					return err
				}
				fmt.Println(id)
				return nil
			}
			return runContainer(s, opts, to, runHooks{signals: catching})
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // as in Docker: flags after the image belong to the command
	// Docker's -h is --hostname, so help is --help only.
	f.Bool("help", false, "help for run")
	f.StringVar(&o.Rootfs, "rootfs", "", "directory with the container's files (lower layer of the overlay; never modified)")
	f.StringArrayVarP(&labels, "label", "l", nil, "KEY=VALUE metadata (ps --filter label=KEY[=VALUE] finds it)")
	f.StringArrayVar(&labelFiles, "label-file", nil, "read KEY=VALUE labels from a file, a line each (# comments)")
	f.StringArrayVar(&o.AddHosts, "add-host", nil, "NAME:IP: another line of the container's /etc/hosts")
	f.StringArrayVar(&o.DNS, "dns", nil, "a nameserver for the container's own /etc/resolv.conf")
	f.StringArrayVar(&o.DNSSearch, "dns-search", nil, "a search domain for its /etc/resolv.conf")
	f.StringArrayVar(&o.DNSOptions, "dns-option", nil, "a resolver option for its /etc/resolv.conf (ndots:2)")
	f.StringVar(&o.LogDriver, "log-driver", "", "where a detached container's output goes: json-file (default; glassbox logs reads it) or none")
	f.StringArrayVar(&logOpts, "log-opt", nil, "json-file's max-size=SIZE (rotate the log past it) and max-file=N (files kept)")
	f.StringVar(&healthCmd, "health-cmd", "", "a health check: a shell command run in the container every --health-interval; exit 0 is healthy")
	f.DurationVar(&healthInterval, "health-interval", 0, "time between health checks (default 30s)")
	f.DurationVar(&healthTimeout, "health-timeout", 0, "a check running longer fails (default 30s)")
	f.IntVar(&healthRetries, "health-retries", 0, "failures in a row that make the container unhealthy (default 3)")
	f.DurationVar(&healthStartPeriod, "health-start-period", 0, "time for the program to start up: failures within it do not count (default 0s)")
	f.DurationVar(&healthStartInterval, "health-start-interval", 0, "time between health checks within the start period (default 5s)")
	f.BoolVar(&o.Health.None, "no-healthcheck", false, "run no health check, not even the image's HEALTHCHECK")
	f.StringVar(&cidfile, "cidfile", "", "write the container's id to this file (which must not exist)")
	f.BoolVar(&o.Init, "init", false, "pid 1 is a reaper that runs the program as its child, passes signals on and reaps zombies")
	f.StringVar(&o.StopSignal, "stop-signal", "", "the signal stop sends first (default SIGTERM)")
	f.Var(optionalInt{&o.StopTimeout}, "stop-timeout", "seconds stop waits for the program before SIGKILL (default 10)")
	f.StringVar(&o.Restart, "restart", "", "when its program exits, start it again: no, on-failure[:N], always, unless-stopped (with -d)")
	f.StringVar(&bundle, "bundle", "", "OCI bundle directory (config.json + rootfs) instead of --rootfs and flags")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "set NAME=VALUE, or copy NAME from this environment")
	f.StringArrayVar(&o.EnvFiles, "env-file", nil, "read NAME=VALUE lines from a file")
	f.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container (created if missing)")
	f.StringVarP(&o.User, "user", "u", "", "uid[:gid] or name[:group] from the container's /etc/passwd")
	f.StringVarP(&o.Hostname, "hostname", "h", "", "container hostname (default: the short container id)")
	f.StringArrayVarP(&o.Volumes, "volume", "v", nil, "bind mount /host/path:/container/path[:ro|rw]")
	f.StringArrayVar(&mounts, "mount", nil, "type=bind|volume|tmpfs,source=…,target=…[,readonly]: -v and --tmpfs's long form")
	f.StringArrayVar(&o.Tmpfs, "tmpfs", nil, "mount a tmpfs at /path[:options]")
	f.BoolVar(&o.ReadOnly, "read-only", false, "mount the container's root filesystem read-only")
	f.StringArrayVar(&o.CapAdd, "cap-add", nil, "add a capability (CHOWN or CAP_CHOWN; ALL: every one)")
	f.StringArrayVar(&o.CapDrop, "cap-drop", nil, "drop a capability from Docker's default set (ALL: every one)")
	f.BoolVar(&o.Privileged, "privileged", false, "every capability and device of the host, no seccomp, nothing masked (as Docker)")
	f.StringArrayVar(&o.SecurityOpt, "security-opt", nil, "seccomp=unconfined|builtin|PROFILE.json (Docker's format; default: builtin, glassbox's),\nno-new-privileges[=true|false] (default true), systempaths=unconfined")
	f.StringArrayVar(&o.Devices, "device", nil, "give the container a host device: HOST[:CONTAINER[:rwm]]")
	f.StringArrayVar(&o.Ulimits, "ulimit", nil, "a resource limit: NAME=SOFT[:HARD], like nofile=1024:2048 (-1: none)")
	f.StringArrayVar(&o.GroupAdd, "group-add", nil, "a supplementary group: a gid, or a name from the container's /etc/group")
	f.StringVar(&o.Userns, "userns", "", "host (the only mode: glassbox does not remap users)")
	f.StringVarP(&o.Memory, "memory", "m", "", "memory limit, like 64m or 1g (the OOM killer stops the container beyond it)")
	f.StringVar(&o.MemorySwap, "memory-swap", "", "memory plus swap limit, or -1 for unlimited swap (default: twice --memory)")
	f.StringVar(&o.CPUs, "cpus", "", "CPU limit, like 0.5 (half of one CPU's time)")
	f.Int64Var(&o.CPUShares, "cpu-shares", 0, "relative CPU weight under contention (default 1024)")
	f.StringVar(&o.CpusetCpus, "cpuset-cpus", "", "CPUs the container may run on, like 0-1,3")
	f.Int64Var(&o.PidsLimit, "pids-limit", 0, "most processes and threads at once (0 or -1: unlimited)")
	f.StringVar(&o.CgroupParent, "cgroup-parent", "", "put the container's cgroup under this one (absolute: from the cgroup root;\nrelative: beneath glassbox's own cgroup on v1, its parent on v2)")
	f.StringVar(&o.Network, "network", "", "bridge (default), a network from glassbox network create, none, host,\nor container:NAME|ID to share another container's network namespace")
	f.StringArrayVar(&o.Aliases, "network-alias", nil, "another name the containers on its network resolve it by")
	f.StringArrayVarP(&o.Publish, "publish", "p", nil, "publish a port: [ip:][hostPort:]containerPort[/tcp|udp], ranges like 8080-8081:80-81")
	f.StringVar(&name, "name", "", "a unique name; containers on the same network resolve it")
	f.BoolVarP(&o.PublishAll, "publish-all", "P", false, "publish every port the image exposes on an ephemeral host port")
	f.StringVar(&entrypoint, "entrypoint", "", "replace the image's entrypoint (\"\" clears it)")
	f.StringArrayVar(&registry.Insecure, "insecure-registry", nil, "pull from this registry (host:port) over plain HTTP")
	f.StringVar(&registry.Platform, "platform", "", "os/arch to pull, for a multi-platform image")
	f.BoolVar(&remove, "rm", false, "remove the container's state and writable layer when it exits")
	f.BoolVarP(&detach, "detach", "d", false, "run in the background under a monitor process; print the container id")
	f.BoolVarP(&interactive, "interactive", "i", false, "keep stdin open: the container reads it")
	f.BoolVarP(&o.Terminal, "tty", "t", false, "give the container a pseudo-terminal (with -i: an interactive session)")
	pipeline.register(f)
	f.BoolVar(&step, "step", false, "before each stage, show what it will do and ask: Enter runs it, s opens a shell\nthere, c runs the rest, q aborts")
	f.StringVar(&traceMode, "trace", "", "print the run's trace when it ends, one screen of stages (--trace=full: every\nstep and kernel event); every run is traced to the state root, with the kernel's\nown events seen by eBPF; --trace=false turns tracing off")
	f.Lookup("trace").NoOptDefVal = "true"
	f.StringVar(&otlpEndpoint, "otlp-endpoint", "", "also send the trace to this OTLP collector URL (default: the OTEL_EXPORTER_OTLP_* variables)")
	return cmd
}

// bundleOnly rejects Spec-shaping flags next to --bundle: config.json is the
// whole contract there, and silently mixing the two would surprise.
func bundleOnly(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("--bundle runs config.json's process.args; drop the command after --")
	}
	for _, name := range []string{"rootfs", "env", "env-file", "workdir", "user", "hostname", "volume", "tmpfs", "read-only",
		"memory", "memory-swap", "cpus", "cpu-shares", "cpuset-cpus", "pids-limit", "cgroup-parent", "network", "network-alias", "publish",
		"publish-all", "entrypoint", "platform", "insecure-registry", "cap-add", "cap-drop", "privileged", "security-opt",
		"device", "ulimit", "group-add", "userns", "label", "label-file", "add-host", "dns", "dns-search", "dns-option",
		"restart", "stop-signal", "stop-timeout", "mount", "init", "log-driver", "log-opt", "health-cmd", "health-interval", "health-timeout", "health-retries",
		"health-start-period", "health-start-interval", "no-healthcheck"} {
		if cmd.Flags().Changed(name) {
			return fmt.Errorf("--%s cannot be combined with --bundle; edit the bundle's config.json instead", name)
		}
	}
	return nil
}

// readLabels gathers --label-file lines, then --label KEY=VALUE (a later one
// wins, as in Docker).
func readLabels(labels, files []string) (map[string]string, error) {
	var all []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--label-file: %w", err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				all = append(all, line)
			}
		}
	}
	out := map[string]string{}
	for _, l := range append(all, labels...) {
		k, v, _ := strings.Cut(l, "=")
		out[k] = v
	}
	return out, nil
}

// writeCidfile writes --cidfile: the container's id, in a file that must not
// exist yet (a script reads it; an old one would name another container).
func writeCidfile(path, id string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("--cidfile: %w", err)
	}
	_, err = f.WriteString(id)
	return errors.Join(err, f.Close())
}

// optionalInt is an int flag that may be unset (nil).
type optionalInt struct{ p **int }

func (o optionalInt) String() string {
	if o.p == nil || *o.p == nil {
		return ""
	}
	return strconv.Itoa(**o.p)
}

func (o optionalInt) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%q: a whole number", v)
	}
	*o.p = &n
	return nil
}

func (o optionalInt) Type() string { return "int" }

// runAttachable is run -dit (or -dt, -di), and create: the container is
// made as the daemon makes one (engine.Create), its stdin open to attaches
// with -i, then, to run, started under a monitor (engine.Start); glassbox
// attach joins it later.
func runAttachable(cmd *cobra.Command, o spec.RunOptions, name, cidfile string, interactive, remove, staged, start bool) error {
	if staged {
		what := "create"
		if start {
			what = "-d with -i or -t"
		}
		return fmt.Errorf("%s takes no --bundle, --step, breakpoints, hooks or replaced stages: glassbox run in the foreground does", what)
	}
	if !cmd.Flags().Changed("hostname") {
		o.Hostname = "" // the short id of the id Create gives
	}
	eng, err := engineOf(cmd)
	if err != nil {
		return err
	}
	co := engine.CreateOptions{Name: name, AutoRemove: remove, Labels: o.Labels}
	if interactive {
		co.Stdin = engine.StdinOpen
	}
	c, err := eng.Create(o, co)
	if err != nil {
		return err
	}
	if cidfile != "" {
		if err := writeCidfile(cidfile, c.ID); err != nil {
			return err
		}
	}
	if !start {
		fmt.Println(c.ID)
		return nil
	}
	if err := eng.Start(cmd.Context(), c); err != nil {
		var failed *engine.StageError
		if errors.As(err, &failed) {
			fmt.Fprintln(os.Stderr, "glassbox:", failed.Msg)
			return exitCode(failed.Code)
		}
		return err
	}
	fmt.Println(c.ID)
	return nil
}

// forwardedSignals reach the container once it runs; SIGINT and SIGTERM abort
// the stages before that.
var forwardedSignals = []os.Signal{
	unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH,
}

// catchForwarded starts catching forwardedSignals (internal/signals: that
// takes 0.5 ms) for a command that ends with the container's process.
func catchForwarded() *signals.Catching { return signals.Catch(8, forwardedSignals...) }

// forwardSignals passes the signals glassbox receives to the container's
// process; with a terminal, a window change becomes the terminal's new size
// and a hangup of ours a hangup of its terminal.
func forwardSignals(sigs <-chan os.Signal, r *stages.Run, con *console) {
	for sig := range sigs {
		if sig == unix.SIGWINCH && con != nil {
			con.resize() // the kernel signals the container's foreground group
			continue
		}
		if sig == unix.SIGHUP && con != nil {
			// Our terminal is gone: hang up the container's too, and if its
			// process ignores that (a namespace's init does, without a
			// handler), end it — a foreground process has no one left.
			con.hangUp()
			r.Signal(unix.SIGHUP)
			time.AfterFunc(time.Second, func() { r.Signal(unix.SIGKILL) })
			continue
		}
		r.Signal(sig)
	}
}

// runHooks let the monitor of a detached container (monitor.go) follow a run.
type runHooks struct {
	signals  *signals.Catching                       // begun by the caller (catchForwarded); else runContainer begins it
	started  func(error)                             // the program runs, or the stages failed
	running  func(*stages.Run, *trace.Run, *os.File) // after started(nil), with the terminal's master if any; the monitor may become the shim here
	detached bool                                    // observe the kernel during the stages only
}

// runContainer runs a container in this process (engine.Run) with what a
// person at a terminal sees: a line showing the stage in progress, the
// container's terminal as theirs, their signals passed on, and a failure's
// report under its one-line error.
func runContainer(s *specs.Spec, opts stages.Options, to trace.Options, hooks runHooks) error {
	if hooks.signals == nil {
		hooks.signals = catchForwarded()
	}
	// On a terminal, one line shows the stage in progress; it is erased before
	// the program starts, so its output is untouched.
	live := !to.Off && !trace.OffByEnv() && term.IsTerminal(int(os.Stderr.Fd()))
	if live {
		width, _, err := term.GetSize(int(os.Stderr.Fd()))
		if err != nil || width < 20 {
			width = 80
		}
		opts.Debug.Before = func(st *stages.Stage) {
			if st == stages.Exec {
				// The program may write the moment it is exec'd: the line goes now.
				fmt.Fprint(os.Stderr, "\r\x1b[K")
				return
			}
			// Kept within one row: erasing a wrapped line would leave its start behind.
			line := []rune("▸ " + st.Name + ": " + st.Purpose)
			fmt.Fprintf(os.Stderr, "\r\x1b[K%s", string(line[:min(len(line), width-1)]))
		}
	}
	clearLine := func() {
		if live {
			fmt.Fprint(os.Stderr, "\r\x1b[K")
		}
	}
	if opts.Debug.Paused == nil { // the monitor of a detached run reports pauses itself
		opts.Debug.Paused = func(r *stages.Run, b stages.Breakpoint) {
			clearLine()
			fmt.Fprint(os.Stderr, pausedMessage(r.ID, b.String()))
		}
	}
	con, err := consoleFor(s.Process, &opts)
	if err != nil {
		if hooks.started != nil {
			hooks.started(err)
		}
		return err
	}
	// Signals are caught before anything exists on the host: one that arrives
	// while the state directory is being made aborts the run.
	sigs := hooks.signals.Caught()
	h := engine.RunHooks{Started: hooks.started, Detached: hooks.detached,
		Created: func(r *stages.Run) { go forwardSignals(sigs, r, con) }}
	if con != nil {
		con.interactive, con.output = con.interactive && !hooks.detached, !hooks.detached
		h.Console = con
	}
	if hooks.running != nil {
		h.Running = func(r *stages.Run, tr *trace.Run) {
			var master *os.File
			if con != nil {
				master = con.master
			}
			hooks.running(r, tr, master)
		}
	}
	out, err := (&engine.Engine{Root: opts.Root}).Run(s, opts, to, h)
	if err != nil {
		clearLine()                   // a stage before exec failed with its line showing
		if live && out.Report != "" { // at a terminal: the one-line error, then the report under it
			fmt.Fprintln(os.Stderr, "glassbox:", err)
			fmt.Fprint(os.Stderr, out.Report)
			return exitCode(exitCodeOf(err))
		}
		return err
	}
	for _, w := range out.Warnings {
		fmt.Fprintln(os.Stderr, "glassbox:", w)
	}
	return exitCode(out.Code)
}

// runImage finds an image for `run`, pulling it when the store lacks it (as
// Docker does), and returns its layers and config.
func runImage(root, ref string, o image.Registry) (*spec.Image, error) {
	eng := &engine.Engine{Root: root}
	img, err := eng.ResolveImage(ref)
	if !errors.Is(err, image.ErrNotFound) {
		return img, err
	}
	fmt.Fprintf(os.Stderr, "glassbox: unable to find image '%s' locally: pulling\n", ref)
	if err := pullMissing(root, ref, o); err != nil {
		return nil, err
	}
	return eng.ResolveImage(ref)
}
