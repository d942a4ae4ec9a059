//go:build lean

package main

// glassbox, as installed, is this package built with -tags lean: the
// commands that make, run and end containers (subcommands, main.go), and as
// glassbox-runc the OCI command set. Every other command line goes to
// glassbox-full, the same package built without the tag and installed
// beside it, which has every command.
//
// Why two builds: a run pages in most of the binary that runs it. The kernel
// maps the 64 KiB around each page fault, and a Go program's package inits,
// type data and function tables are spread over all of it: 80 % of
// glassbox-full's code is resident after one run. Peak RSS follows the
// size, and the daemon's HTTP server, the registry client, the lab and the
// commands' Go templates are most of that size.
//
// The tag also leaves files out, here and in the packages below: the other
// commands' (//go:build !lean), and the engine's and the image store's
// pull, push, save, load and commit. Every package a program imports runs
// its init functions at every start — zstd's CRC tables alone 0.2 ms — and
// the linker keeps what they reach. The tag is for this package's build
// (make build); the daemon, the lab and hack/ do not build with it.
//
// And the templates cost more than their own code: text/template calls
// reflect.Value.MethodByName, and once that is reachable the linker keeps
// every exported method of every type that is ever put in an interface,
// used or not (cmd/link's deadcode pass). So nothing here executes a
// template: ps --format and inspect -f with one are glassbox-full's (the
// formatter below), and the version lines are cobra's plain ones.
// TestLeanBuild checks both.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/internal/beside"
)

const full = "glassbox-full"

func init() { handOver = runInFull }

// runInFull replaces this process with glassbox-full, given the same
// command line.
func runInFull(argv []string) int {
	what := "glassbox's help"
	if name := commandName(argv[1:]); name != "" {
		what = "glassbox " + name
	}
	p, err := beside.Program(full)
	if err != nil {
		fmt.Fprintf(os.Stderr, "glassbox: %s is run by glassbox-full, which needs %v\n", what, err)
		return 125
	}
	err = syscall.Exec(p, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "glassbox: %s is run by glassbox-full: exec %s: %v\n", what, p, err)
	return 125
}

// formatter, in this build, hands the command line to glassbox-full, whose
// formatter executes Go templates (format.go): ps and inspect ask for one
// before they print anything.
type formatter struct{}

func newFormatter(string, string) (*formatter, error) { os.Exit(runInFull(os.Args)); return nil, nil }

// print and flush are never called: newFormatter does not return.
func (*formatter) print(any) error { return nil }
func (*formatter) flush() error    { return nil }

// pullMissing has glassbox-full pull an image that run or create does not
// find in the store; its progress goes where glassbox's own messages go.
func pullMissing(root, ref string, o image.Registry) error {
	p, err := beside.Program(full)
	if err != nil {
		return fmt.Errorf("pulling %s needs %w", ref, err)
	}
	args := []string{"glassbox", "--root", root, "pull"}
	for _, r := range o.Insecure {
		args = append(args, "--insecure-registry", r)
	}
	if o.Platform != "" {
		args = append(args, "--platform", o.Platform)
	}
	// The pull ends with this process, however it ends, as it did when it
	// ran in it.
	cmd := &exec.Cmd{Path: p, Args: append(args, "--", ref), Stdout: os.Stderr, Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}}
	err = cmd.Run()
	var exited *exec.ExitError
	if errors.As(err, &exited) && exited.ExitCode() > 0 {
		return exitCode(exited.ExitCode()) // glassbox-full said why
	}
	if err != nil {
		return fmt.Errorf("pulling %s: glassbox-full: %w", ref, err)
	}
	return nil
}
