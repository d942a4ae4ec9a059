//go:build !lean

package main

// container prune, image prune [-a], network prune, volume prune, and system
// prune (all of them): what nothing runs or uses goes (engine.PruneContainers,
// PruneImages, PruneNetworks, PruneVolumes).

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/engine"
)

// newPruneCmd is "prune" for what (containers, images, networks).
func newPruneCmd(what, warning string, prune func(*engine.Engine, *cobra.Command, bool) ([]string, error)) *cobra.Command {
	var force, all bool
	cmd := &cobra.Command{
		Use: "prune [-f]", Short: "Remove " + warning, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := confirm(force, " "+warning+"."); err != nil {
				return err
			}
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			removed, err := prune(eng, cmd, all)
			printDeleted(what, removed)
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask")
	if what == "Images" {
		cmd.Flags().BoolVarP(&all, "all", "a", false, "every image no container was made from, not only those without a name")
	}
	return cmd
}

// confirm asks before a prune, unless -f said yes.
func confirm(force bool, warning string) error {
	if force {
		return nil
	}
	fmt.Fprintf(os.Stderr, "WARNING! This will remove%s\nAre you sure you want to continue? [y/N] ", warning)
	answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return errors.New("nothing removed")
	}
	return nil
}

func printDeleted(what string, removed []string) {
	if len(removed) > 0 {
		fmt.Printf("Deleted %s:\n%s\n\n", what, strings.Join(removed, "\n"))
	}
}

// newSystemCmd is docker system's prune, info and events.
func newSystemCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "System commands: prune (everything unused at once), info, events"}
	var force, all, volumes bool
	prune := &cobra.Command{
		Use: "prune [-a] [--volumes] [-f]", Short: "Remove every stopped container, unused network, unnamed image (-a: unused ones) and, with --volumes, unused volume", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			images := "all dangling images (without a name)"
			if all {
				images = "all images without at least one container associated to them"
			}
			warning := ":\n  - all stopped containers\n  - all networks not used by at least one container\n  - " + images
			if volumes {
				warning += "\n  - all anonymous and named volumes not used by at least one container"
			}
			if err := confirm(force, warning); err != nil {
				return err
			}
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			// Containers first: what they held is unused after.
			gone, errs := eng.PruneContainers(cmd.Context())
			printDeleted("Containers", gone)
			if volumes {
				gone, err = eng.PruneVolumes()
				printDeleted("Volumes", gone)
				errs = errors.Join(errs, err)
			}
			gone, err = eng.PruneNetworks()
			printDeleted("Networks", gone)
			errs = errors.Join(errs, err)
			removed, err := eng.PruneImages(all)
			gone = nil
			for _, r := range removed {
				gone = append(gone, r.String())
			}
			printDeleted("Images", gone)
			return errors.Join(errs, err)
		},
	}
	f := prune.Flags()
	f.BoolVarP(&force, "force", "f", false, "do not ask")
	f.BoolVarP(&all, "all", "a", false, "every image no container was made from, not only those without a name")
	f.BoolVar(&volumes, "volumes", false, "unused volumes too")
	cmd.AddCommand(prune, newInfoCmd(), newEventsCmd())
	return cmd
}

func newContainerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "container", Short: "Container commands (prune; the others are top-level)"}
	cmd.AddCommand(newPruneCmd("Containers", "every container that does not run (exited, or created and never started)",
		func(e *engine.Engine, cmd *cobra.Command, _ bool) ([]string, error) {
			return e.PruneContainers(cmd.Context())
		}))
	return cmd
}

func newImagePruneCmd() *cobra.Command {
	return newPruneCmd("Images", "the images no container was made from (-a: named ones too) and unused layers",
		func(e *engine.Engine, _ *cobra.Command, all bool) ([]string, error) {
			removed, err := e.PruneImages(all)
			var out []string
			for _, r := range removed {
				out = append(out, r.String())
			}
			return out, err
		})
}

func newNetworkPruneCmd() *cobra.Command {
	return newPruneCmd("Networks", "every network no container is on (the default bridge stays)",
		func(e *engine.Engine, _ *cobra.Command, _ bool) ([]string, error) { return e.PruneNetworks() })
}
