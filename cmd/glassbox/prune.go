package main

// container prune, image prune [-a], network prune: what nothing runs or
// uses goes (engine.PruneContainers, PruneImages, PruneNetworks).

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
			if !force {
				fmt.Fprintf(os.Stderr, "WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ", warning)
				answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return errors.New("nothing removed")
				}
			}
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			removed, err := prune(eng, cmd, all)
			if len(removed) > 0 {
				fmt.Printf("Deleted %s:\n%s\n", what, strings.Join(removed, "\n"))
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask")
	if what == "Images" {
		cmd.Flags().BoolVarP(&all, "all", "a", false, "every image no container was made from, not only those without a name")
	}
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
