package main

// glassbox as an OCI runtime, for callers that drive runc: podman's conmon,
// containerd's shim. They speak runc's command line and the runtime-spec's
// lifecycle (runtime.md):
//
//	create ID   the stages up to just before execve: namespaces, cgroup,
//	            mounts, pivot_root done; the init waits on <state>/exec.fifo.
//	            glassbox exits, so the init is re-parented to the caller
//	            (a child subreaper), which is who waits for it.
//	start ID    opens the FIFO for reading: the init's blocked open(O_WRONLY)
//	            returns, it writes one byte, and execve(2)s the program.
//	state ID    the spec's state JSON: creating, created, running, stopped.
//	kill ID SIG kill(2) on the init.
//	delete ID   the stages' undo, from the record: cgroups, mounts, state.
//
// The same commands are `glassbox oci …` and, when the binary is invoked as
// glassbox-runc (a symlink `make build` makes), its top level — so the
// Docker-style `run`, `kill`, `ps` keep their meaning and runc's keep theirs.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
	"github.com/glassbox-dev/glassbox/internal/buildinfo"
	"github.com/glassbox-dev/glassbox/mountns"
	"github.com/glassbox-dev/glassbox/seccomp"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
	"github.com/glassbox-dev/glassbox/trace"
)

// ociName is the name under which glassbox behaves as runc does.
const ociName = "glassbox-runc"

// ociLog is where errors go besides stderr: callers (containerd) read the
// --log file, as JSON lines with --log-format json.
type ociLog struct {
	path, format string
}

func (l ociLog) error(err error) {
	if l.path == "" {
		return
	}
	f, ferr := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if ferr != nil {
		return
	}
	defer f.Close()
	if l.format == "json" {
		json.NewEncoder(f).Encode(map[string]string{"level": "error", "msg": err.Error(), "time": time.Now().Format(time.RFC3339Nano)})
		return
	}
	fmt.Fprintf(f, "%s error: %v\n", time.Now().Format(time.RFC3339), err)
}

// newOCICmd is runc's command set. use is "oci" under glassbox, or
// glassbox-runc as a top level of its own.
func newOCICmd(use string) *cobra.Command {
	var log ociLog
	var systemdCgroup, debug bool
	cmd := &cobra.Command{
		Use:           use,
		Short:         "The OCI runtime command set (runc's): create, start, state, kill, delete, run, exec, ps, update, pause, resume, spec, features",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `glassbox as an OCI runtime, for podman --runtime, containerd's shim or any
caller that drives runc. Invoked as glassbox-runc, these are its top-level
commands; as glassbox, they are "glassbox oci …". See docs/oci.md.`,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		// Printed as "<use> version …" (cobra's own words, not a template:
		// see lean.go on templates).
		Version: buildinfo.Version() + "\nspec: " + specs.Version + "\ngo: " + runtime.Version(),
	}
	f := cmd.PersistentFlags()
	f.String("root", container.OCIRoot, "state root for the containers")
	f.StringVar(&log.path, "log", "", "also write errors to this file")
	f.StringVar(&log.format, "log-format", "text", "text or json (for --log)")
	f.BoolVar(&systemdCgroup, "systemd-cgroup", false, `accepted; linux.cgroupsPath "slice:prefix:name" then names the cgroupfs directory slice/prefix-name.scope (glassbox writes cgroupfs itself, never through systemd)`)
	f.BoolVar(&debug, "debug", false, "accepted; every run is traced anyway (glassbox trace ls)")
	cmd.PersistentPreRunE = refuseWithoutRoot
	cmd.AddCommand((&ociCreate{systemdCgroup: &systemdCgroup}).command("create"), (&ociCreate{systemdCgroup: &systemdCgroup}).command("run"),
		&cobra.Command{Use: "start ID", Short: "Let a created container execve its program", Args: cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, args []string) error { return ociStart(stateRoot(c), args[0]) }},
		&cobra.Command{Use: "state ID", Short: "Print the container's state (runtime-spec JSON)", Args: cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, args []string) error { return ociState(stateRoot(c), args[0]) }},
		newOCIKillCmd(), newOCIDeleteCmd(), newOCIListCmd(), newOCIExecCmd(), newOCIPsCmd(), newOCIUpdateCmd(), newOCISpecCmd(), newOCIFeaturesCmd(),
		newOCIFreezeCmd("pause", specs.StateRunning, "Freeze every process of the container (its cgroup's freezer)"),
		newOCIFreezeCmd("resume", statePaused, "Thaw a paused container"))
	// Every command's error also goes to --log, for callers that read it there.
	for _, sub := range cmd.Commands() {
		run := sub.RunE
		sub.RunE = func(c *cobra.Command, args []string) error {
			err := run(c, args)
			var code exitCode
			if err != nil && !errors.As(err, &code) {
				log.error(err)
			}
			return err
		}
	}
	return cmd
}

// ociIDPattern is what runc accepts as a container id.
var ociIDPattern = regexp.MustCompile(`^[\w+\-.]+$`)

// ociContainer finds an OCI container by its caller's id (kept as the name).
func ociContainer(root, id string) (*container.Container, error) {
	all, err := container.List(root)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.OCI && c.Name == id {
			return c, nil
		}
	}
	return nil, fmt.Errorf("container %q %w", id, errNoContainer)
}

// errNoContainer: no container of the state root has the id.
var errNoContainer = errors.New("does not exist")

// ociStatus is the runtime-spec status of a record.
func ociStatus(c *container.Container) specs.ContainerState {
	switch {
	case c.Status == container.Creating:
		return specs.StateCreating
	case c.Status == container.Created && c.Alive():
		return specs.StateCreated
	case c.Status == container.Running && c.Alive():
		if (&cgroupsv2.Cgroup{Dirs: c.Cgroups}).Frozen() {
			return statePaused
		}
		return specs.StateRunning
	}
	return specs.StateStopped
}

// statePaused is runc's word for a frozen container; the runtime-spec's
// states do not name it.
const statePaused specs.ContainerState = "paused"

// newOCIFreezeCmd is pause (freeze every process of the container's cgroup:
// cgroup.freeze on v2, freezer.state on v1) or resume (thaw them).
func newOCIFreezeCmd(use string, from specs.ContainerState, short string) *cobra.Command {
	return &cobra.Command{
		Use: use + " ID", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ct, err := ociContainer(stateRoot(c), args[0])
			if err != nil {
				return err
			}
			if st := ociStatus(ct); st != from {
				return fmt.Errorf("cannot %s container %q: it is %s", use, args[0], st)
			}
			cg := &cgroupsv2.Cgroup{Dirs: ct.Cgroups}
			if use == "pause" {
				return cg.Freeze()
			}
			return cg.Thaw()
		},
	}
}

type ociCreate struct {
	bundle, pidFile, consoleSocket string
	noPivot, noNewKeyring, detach  bool
	preserveFds                    int
	systemdCgroup                  *bool
}

func (o *ociCreate) command(use string) *cobra.Command {
	short := "Create a container from a bundle, up to just before its program runs (start runs it)"
	if use == "run" {
		short = "create and start a container; without --detach, wait for it and delete it, exiting with its status"
	}
	cmd := &cobra.Command{
		Use: use + " [--bundle DIR] [--pid-file F] [--console-socket S] ID", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return o.run(stateRoot(c), args[0], use == "run") },
	}
	f := cmd.Flags()
	f.StringVarP(&o.bundle, "bundle", "b", ".", "the bundle directory (config.json and rootfs)")
	f.StringVar(&o.pidFile, "pid-file", "", "write the container's init pid to this file")
	f.StringVar(&o.consoleSocket, "console-socket", "", "with process.terminal: send the pty master over this unix socket (SCM_RIGHTS)")
	f.BoolVar(&o.noPivot, "no-pivot", false, "refused: glassbox always uses pivot_root")
	f.BoolVar(&o.noNewKeyring, "no-new-keyring", false, "accepted: glassbox makes no session keyring anyway")
	f.IntVar(&o.preserveFds, "preserve-fds", 0, "refused unless 0: no descriptors beyond stdio are passed yet")
	if use == "run" {
		f.BoolVarP(&o.detach, "detach", "d", false, "return once the program runs")
	}
	return cmd
}

func (o *ociCreate) run(root, id string, andStart bool) error {
	switch {
	case !ociIDPattern.MatchString(id):
		return fmt.Errorf("invalid container id %q: use letters, digits, _ + - .", id)
	case o.noPivot:
		return errors.New("--no-pivot: glassbox always uses pivot_root (see glassbox explain mount)")
	case o.preserveFds != 0:
		return errors.New("--preserve-fds: not supported by glassbox yet")
	}
	if _, err := ociContainer(root, id); err == nil {
		return fmt.Errorf("container %q already exists", id)
	}
	bundle, err := filepath.Abs(o.bundle)
	if err != nil {
		return err
	}
	s, err := spec.LoadBundle(bundle)
	if err != nil {
		return err
	}
	if *o.systemdCgroup {
		s.Linux.CgroupsPath = systemdCgroupPath(s.Linux.CgroupsPath)
	}
	opts := stages.Options{Root: root, ID: container.NewID(), Name: id, Bundle: bundle, IO: stages.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr},
		OCI: stages.OCI{Caller: true, Detached: true, RootfsInPlace: true}}
	if s.Process.Terminal {
		if o.consoleSocket == "" {
			return errors.New("process.terminal needs --console-socket: the pty master is sent there")
		}
		conn, err := dialConsole(o.consoleSocket)
		if err != nil {
			return err
		}
		defer conn.Close()
		opts.IO.Console = conn
	}
	eng := &engine.Engine{Root: root}
	created := func(r *stages.Run) error {
		if o.pidFile == "" {
			return nil
		}
		return writePidFile(o.pidFile, r.Pid)
	}
	if !andStart {
		r, err := eng.CreateOCI(s, opts)
		if err == nil {
			err = created(r)
		}
		return err
	}
	r, warning, err := eng.RunOCI(s, opts, created)
	if warning != nil {
		fmt.Fprintln(os.Stderr, "glassbox: warning:", warning) // the program runs: the spec says warn
	}
	if err != nil {
		return err
	}
	if o.detach {
		return nil
	}
	// glassbox run cloned the init: it is this process's child.
	code, err := eng.WaitOCI(r)
	if err != nil {
		return err
	}
	return exitCode(code)
}

// systemdCgroupPath turns systemd's "slice:prefix:name" into the cgroupfs
// path systemd would use (slice/prefix-name.scope); other paths stay.
func systemdCgroupPath(p string) string {
	parts := strings.Split(p, ":")
	if len(parts) != 3 {
		return p
	}
	return "/" + filepath.Join(parts[0], parts[1]+"-"+parts[2]+".scope")
}

// dialConsole connects to the caller's --console-socket. The connection goes
// to the init, which makes the pseudo-terminal inside the container and sends
// its master there (SCM_RIGHTS, as runc does; stages/console.go).
func dialConsole(socket string) (*os.File, error) {
	conn, err := net.Dial("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("--console-socket: %w", err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("--console-socket: %w", err)
	}
	return f, nil
}

// writePidFile writes --pid-file at once (a caller may be polling for it).
func writePidFile(path string, pid int) error {
	return writeOutput(path, func(w io.Writer) error {
		_, err := fmt.Fprint(w, pid)
		return err
	})
}

// ociStart lets a created container's init go on to its program.
func ociStart(root, id string) error {
	c, err := ociContainer(root, id)
	if err != nil {
		return err
	}
	if st := ociStatus(c); st != specs.StateCreated {
		return fmt.Errorf("cannot start container %q: it is %s, not created", id, st)
	}
	warning, err := (&engine.Engine{Root: root}).StartOCI(c)
	if warning != nil {
		fmt.Fprintln(os.Stderr, "glassbox: warning:", warning) // the program runs: the spec says warn
	}
	return err
}

func ociState(root, id string) error {
	c, err := ociContainer(root, id)
	if err != nil {
		return err
	}
	return printJSON(ociStateOf(c))
}

// ociContainerState is runc's state JSON: the runtime-spec's state and
// runc's extra fields, which callers read too.
type ociContainerState struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

func ociStateOf(c *container.Container) ociContainerState {
	st := specs.State{Version: specs.Version, ID: c.Name, Status: ociStatus(c), Bundle: c.Bundle, Annotations: c.Spec.Annotations}
	if st.Status != specs.StateStopped && st.Status != specs.StateCreating {
		st.Pid = c.Pid // created, running or paused: the init lives
	}
	return ociContainerState{st, c.Spec.Root.Path, c.Created, "root"}
}

// newOCIListCmd: runc list — a table, the ids alone (-q), or JSON.
func newOCIListCmd() *cobra.Command {
	var quiet bool
	var format string
	cmd := &cobra.Command{
		Use: "list [-q] [--format table|json]", Short: "List the containers of the state root", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			all, err := container.List(stateRoot(c))
			if err != nil {
				return err
			}
			states := []ociContainerState{}
			for _, ct := range all {
				if ct.OCI {
					states = append(states, ociStateOf(ct))
				}
			}
			switch {
			case quiet:
				for _, st := range states {
					fmt.Println(st.ID)
				}
			case format == "json":
				return printJSON(states)
			case format == "table":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
				for _, st := range states {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", st.ID, st.Pid, st.Status, st.Bundle, st.Created.Format(time.RFC3339Nano), st.Owner)
				}
				return w.Flush()
			default:
				return fmt.Errorf("--format %q: table or json", format)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "the ids alone")
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	return cmd
}

func newOCIExecCmd() *cobra.Command {
	var processFile, pidFile, consoleSocket, cwd, user string
	var env []string
	var detach, tty bool
	cmd := &cobra.Command{
		Use:   "exec [--process FILE | CMD ARGS…] [--detach] [--pid-file F] [--console-socket S] ID",
		Short: "Run another process in a running container (setns into its namespaces and cgroup)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ct, err := ociContainer(stateRoot(c), args[0])
			if err != nil {
				return err
			}
			if st := ociStatus(ct); st != specs.StateRunning {
				return fmt.Errorf("cannot exec in container %q: it is %s", args[0], st)
			}
			var s *specs.Spec
			if processFile != "" {
				var p specs.Process
				data, err := os.ReadFile(processFile)
				if err == nil {
					err = json.Unmarshal(data, &p)
				}
				if err != nil {
					return fmt.Errorf("--process %s: %w", processFile, err)
				}
				if len(p.Args) == 0 || !filepath.IsAbs(p.Cwd) {
					return fmt.Errorf("--process %s: args must not be empty and cwd must be absolute", processFile)
				}
				s = stages.JoinSpec(ct, &p)
			} else if s, err = spec.ForExec(stages.JoinSpec(ct, ct.Spec.Process), args[1:], env, cwd, user, tty); err != nil {
				return err
			}
			root := stateRoot(c)
			opts := stages.Options{Root: root, ID: ct.ID, IO: stages.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, OCI: stages.OCI{Detached: detach}}
			if s.Process.Terminal {
				if consoleSocket == "" {
					return errors.New("a terminal needs --console-socket: the pty master is sent there")
				}
				conn, err := dialConsole(consoleSocket)
				if err != nil {
					return err
				}
				defer conn.Close()
				opts.IO.Console = conn
			}
			tr := trace.Container(trace.Options{Command: "exec"}, ct, s, root)
			if tr != nil {
				opts.After = tr.Stage
			}
			r, err := stages.Join(ct, s, opts)
			if err == nil && pidFile != "" {
				err = writePidFile(pidFile, r.Pid)
			}
			if err != nil || detach { // detached, the process is the caller's now (a child subreaper's)
				tr.EndLifecycle(err)
				return err
			}
			code := r.Wait()
			tr.Exited(code)
			tr.End(nil, nil, code)
			return exitCode(code)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // flags after ID belong to the command
	f.StringVarP(&processFile, "process", "p", "", "the process as runtime-spec JSON (config.json's process)")
	f.BoolVarP(&detach, "detach", "d", false, "return once it runs; the caller waits for it")
	f.StringVar(&pidFile, "pid-file", "", "write its pid to this file")
	f.StringVar(&consoleSocket, "console-socket", "", "with a terminal: send the pty master over this unix socket")
	f.BoolVarP(&tty, "tty", "t", false, "a terminal (needs --console-socket)")
	f.StringVar(&cwd, "cwd", "", "working directory")
	f.StringArrayVarP(&env, "env", "e", nil, "NAME=VALUE")
	f.StringVarP(&user, "user", "u", "", "uid[:gid]")
	return cmd
}

func newOCIKillCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use: "kill ID [SIGNAL]", Short: "Send a signal to the container's init (default SIGTERM)", Args: cobra.RangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			sig := unix.SIGTERM
			if len(args) == 2 {
				var err error
				if sig, err = spec.ParseSignal(args[1]); err != nil {
					return err
				}
			}
			ct, err := ociContainer(stateRoot(c), args[0])
			if err != nil {
				return err
			}
			if st := ociStatus(ct); st != specs.StateCreated && st != specs.StateRunning && st != statePaused {
				// runc's words, which containerd's shim looks for: it then
				// knows the process is gone, and goes on.
				return fmt.Errorf("cannot kill container %q: container not running (it is %s)", args[0], st)
			}
			if all {
				return engine.SignalCgroup(ct, sig)
			}
			if err := unix.Kill(ct.Pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("kill(%d, %s): %w", ct.Pid, unix.SignalName(sig), err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "signal every process in the container's cgroup")
	return cmd
}

// updateFlags are runc update's flags: the linux.resources field each sets.
var updateFlags = []struct{ flag, group, field, usage string }{
	{"memory", "memory", "limit", "memory limit in bytes (k, m, g suffixes; -1 for none)"},
	{"memory-swap", "memory", "swap", "memory and swap together, in bytes (-1 for no swap limit)"},
	{"cpu-quota", "cpu", "quota", "CPU time per period, in µs (-1 for none)"},
	{"cpu-period", "cpu", "period", "CPU period, in µs"},
	{"cpu-share", "cpu", "shares", "CPU shares (relative weight)"},
	{"cpuset-cpus", "cpu", "cpus", "CPUs the container may use (0-3, 0,1)"},
	{"cpuset-mems", "cpu", "mems", "memory nodes the container may use"},
	{"pids-limit", "pids", "limit", "maximum number of tasks (-1 for none)"},
}

// newOCIUpdateCmd changes a live container's limits: the same control-file
// writes as the cgroup stage, from linux.resources JSON (--resources FILE,
// or - for stdin, as containerd's shim sends it) and runc's flags on top.
func newOCIUpdateCmd() *cobra.Command {
	var resources string
	cmd := &cobra.Command{
		Use: "update [--resources FILE|-] [--memory N] [--cpu-quota N] [--pids-limit N] … ID", Short: "Change a running container's cgroup limits", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ct, err := ociContainer(stateRoot(c), args[0])
			if err != nil {
				return err
			}
			if st := ociStatus(ct); st != specs.StateCreated && st != specs.StateRunning && st != statePaused {
				return fmt.Errorf("cannot update container %q: it is %s", args[0], st)
			}
			r := &specs.LinuxResources{}
			if resources != "" {
				in := os.Stdin
				if resources != "-" {
					if in, err = os.Open(resources); err != nil {
						return fmt.Errorf("--resources: %w", err)
					}
					defer in.Close()
				}
				if err := json.NewDecoder(in).Decode(r); err != nil {
					return fmt.Errorf("--resources %s: linux.resources JSON: %w", resources, err)
				}
			}
			flags := map[string]map[string]any{}
			for _, u := range updateFlags {
				if !c.Flags().Changed(u.flag) {
					continue
				}
				text := c.Flags().Lookup(u.flag).Value.String()
				var v any = text
				switch {
				case u.group == "memory":
					v, err = parseLimit(text)
				case u.field != "cpus" && u.field != "mems":
					v, err = strconv.ParseInt(text, 10, 64)
				}
				if err != nil {
					return fmt.Errorf("--%s %q: %w", u.flag, text, err)
				}
				if flags[u.group] == nil {
					flags[u.group] = map[string]any{}
				}
				flags[u.group][u.field] = v
			}
			if err := overlayResources(r, flags); err != nil {
				return fmt.Errorf("update flags: %w", err)
			}
			if len(r.Devices) > 0 {
				return errors.New("linux.resources.devices: device rules are set at create, not updated")
			}
			if err := spec.ValidateResources(r); err != nil {
				return err
			}
			cg, err := cgroupsv2.Reopen(ct.Cgroups)
			if err != nil {
				return err
			}
			mode, err := cgroupsv2.Detect()
			if err != nil {
				return err
			}
			settings, err := cgroupsv2.Settings(r, mode != cgroupsv2.Unified)
			if err != nil {
				return err
			}
			if _, err := cg.Apply(settings); err != nil {
				return err
			}
			// The record keeps the limits in force: what the update set, over what was.
			merged := &specs.LinuxResources{}
			if old := ct.Spec.Linux.Resources; old != nil {
				*merged = *old
			}
			if err := overlayResources(merged, r); err != nil {
				return err
			}
			ct.Spec.Linux.Resources = merged
			return ct.Save()
		},
	}
	cmd.Flags().StringVarP(&resources, "resources", "r", "", "linux.resources JSON from this file, or - for stdin")
	for _, u := range updateFlags {
		cmd.Flags().String(u.flag, "", u.usage)
	}
	return cmd
}

// overlayResources sets in r every field the JSON form of from has: decoding
// into a struct that already holds values replaces only the fields present.
func overlayResources(r *specs.LinuxResources, from any) error {
	data, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, r)
}

// parseLimit reads a size (k, m, g suffixes), or -1 for no limit.
func parseLimit(v string) (int64, error) {
	if v == "-1" {
		return -1, nil
	}
	return spec.ParseSize(v)
}

// newOCIPsCmd lists the processes in the container's cgroup: their host pids
// as a JSON array (what containerd's shim reads for ctr task ps), or ps(1)'s
// table cut down to them.
func newOCIPsCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "ps [--format table|json] ID [PS OPTIONS…]", Short: "List the container's processes (cgroup.procs)", Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ct, err := ociContainer(stateRoot(c), args[0])
			if err != nil {
				return err
			}
			pids, err := (&cgroupsv2.Cgroup{Dirs: ct.Cgroups}).Procs()
			if err != nil {
				return fmt.Errorf("read cgroup.procs of %s: %w", args[0], err)
			}
			slices.Sort(pids)
			switch format {
			case "json":
				return json.NewEncoder(os.Stdout).Encode(append([]int{}, pids...))
			case "table":
				return psTable(pids, args[1:])
			}
			return fmt.Errorf("--format %q: table or json", format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().SetInterspersed(false) // what follows ID is for ps(1), as with runc
	return cmd
}

// psTable runs ps(1) (with -ef unless given options) and keeps its header
// and the rows of the given pids.
func psTable(pids []int, options []string) error {
	if len(options) == 0 {
		options = []string{"-ef"}
	}
	out, err := exec.Command("ps", options...).Output()
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(options, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	column := slices.Index(strings.Fields(lines[0]), "PID")
	if column < 0 {
		return fmt.Errorf("ps %s: no PID column in its output", strings.Join(options, " "))
	}
	fmt.Println(lines[0])
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) > column {
			if pid, err := strconv.Atoi(fields[column]); err == nil && slices.Contains(pids, pid) {
				fmt.Println(line)
			}
		}
	}
	return nil
}

func newOCIDeleteCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use: "delete [--force] ID", Short: "Tear down a stopped (or, with --force, any) container: cgroups, mounts, state", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ct, err := ociContainer(stateRoot(c), args[0])
			if errors.Is(err, errNoContainer) && force {
				return nil // as runc: --force of what is gone is done
			}
			if err != nil {
				return err
			}
			switch st := ociStatus(ct); {
			case (st == specs.StateRunning || st == statePaused) && !force:
				return fmt.Errorf("cannot delete container %q: it is %s (stop it, or delete --force)", args[0], st)
			case st == specs.StateCreated || st == specs.StateRunning || st == statePaused:
				// A created container is deleted as runc does: its init dies.
				unix.Kill(ct.Pid, unix.SIGKILL)
				if st == statePaused {
					(&cgroupsv2.Cgroup{Dirs: ct.Cgroups}).Thaw() // a v1-frozen task dies only once thawed
				}
				if !engine.InitExited(ct, 10*time.Second) {
					return fmt.Errorf("container %q: its init (pid %d) outlived SIGKILL by 10 s", args[0], ct.Pid)
				}
			}
			err = ociTeardown(ct)
			if force && errors.Is(err, container.ErrGone) {
				return nil // another delete finished it: done, as for one gone before
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill it first if it is running")
	return cmd
}

// ociTeardown undoes the stages from the record, runs the poststop hooks and
// removes the state directory.
func ociTeardown(c *container.Container) error {
	if err := c.Lock(); err != nil {
		return fmt.Errorf("container %q is busy (another delete?): %w", c.Name, err)
	}
	return stages.Resume(c, stages.Options{Remove: true, IO: stages.IO{Stderr: os.Stderr}}, 0).Teardown()
}

func newOCISpecCmd() *cobra.Command {
	var bundle string
	cmd := &cobra.Command{
		Use: "spec [--bundle DIR]", Short: "Write a default config.json into the bundle directory, as runc spec does", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path := filepath.Join(bundle, "config.json")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s exists: remove it first", path)
			}
			data, err := json.MarshalIndent(spec.Default(), "", "  ")
			if err != nil {
				return err
			}
			return os.WriteFile(path, append(data, '\n'), 0o644)
		},
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", ".", "the bundle directory")
	return cmd
}

// newOCIFeaturesCmd prints what glassbox supports, in the runtime-spec's
// features.md format, so callers can check before they create.
func newOCIFeaturesCmd() *cobra.Command {
	return &cobra.Command{
		Use: "features", Short: "Print what this runtime supports (runtime-spec features.md JSON)", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			yes, no := true, false
			actions, operators, flags, archs := seccomp.Features()
			return printJSON(features.Features{
				OCIVersionMin: "1.0.0",
				OCIVersionMax: specs.Version,
				Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
				MountOptions:  mountns.OptionNames(),
				Linux: &features.Linux{
					Namespaces:   []string{"pid", "network", "mount", "uts", "ipc", "cgroup", "user"},
					Capabilities: spec.CapabilityNames(),
					Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no},
					Seccomp: &features.Seccomp{Enabled: &yes, Actions: actions, Operators: operators, Archs: archs,
						KnownFlags: flags, SupportedFlags: flags},
					Apparmor: &features.Apparmor{Enabled: &no},
					Selinux:  &features.Selinux{Enabled: &no},
				},
				Annotations: map[string]string{"org.glassbox.runtime": "glassbox"},
			})
		},
	}
}
