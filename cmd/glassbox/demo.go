//go:build !lean

package main

// glassbox demo: the classic container talk (images → run → ps -a) as a
// narrated sequence of real commands, each traced, for a presenter. Every
// step prints what it shows, the command, its output and, for a run, its
// waterfall, then waits for Enter (--no-pause runs straight through).

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/glassbox-dev/glassbox/image"
)

type demoStep struct {
	say  string   // the narration
	args []string // a glassbox command line
}

func newDemoCmd() *cobra.Command {
	var noPause bool
	cmd := &cobra.Command{
		Use:   "demo [--no-pause]",
		Short: "A narrated, traced tour for presenters: images, a traced run, namespaces, ps -a, a breakpoint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := image.Open(stateRoot(cmd))
			if err == nil {
				_, err = store.Find("busybox")
			}
			if err != nil {
				return fmt.Errorf("the demo runs the busybox image, which is not here: make image builds it (from Debian's busybox-static, no network)")
			}
			b := make([]byte, 2)
			rand.Read(b)
			name := "demo-" + hex.EncodeToString(b)
			steps := []demoStep{
				{"Images live in glassbox's own store: content-addressed blobs, one directory per layer.",
					[]string{"images"}},
				{"A container is six stages — rootfs, cgroup, unshare, network, mount, exec. Each is a span,\n" +
					"and under it the kernel's own record of the system calls it made, seen by eBPF.",
					[]string{"run", "--name", name, "--trace", "busybox", "echo", "hello from a container"}},
				{"Inside, the shell is pid 1 of a new pid namespace, with its own hostname and only its own processes.",
					[]string{"run", "--rm", "busybox", "sh", "-c", "echo pid $$ on $(hostname); ps"}},
				{"The container has exited, and its record and writable layer are kept, as with docker ps -a.",
					[]string{"ps", "-a"}},
				{"Stop a run halfway: before the mount stage, the namespaces exist but /proc is still the host's.",
					[]string{"run", "-d", "--name", name + "-paused", "--break-at", "mount", "busybox", "echo", "resumed"}},
				{"Look inside the half-built container: the host's /proc, so pid 1 is the host's init.",
					[]string{"debug", name + "-paused", "sh", "-c", "echo pid 1 is $(cat /proc/1/comm)"}},
				{"And let it go on: the mount stage mounts the container's /proc, pivot_root, execve.",
					[]string{"continue", name + "-paused"}},
				{"Its monitor waited for it and kept its exit code…",
					[]string{"wait", name + "-paused"}},
				{"…and its output.",
					[]string{"logs", name + "-paused"}},
				{"Clean up: the records and the writable layers go.",
					[]string{"rm", name, name + "-paused"}},
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			pause := !noPause && term.IsTerminal(int(os.Stdin.Fd()))
			for i, st := range steps {
				fmt.Printf("\n\x1b[1m%d/%d  %s\x1b[0m\n", i+1, len(steps), st.say)
				fmt.Printf("\x1b[36m$ glassbox %s\x1b[0m\n", shellQuote(st.args))
				c := exec.Command(exe, st.args...)
				c.Env = append(os.Environ(), "GLASSBOX_ROOT="+stateRoot(cmd))
				c.Stdout, c.Stderr = os.Stdout, os.Stdout // one stream, in order, for the audience
				if err := c.Run(); err != nil {
					return fmt.Errorf("demo step %d (glassbox %s): %w", i+1, shellQuote(st.args), err)
				}
				if pause && i < len(steps)-1 {
					fmt.Print("\x1b[2m  [Enter] next step\x1b[0m")
					if key, err := readKey(); err != nil || key == 'q' || key == 3 {
						fmt.Println()
						return nil
					}
					fmt.Print("\r\x1b[K")
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noPause, "no-pause", false, "run every step without waiting for Enter (CI, recordings)")
	return cmd
}

// shellQuote writes args as a person would type them.
func shellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " $'\"();|&") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
