package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

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
deletes its state directory. So does an exited container that rm -f gave up
waiting for. Containers in use, exited containers kept without --rm and
containers created through the daemon and not started yet are left alone
(glassbox rm removes those). A record whose undo fails (a busy
mount, say) stays, marked for removal, and the next gc tries again. So do
state directories a killed glassbox was making or removing (.creating-…,
.removing-…).

Then the traces beyond GLASSBOX_TRACE_KEEP and GLASSBOX_TRACE_MAX_MB, and the
temporary files of trace writes that never finished. Then what is the host's,
shared by every state root: address leases whose container's state directory
is gone (in any root), NAT rules no lease owns, and the kernel probes of other
glassbox builds. Bridges stay, like docker0. gc is safe while containers start
and stop.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keep, err := trace.RetentionFromEnv()
			if err != nil {
				return err
			}
			all, err := container.List(stateRoot(cmd))
			if err != nil {
				return err
			}
			var errs []error
			for _, c := range all {
				if err := c.Lock(); err != nil {
					continue // a live glassbox owns it
				}
				// Kept exited containers and created ones not started yet; OCI
				// ones live on after create, their caller owns them (delete
				// removes them).
				kept := c.Status == container.Exited || c.Status == container.Created && !c.OCI
				if kept && !c.MarkedForRemoval() || (c.OCI && c.Alive()) {
					c.Unlock()
					continue
				}
				if err := stages.Cleanup(c); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", container.ShortID(c.ID), err))
					continue
				}
				fmt.Printf("removed leftover container %s (%s)\n", container.ShortID(c.ID), c.Status)
			}
			// State directories a killed glassbox was making or removing.
			for _, c := range container.Unfinished(stateRoot(cmd)) {
				if err := stages.Cleanup(c); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(c.Dir), err))
					continue
				}
				fmt.Println("removed unfinished state directory", filepath.Base(c.Dir))
			}
			// Leases, veths and NAT rules of containers that are gone.
			gone, err := netns.GC()
			for _, g := range gone {
				fmt.Println("removed", g)
			}
			errs = append(errs, err)
			// Old traces, beyond GLASSBOX_TRACE_KEEP / GLASSBOX_TRACE_MAX_MB, and
			// the temporary files of writes that never finished.
			container.SweepExitCodes(stateRoot(cmd)) // those of --rm containers nobody waited for
			n, err := trace.Prune(trace.Dir(stateRoot(cmd)), keep, true)
			if n > 0 {
				fmt.Printf("removed %d old trace files\n", n)
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
		Long: `rm removes exited containers. With -f it SIGKILLs a running one and waits for
its glassbox to tear it down, at most GLASSBOX_TEARDOWN_TIMEOUT (a duration;
default 2m); if that runs out, the container is removed when its teardown
ends, or by glassbox gc.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, refs []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			var errs []error
			for _, ref := range refs {
				if err := eng.Remove(cmd.Context(), ref, force); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Println(ref)
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
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Println("\nglassbox explain STAGE: a stage's page; run --break-at STAGE / --step: stop there and look")
			return nil
		},
	}
}
