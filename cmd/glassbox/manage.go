package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/netns"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
	"github.com/glassbox-dev/glassbox/trace"
)

func newSpecCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "spec",
		Short: "Print the default OCI runtime Spec (config.json), like runc spec",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(spec.Default())
		},
	}
}

func newGCCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "Remove what killed glassbox runs left behind (mounts, cgroups, processes, state)",
		Long: `gc looks at every container record under the state root. A record whose
glassbox process is gone (its lock is free) but which never reached "exited" is a
leftover: gc kills its processes, unmounts its rootfs, removes its cgroups and
deletes its state directory. Containers in use and exited containers kept
without --rm are left alone (glassbox rm removes those).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := container.List(stateRoot(cmd))
			if err != nil {
				return err
			}
			var errs []error
			for _, c := range all {
				if err := c.Lock(); err != nil {
					continue // a live glassbox owns it
				}
				if c.Status == container.Exited {
					c.Unlock()
					continue
				}
				if err := stages.Cleanup(c); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", container.ShortID(c.ID), err))
					continue
				}
				fmt.Printf("removed leftover container %s (%s)\n", container.ShortID(c.ID), c.Status)
			}
			// Leases, veths, NAT rules and bridges of containers that are gone.
			gone, err := netns.GC()
			for _, g := range gone {
				fmt.Println("removed", g)
			}
			errs = append(errs, err)
			// Kernel probes pinned by other glassbox builds (an upgrade leaves them).
			removed, err := trace.RemoveObservers(true)
			for _, d := range removed {
				fmt.Println("detached kernel probes of another glassbox build:", d)
			}
			return errors.Join(append(errs, err, trace.SweepObserver())...)
		},
	}
}

func newRmCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rm [-f] CONTAINER...",
		Short: "Remove exited containers (their record and writable layer); -f kills running ones first",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			var errs []error
			for _, id := range ids {
				c, err := container.Find(stateRoot(cmd), id)
				if err == nil && force && running(c) {
					err = killAndWait(c, unix.SIGKILL, 0)
					if _, serr := os.Stat(c.Dir); err == nil && errors.Is(serr, os.ErrNotExist) {
						fmt.Println(id) // run --rm: its glassbox removed it
						continue
					}
				}
				if err == nil {
					err = c.Lock()
				}
				if errors.Is(err, container.ErrLocked) {
					err = fmt.Errorf("container %s is running; stop it first, or rm -f", id)
				}
				if err == nil {
					err = stages.Cleanup(c)
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Println(id)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill a running container first")
	return cmd
}

func newStagesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stages",
		Short: "List the stages of a run, in order, with what each touches in the kernel",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			for i, s := range stages.Pipeline {
				side := "container"
				switch {
				case s.Host != nil && s.Container != nil:
					side = "host+container"
				case s.Host != nil:
					side = "host"
				}
				fmt.Fprintf(w, "%d. %s\t%s\t%s\n\t\t%s\n", i+1, s.Name, side, s.Purpose, s.Kernel)
			}
			return w.Flush()
		},
	}
}
