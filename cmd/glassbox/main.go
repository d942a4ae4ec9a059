// Command glassbox is a see-through container runtime: `glassbox run` creates a
// Linux container through explicit stages (see package stages) and shows each one.
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	// The cgroup stage runs here, never in glassbox-init: only this binary
	// links the BPF device program (and cilium/ebpf with it).
	_ "github.com/glassbox-dev/glassbox/cgroupsv2/devicebpf"
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
	"github.com/glassbox-dev/glassbox/internal/atomicfile"
	"github.com/glassbox-dev/glassbox/internal/buildinfo"
	"github.com/glassbox-dev/glassbox/stages"
)

// isInit reports whether this process is a container's init (`glassbox init`,
// started by the unshare stage) rather than a command typed by a person.
func isInit() bool { return len(os.Args) > 1 && os.Args[1] == "init" }

func init() {
	// Package init functions run on the main thread; locking it here, before any
	// other goroutine exists, keeps the init's per-thread kernel state (capabilities,
	// cgroup namespace) on the thread that will execve. See stages.InitMain.
	if isInit() {
		runtime.LockOSThread()
	}
}

func main() {
	if isInit() {
		stages.InitMain()
	}
	os.Exit(run())
}

// exitCode makes glassbox exit with the container's status without an error message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run() int {
	// A command allocates about 3 MB, most of it for its trace's spans: at
	// Go's default (GOGC=100) the first collection starts at 4 MB, just before
	// a traced run ends, and costs it ~1 ms. Twice the room lets a command end
	// first (the daemon, which lives on, goes back to the default). GOGC,
	// when set, is the user's.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	oci := filepath.Base(os.Args[0]) == ociName
	if handOver != nil && !oci && subcommands[commandName(os.Args[1:])] == nil {
		return handOver(os.Args) // glassbox built lean (lean.go): not one of its commands
	}
	var root *cobra.Command
	if oci {
		root = newOCICmd(ociName)
	} else {
		root = newRootCmd(os.Args[1:])
	}
	cmd, err := root.ExecuteC()
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	if err == nil {
		return 0
	}
	// Errors joined from several undo steps come one per line; a failure is one line.
	err = oneLine{err}
	if oci || cmd.Parent() != nil && cmd.Parent().Name() == "oci" {
		fmt.Fprintln(os.Stderr, "glassbox:", err)
		return 1 // as runc, for every error: its callers test for non-zero
	}
	if os.Geteuid() != 0 && errors.Is(err, fs.ErrPermission) {
		fmt.Fprintln(os.Stderr, "glassbox:", err, "— glassbox needs root for namespaces, mounts and cgroups: run it as root (sudo glassbox …)")
	} else {
		fmt.Fprintln(os.Stderr, "glassbox:", err)
	}
	return exitCodeOf(err)
}

// flagError says what exists when a flag does not: the nearest of the
// command's flags, and where the rest are listed.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		best, distance := "", 3
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if d := editDistance(name, f.Name); d < distance {
				best, distance = f.Name, d
			}
		})
		if best != "" {
			return fmt.Errorf("%s: did you mean --%s? (%s --help lists the flags)", msg, best, cmd.CommandPath())
		}
	}
	return fmt.Errorf("%s (%s --help lists the flags)", msg, cmd.CommandPath())
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// oneLine prints an error on one line and is otherwise the error itself.
type oneLine struct{ error }

func (e oneLine) Error() string { return strings.ReplaceAll(e.error.Error(), "\n", "; ") }
func (e oneLine) Unwrap() error { return e.error }

// exitCodeOf is glassbox's exit status for an error. Like Docker: 125 when
// glassbox itself fails, 126/127 when the command cannot be run; 130 when
// interrupted during the stages.
func exitCodeOf(err error) int {
	var se *stages.Error
	if errors.As(err, &se) && se.ExitCode != 0 {
		return se.ExitCode
	}
	return 125
}

// newRootCmd is glassbox's command tree for the command line args. A line
// that names a command (commandName) gets only that command: building all
// fifty, with their flags, was a twentieth of a container run's time (about
// 1 ms, and half a megabyte of allocations). Help, completion, another flag
// first or a name that is no command's build them all, for the listings and
// the "did you mean" suggestions.
func newRootCmd(args []string) *cobra.Command {
	root := &cobra.Command{
		Use:               "glassbox",
		Short:             "A see-through container runtime: every stage of a container's creation, visible",
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: refuseWithoutRoot,
		Version:           buildinfo.Version(),
	}
	root.SetFlagErrorFunc(flagError)
	root.PersistentFlags().String("root", defaultRoot(), "state root (env GLASSBOX_ROOT)")
	if build, ok := subcommands[commandName(args)]; ok {
		root.AddCommand(build())
		return root
	}
	for _, build := range subcommands {
		root.AddCommand(build())
	}
	return root
}

// subcommands build glassbox's commands, by name: here, those that make,
// run and end containers, which both builds have (lean.go); full.go adds
// the others to glassbox-full's.
var subcommands = map[string]func() *cobra.Command{
	"run": newRunCmd, "create": newCreateCmd, "start": newStartCmd, "exec": newExecCmd, "monitor": newMonitorCmd,
	"stop": newStopCmd, "kill": newKillCmd, "wait": newWaitCmd, "logs": newLogsCmd, "attach": newAttachCmd,
	"restart": newRestartCmd, "rm": newRmCmd, "gc": newGCCmd, "continue": newContinueCmd, "abort": newAbortCmd,
	"ps": newPsCmd, "inspect": newInspectCmd, "images": newImagesCmd, "oci": func() *cobra.Command { return newOCICmd("oci") },
	"pause": func() *cobra.Command {
		return newPauseCmd("pause", "Freeze every process of containers (the cgroup freezer)")
	},
	"unpause": func() *cobra.Command { return newPauseCmd("unpause", "Thaw paused containers") },
}

// handOver, in glassbox built lean, runs a command line that is not one of
// its commands in glassbox-full (lean.go).
var handOver func(argv []string) int

// commandName is the command a command line names: its first word after
// the one flag that may come before it, --root; "" if none.
func commandName(args []string) string {
	for len(args) > 0 {
		switch {
		case args[0] == "--root" && len(args) > 1:
			args = args[2:]
		case strings.HasPrefix(args[0], "--root="):
			args = args[1:]
		default:
			return args[0]
		}
	}
	return ""
}

// makesKernelObjects are the commands, of glassbox and of its OCI set, that
// create or remove containers' kernel objects; they refuse to start without
// root rather than fail half-way.
var makesKernelObjects = map[string]bool{
	"run": true, "exec": true, "start": true, "stop": true, "kill": true, "rm": true, "gc": true,
	"debug": true, "continue": true, "abort": true, "demo": true, "monitor": true,
	"create": true, "delete": true, "pause": true, "unpause": true, "cp": true, "export": true,
	"connect": true, "disconnect": true, "prune": true, "attach": true, "restart": true, "commit": true,
}

// refuseWithoutRoot is the command trees' PersistentPreRunE.
func refuseWithoutRoot(cmd *cobra.Command, _ []string) error {
	if os.Geteuid() != 0 && makesKernelObjects[cmd.Name()] {
		return fmt.Errorf("%s needs root: containers are made of namespaces, mounts and cgroups, which only root may create (sudo %s …)", cmd.CommandPath(), cmd.CommandPath())
	}
	return nil
}

func defaultRoot() string {
	if r := os.Getenv("GLASSBOX_ROOT"); r != "" {
		return r
	}
	return container.DefaultRoot
}

// engineOf is the engine of the command's state root.
func engineOf(cmd *cobra.Command) (*engine.Engine, error) { return engine.New(stateRoot(cmd)) }

// containerOf is the engine over the command's state root, and the
// container ref names there.
func containerOf(cmd *cobra.Command, ref string) (*engine.Engine, *container.Container, error) {
	eng, err := engineOf(cmd)
	if err != nil {
		return nil, nil, err
	}
	c, err := eng.Container(ref)
	return eng, c, err
}

func stateRoot(cmd *cobra.Command) string {
	r, _ := cmd.Flags().GetString("root")
	return r
}

// writeOutput writes to the named file (atomically), or to stdout for "".
func writeOutput(path string, write func(io.Writer) error) error {
	if path == "" {
		return write(os.Stdout)
	}
	return atomicfile.Write(path, 0o644, write)
}
