package main

// glassbox attach: a terminal joins a running container's streams — its
// output as its log grows (engine.Logs), its stdin FIFO (engine.Stdin) if it
// was started with -i, and, with a terminal, the window size (engine.Resize,
// again at each SIGWINCH). Ctrl-P Ctrl-Q (or --detach-keys) leaves it
// running; otherwise the attach lasts until the container exits, with its
// exit code.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/creack/pty"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
)

func newAttachCmd() *cobra.Command {
	var detachKeys string
	var noStdin bool
	cmd := &cobra.Command{
		Use:   "attach [--detach-keys KEYS] [--no-stdin] CONTAINER",
		Short: "Join a running container's output, input and terminal (Ctrl-P Ctrl-Q leaves it running)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := engine.ParseDetachKeys(detachKeys)
			if err != nil {
				return fmt.Errorf("--detach-keys: %w", err)
			}
			eng, c, err := containerOf(cmd, args[0])
			if err != nil {
				return err
			}
			if !engine.Running(c) || c.Status != container.Running {
				return fmt.Errorf("container %s %w: start it first", args[0], engine.ErrNotRunning)
			}
			return attach(cmd.Context(), eng, c, keys, !noStdin)
		},
	}
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "the keys that leave the container running (default ctrl-p,ctrl-q)")
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not send this terminal's input")
	return cmd
}

func attach(ctx context.Context, eng *engine.Engine, c *container.Container, keys []byte, withStdin bool) error {
	terminal := c.Spec.Process.Terminal
	if terminal && term.IsTerminal(int(os.Stdin.Fd())) {
		if state, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
			defer term.Restore(int(os.Stdin.Fd()), state)
		}
		resize := func() {
			if size, err := pty.GetsizeFull(os.Stdin); err == nil {
				eng.Resize(c, size.Rows, size.Cols)
			}
		}
		resize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				resize()
			}
		}()
	}
	var stdin *os.File
	if withStdin && c.Spec.Annotations[engine.StdinAnnotation] != "" {
		var err error
		if stdin, err = eng.Stdin(c); err != nil {
			return err
		}
		defer stdin.Close()
	}
	detached, err := eng.Attach(ctx, c, stdin, os.Stdin, keys, engine.LogOptions{Follow: true, Tail: -1, New: true}, func(l container.LogLine) error {
		out := os.Stdout
		if l.Stream == "stderr" {
			out = os.Stderr
		}
		_, err := out.WriteString(l.Log)
		return err
	})
	if detached {
		fmt.Fprintf(os.Stderr, "\r\nglassbox: detached from %s (it goes on running)\r\n", container.ShortID(c.ID))
		return nil
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	code, err := eng.Wait(ctx, c)
	if err != nil {
		return err
	}
	return exitCode(code)
}
