//go:build !lean

package main

// cp and export: a container's files as the engine gives them (engine.Files,
// Archive, Extract) — resolved inside the container's root, never through a
// link out of it — and, on the host side, written as image.Extract writes a
// layer: inside the destination directory, whatever names the tar holds.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/glassbox-dev/glassbox/engine"
	"github.com/glassbox-dev/glassbox/image"
)

func newCpCmd() *cobra.Command {
	var archive bool
	cmd := &cobra.Command{
		Use:   "cp [-a] CONTAINER:SRC DEST|-  |  cp [-a] SRC|- CONTAINER:DEST",
		Short: "Copy files out of a container or into it (running, created or exited)",
		Long: `cp copies a file or a directory tree between a container and the host, as
docker cp does: into DEST if it is a directory that exists, else as DEST. "-"
is a tar on standard output or input. Into a container, files belong to its
root unless -a keeps their owners.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			from, fromPath, fromIn := strings.Cut(args[0], ":")
			to, toPath, toIn := strings.Cut(args[1], ":")
			switch {
			case fromIn && !toIn:
				return copyOut(eng, from, fromPath, args[1])
			case toIn && !fromIn:
				return copyIn(eng, args[0], to, toPath, archive)
			}
			return errors.New("cp: one of SRC and DEST is CONTAINER:PATH, the other a host path (or -)")
		},
	}
	cmd.Flags().BoolVarP(&archive, "archive", "a", false, "keep the files' owners (into a container)")
	return cmd
}

// containerFiles opens container ref's root for a copy (engine.Files).
func containerFiles(eng *engine.Engine, ref string) (rootFd int, release func(), err error) {
	c, err := eng.Container(ref)
	if err != nil {
		return -1, nil, err
	}
	return eng.Files(c)
}

// copyOut copies src of container ref to dest on the host.
func copyOut(eng *engine.Engine, ref, src, dest string) error {
	rootFd, release, err := containerFiles(eng, ref)
	if err != nil {
		return err
	}
	defer release()
	if dest == "-" {
		if term.IsTerminal(int(os.Stdout.Fd())) {
			return errors.New("refusing to write a tar to a terminal: redirect it")
		}
		return engine.Archive(os.Stdout, rootFd, src, "")
	}
	if _, err := engine.Stat(rootFd, src); err != nil {
		return err
	}
	dir, as := intoOrAs(dest)
	hostFd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	defer unix.Close(hostFd)
	return pipeTar(func(w io.Writer) error { return engine.Archive(w, rootFd, src, as) },
		func(r io.Reader) error {
			_, err := image.Extract(r, hostFd, image.ExtractOptions{KeepOwners: true, FromContainer: true})
			return err
		})
}

// copyIn copies src on the host (or a tar on stdin) to dest in container ref.
func copyIn(eng *engine.Engine, src, ref, dest string, keepOwners bool) error {
	rootFd, release, err := containerFiles(eng, ref)
	if err != nil {
		return err
	}
	defer release()
	if src == "-" {
		return engine.Extract(os.Stdin, rootFd, dest, keepOwners)
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	into, as := dest, ""
	if st, err := engine.Stat(rootFd, dest); err != nil || !st.Mode.IsDir() {
		into, as = filepath.Dir(filepath.Clean("/"+dest)), filepath.Base(dest) // DEST is the new name
	}
	hostRoot, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(hostRoot)
	return pipeTar(func(w io.Writer) error { return engine.Archive(w, hostRoot, abs, as) },
		func(r io.Reader) error { return engine.Extract(r, rootFd, into, keepOwners) })
}

// intoOrAs is where a copy to host path dest goes: into it, if it is a
// directory, or beside it under its name.
func intoOrAs(dest string) (dir, as string) {
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		return dest, ""
	}
	return filepath.Dir(dest), filepath.Base(dest)
}

// pipeTar runs write and read at once over a pipe: a tar flows through, not
// through memory or a file.
func pipeTar(write func(io.Writer) error, read func(io.Reader) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := write(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	err := read(pr)
	pr.CloseWithError(errors.New("the copy stopped"))
	return errors.Join(<-done, err)
}

func newExportCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use: "export [-o FILE] CONTAINER", Short: "Write a container's filesystem as a tar (what is mounted on it left out)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			rootFd, release, err := containerFiles(eng, args[0])
			if err != nil {
				return err
			}
			defer release()
			if output == "" && term.IsTerminal(int(os.Stdout.Fd())) {
				return errors.New("refusing to write a tar to a terminal: use -o FILE or redirect")
			}
			return writeOutput(output, func(w io.Writer) error { return engine.Archive(w, rootFd, "/", "") })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")
	return cmd
}

func newCommitCmd() *cobra.Command {
	var author, message string
	cmd := &cobra.Command{
		Use:   "commit [-a AUTHOR] [-m MESSAGE] CONTAINER [NAME[:TAG]]",
		Short: "Make an image of a container: its image's layers and what it changed, with its command",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, c, err := containerOf(cmd, args[0])
			if err != nil {
				return err
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			rec, err := eng.Commit(cmd.Context(), c, ref, author, message)
			if err != nil {
				return err
			}
			fmt.Println(rec.ID)
			return nil
		},
	}
	cmd.Flags().StringVarP(&author, "author", "a", "", "the image's author")
	cmd.Flags().StringVarP(&message, "message", "m", "", "a comment in the image's history")
	return cmd
}
