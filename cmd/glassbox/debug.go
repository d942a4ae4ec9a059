package main

// Stage-by-stage debugging: run --break-at/--break-after pause the pipeline
// (stages/control.go); debug looks inside the half-built container; continue
// and abort end the pause.

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/docs"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
)

// pipelineFlags are run's flags that steer the stages rather than shape the
// Spec: breakpoints, hooks, replaced stages. run -d hands them to the monitor
// as they were given.
type pipelineFlags struct {
	breakAt, breakAfter, hooks, replace []string
}

func (p *pipelineFlags) register(f *pflag.FlagSet) {
	f.StringArrayVar(&p.breakAt, "break-at", nil, "pause before this stage (repeatable): look inside with glassbox debug,\nthen glassbox continue or abort")
	f.StringArrayVar(&p.breakAfter, "break-after", nil, "pause after this stage (repeatable)")
	f.StringArrayVar(&p.hooks, "hook", nil, "run a command on the host at a point: STAGE:before=CMD or STAGE:after=CMD\n(repeatable; glassbox explain hooks lists its environment)")
	f.StringArrayVar(&p.replace, "replace-stage", nil, "do a host-side stage yourself: rootfs=CMD or network=CMD")
}

// apply parses the flags into opts.
func (p *pipelineFlags) apply(opts *stages.Options) error {
	for _, name := range p.breakAt {
		b, err := stages.ParseBreakpoint(name, stages.Before)
		if err != nil {
			return fmt.Errorf("--break-at %s: %w", name, err)
		}
		opts.Debug.Breakpoints = append(opts.Debug.Breakpoints, b)
	}
	for _, name := range p.breakAfter {
		b, err := stages.ParseBreakpoint(name, stages.After)
		if err != nil {
			return fmt.Errorf("--break-after %s: %w", name, err)
		}
		opts.Debug.Breakpoints = append(opts.Debug.Breakpoints, b)
	}
	for _, v := range p.hooks {
		h, err := stages.ParseHook(v)
		if err != nil {
			return err
		}
		opts.Debug.Hooks = append(opts.Debug.Hooks, h)
	}
	for _, v := range p.replace {
		stage, command, err := stages.ParseReplace(v)
		if err != nil {
			return err
		}
		if opts.Debug.Replace == nil {
			opts.Debug.Replace = map[string]string{}
		}
		opts.Debug.Replace[stage] = command
	}
	return nil
}

// args gives the flags back, for the monitor's command line.
func (p *pipelineFlags) args() []string {
	var out []string
	for _, f := range []struct {
		name   string
		values []string
	}{{"--break-at", p.breakAt}, {"--break-after", p.breakAfter}, {"--hook", p.hooks}, {"--replace-stage", p.replace}} {
		for _, v := range f.values {
			out = append(out, f.name, v)
		}
	}
	return out
}

// pausedMessage says where a run stopped and what to do next.
func pausedMessage(id, where string) string {
	id = container.ShortID(id)
	return fmt.Sprintf("glassbox: paused %s stage (container %s)\n"+
		"  look inside:  glassbox debug %s\n"+
		"  go on:        glassbox continue %s\n"+
		"  give up:      glassbox abort %s\n", where, id, id, id, id)
}

func newContinueCmd() *cobra.Command {
	return controlCmd("continue", "Resume a run paused at a breakpoint")
}
func newAbortCmd() *cobra.Command {
	return controlCmd("abort", "End a run paused at a breakpoint, undoing what its stages made")
}

func controlCmd(command, short string) *cobra.Command {
	return &cobra.Command{
		Use:   command + " CONTAINER",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := container.Find(stateRoot(cmd), args[0])
			if err != nil {
				return err
			}
			outcome, err := stages.Control(c.Dir, command)
			if err != nil {
				return fmt.Errorf("%s %s: %w", command, args[0], err)
			}
			fmt.Println(outcome) // paused after …, running, aborted
			return nil
		},
	}
}

func newDebugCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "debug CONTAINER [CMD [ARG...]]",
		Short: "Open a shell (or run CMD) in the namespaces and cgroup a paused or running container has now",
		Long: `debug joins what a container has at this moment. Paused at a breakpoint
before the unshare stage, there is nothing to join yet: the shell runs on the
host, in the state directory. From then on it joins the init's namespaces and
cgroup; before the mount stage's pivot_root, the mount namespace is a copy of
the host's, so the shell sees the host's files and the container's root-to-be
at <state dir>/rootfs. The shell runs as root with the container's capabilities.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := container.Find(stateRoot(cmd), args[0])
			if err != nil {
				return err
			}
			where := c.Breakpoint
			if where == "" {
				if c.Status != container.Running {
					return fmt.Errorf("container %s is neither paused at a breakpoint nor running", args[0])
				}
				where = "running"
			}
			command := commandAfter(args)
			interactive := len(command) == 0
			tty := interactive && term.IsTerminal(int(os.Stdin.Fd()))
			if interactive {
				command = []string{"/bin/sh"}
			}
			return debugIn(c, where, command, interactive, tty, true, stateRoot(cmd))
		},
	}
	cmd.Flags().SetInterspersed(false) // flags after CONTAINER belong to CMD
	return cmd
}

// pivoted says whether the mount stage's pivot_root has run at where
// ("before mount", "after network", …, or "running").
func pivoted(where string) bool {
	when, stage, _ := strings.Cut(where, " ")
	i := slices.Index(stages.Pipeline, stages.ByName(stage))
	mount := slices.Index(stages.Pipeline, stages.Mount)
	return where == "running" || i > mount || (i == mount && when == string(stages.After))
}

// debugBanner explains what exists at this point and whose files the shell sees.
func debugBanner(c *container.Container, where string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "glassbox debug: container %s, %s\n", container.ShortID(c.ID), where)
	if !c.Alive() {
		fmt.Fprintf(&b, "  no namespaces yet: the init is cloned in the unshare stage. This shell runs on\n"+
			"  the host, in the state directory %s.\n", c.Dir)
	} else {
		var fresh []string
		for _, ns := range []string{"pid", "mnt", "uts", "ipc", "net", "cgroup"} {
			self, _ := os.Readlink("/proc/self/ns/" + ns)
			theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", c.Pid, ns))
			if theirs != "" && theirs != self {
				fresh = append(fresh, theirs)
			}
		}
		fmt.Fprintf(&b, "  namespaces (this shell joins them): %s\n", strings.Join(fresh, " "))
		if pivoted(where) {
			b.WriteString("  files: the container's own root (pivot_root has run)\n")
		} else {
			fmt.Fprintf(&b, "  files: the host's, as copied into the new mount namespace — pivot_root has not\n"+
				"  run yet, and /proc is still the host's; the container's root-to-be is\n  %s\n", c.Dir+"/rootfs")
		}
		if len(c.Cgroups) > 0 {
			fmt.Fprintf(&b, "  cgroup: %s\n", c.Cgroups[len(c.Cgroups)-1])
		}
		if c.IP != "" {
			fmt.Fprintf(&b, "  network: eth0 %s\n", c.IP)
		}
	}
	if c.Breakpoint != "" {
		fmt.Fprintf(&b, "  when done: glassbox continue %s (or abort)\n", container.ShortID(c.ID))
	}
	return b.String()
}

// debugSpec is a root process with the container's capabilities, joining
// every namespace the container's init has.
func debugSpec(c *container.Container, command []string, where string, tty bool) *specs.Spec {
	p := *c.Spec.Process
	p.Args, p.Terminal, p.Cwd = command, tty, "/"
	p.User = specs.User{}
	p.NoNewPrivileges = false
	p.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"PS1=[debug " + container.ShortID(c.ID) + " " + where + "] # ", "TERM=" + os.Getenv("TERM")}
	s := stages.JoinSpec(c, &p)
	s.Annotations = maps.Clone(s.Annotations)
	delete(s.Annotations, spec.UserAnnotation) // root, not the container's -u
	return s
}

// debugIn runs command (a shell, when interactive) in what container c has
// at point where, after a banner saying what that is.
//
// traced makes it a "glassbox exec" trace; not from within a run, whose own
// kernel observer is subscribed under this same pid.
func debugIn(c *container.Container, where string, command []string, interactive, tty, traced bool, root string) error {
	fmt.Fprint(os.Stderr, debugBanner(c, where))
	if !c.Alive() {
		return hostShell(c, where, command)
	}
	return joinAndWait(c, debugSpec(c, command, where, tty), root, interactive, traced)
}

// hostShell runs command on the host, in the state directory: before the
// unshare stage there is no container process to join.
func hostShell(c *container.Container, where string, command []string) error {
	sh := exec.Command(command[0], command[1:]...)
	sh.Dir = c.Dir
	sh.Env = append(os.Environ(), "PS1=[debug "+container.ShortID(c.ID)+" "+where+", on the host] # ")
	sh.Stdin, sh.Stdout, sh.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := sh.Run(); err != nil {
		if code := sh.ProcessState.ExitCode(); code > 0 {
			return exitCode(code)
		}
		return err
	}
	return nil
}

func newExplainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "explain [STAGE|hooks|daemon]",
		Short: "Show a stage's page: what the kernel does there, how to see it, what fails",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			topics := []string{}
			for _, st := range stages.Pipeline {
				topics = append(topics, st.Name)
			}
			topics = append(topics, "hooks", "daemon")
			if len(args) == 0 {
				fmt.Println("glassbox explain TOPIC, where TOPIC is one of:", strings.Join(topics, ", "))
				return nil
			}
			if args[0] == "daemon" {
				_, err := os.Stdout.Write(docs.Daemon)
				return err
			}
			page, err := docs.Stages.ReadFile("stages/" + args[0] + ".md")
			if err != nil || !slices.Contains(topics, args[0]) {
				return fmt.Errorf("no page for %q; the topics are %s", args[0], strings.Join(topics, ", "))
			}
			_, err = os.Stdout.Write(page)
			return err
		},
	}
}

// stepper is run --step: before each stage it shows the stage's plan and asks
// what to do. Keys: Enter runs the stage, s opens a debug shell at this point,
// c runs the rest without asking, q aborts (and undoes everything).
func stepper(root string) func(*stages.Run, *stages.Stage) error {
	auto := false
	return func(r *stages.Run, st *stages.Stage) error {
		if auto {
			return nil
		}
		n := slices.Index(stages.Pipeline, st) + 1
		fmt.Fprintf(os.Stderr, "\r\x1b[K\n▸ stage %d/%d %s: %s\n", n, len(stages.Pipeline), st.Name, st.Purpose)
		for _, line := range r.Plan(st) {
			fmt.Fprintf(os.Stderr, "    %s\n", line)
		}
		for {
			fmt.Fprint(os.Stderr, "  [Enter] run it · s: shell here · c: run the rest · q: abort > ")
			key, err := readKey()
			fmt.Fprintln(os.Stderr)
			switch {
			case err != nil || key == 'q' || key == 3 || key == 4: // q, Ctrl-C, Ctrl-D
				return stages.ErrAborted
			case key == 's':
				err := debugIn(r.Container, "before "+st.Name, []string{"/bin/sh"}, true, term.IsTerminal(int(os.Stdin.Fd())), false, root)
				if err != nil {
					if _, exited := err.(exitCode); !exited {
						fmt.Fprintln(os.Stderr, "glassbox: debug shell:", err)
					}
				}
			case key == 'c':
				auto = true
				return nil
			case key == '\r' || key == '\n':
				return nil
			}
		}
	}
}

// readKey reads one key from the terminal (raw mode: no Enter needed), or
// the first character of a line when there is no terminal.
func readKey() (byte, error) {
	tty, err := os.Open("/dev/tty")
	if err == nil && term.IsTerminal(int(tty.Fd())) {
		defer tty.Close()
		if state, err := term.MakeRaw(int(tty.Fd())); err == nil {
			defer term.Restore(int(tty.Fd()), state)
		}
		var b [1]byte
		_, err := tty.Read(b[:])
		return b[0], err
	}
	if tty != nil {
		tty.Close()
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if line == "" {
		return 0, err
	}
	return line[0], nil
}
