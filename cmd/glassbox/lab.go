//go:build !lean

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/lab"
)

func newLabCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Workshop labs: list, show N, start N, check N, hint N, reset N",
		Long: `Workshop labs: list, show N, start N, check N, hint N, reset N.

On a shared machine each attendee runs glassbox through sudo: the labs are
theirs, the user sudo names (SUDO_USER). Their files go in their own home,
owned by them; their progress is kept per attendee in the state root.

Environment:
  GLASSBOX_LABS   where the labs' files go (default: the attendee's ~/glassbox-labs)
  GLASSBOX_ROOT   glassbox's state root (default /var/lib/glassbox); progress is
                  kept in it, in labs/<attendee>.json
  SUDO_USER       set by sudo: the attendee`,
	}
	env := func(cmd *cobra.Command) (*lab.Env, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		who, err := lab.CurrentAttendee()
		if err != nil {
			return nil, err
		}
		home := os.Getenv("GLASSBOX_LABS")
		if home == "" {
			home = filepath.Join(who.Home, "glassbox-labs")
		}
		return &lab.Env{Root: stateRoot(cmd), Glassbox: exe, Home: home, Attendee: who}, nil
	}
	// each wraps a subcommand that works on lab N.
	each := func(use, short string, f func(*lab.Env, *lab.Lab, *lab.Progress) error) *cobra.Command {
		return &cobra.Command{
			Use: use + " N", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				n, err := strconv.Atoi(args[0])
				if err != nil {
					return fmt.Errorf("lab %s: a lab number, like 1", args[0])
				}
				l, err := lab.Find(n)
				if err != nil {
					return err
				}
				e, err := env(cmd)
				if err != nil {
					return err
				}
				p, err := lab.LoadProgress(e)
				if err != nil {
					return err
				}
				return f(e, l, p)
			},
		}
	}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "The labs, with the ones you passed ticked", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := env(cmd)
			if err != nil {
				return err
			}
			p, err := lab.LoadProgress(e)
			if err != nil {
				return err
			}
			for _, l := range lab.All {
				mark := " "
				if p.Done(l.N) {
					mark = "✓"
				}
				fmt.Printf("%s %2d  %s\n", mark, l.N, l.Title)
			}
			return nil
		},
	},
		each("show", "The lab's page: concept, exercises, man pages, how it is checked", func(_ *lab.Env, l *lab.Lab, _ *lab.Progress) error {
			fmt.Print(l.Page())
			return nil
		}),
		each("start", "Prepare what the lab needs (files in ~/glassbox-labs/NN-…)", func(e *lab.Env, l *lab.Lab, _ *lab.Progress) error {
			note, err := lab.Start(e, l)
			if err != nil {
				return fmt.Errorf("lab %d: start: %w", l.N, err)
			}
			fmt.Printf("lab %d: %s — ready. Its files: %s\n", l.N, l.Title, e.Dir(l))
			if note != "" {
				fmt.Println(note)
			}
			return nil
		}),
		each("check", "Check your result against the kernel and the traces", func(e *lab.Env, l *lab.Lab, p *lab.Progress) error {
			missing := l.Check(e)
			if len(missing) == 0 {
				p.Pass(l.N)
				fmt.Printf("✓ lab %d passed: %s\n", l.N, l.Title)
				return p.Save()
			}
			for _, m := range missing {
				fmt.Printf("✗ %s\n", m)
			}
			fmt.Printf("lab %d is not done yet (glassbox lab hint %d)\n", l.N, l.N)
			return exitCode(1)
		}),
		each("hint", "The next hint (each call shows one more)", func(_ *lab.Env, l *lab.Lab, p *lab.Progress) error {
			shown := min(p.Hints[l.N]+1, len(l.Hints))
			for i, h := range l.Hints[:shown] {
				fmt.Printf("hint %d/%d: %s\n", i+1, len(l.Hints), h)
			}
			p.Hints[l.N] = shown
			return p.Save()
		}),
		&cobra.Command{
			// Lab 15's registry, which lab start 15 runs in the background.
			Use: "registry 127.0.0.1:PORT", Hidden: true, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error { return lab.ServeRegistry(stateRoot(cmd), args[0]) },
		},
		each("reset", "Forget the lab: its progress, its files, its containers (named labN…)", func(e *lab.Env, l *lab.Lab, p *lab.Progress) error {
			return lab.Reset(e, l, p)
		}),
	)
	return cmd
}
