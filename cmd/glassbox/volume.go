//go:build !lean

package main

// glassbox volume: named volumes (engine.CreateVolume, Volumes, RemoveVolume,
// PruneVolumes) — directories in the state root that outlive containers.

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/engine"
)

func newVolumeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "Manage named volumes (create, ls, inspect, rm, prune): what -v NAME:/path mounts",
	}
	var labels []string
	create := &cobra.Command{
		Use: "create [--label K=V] [NAME]", Short: "Make a volume (a random name without one)", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			l := map[string]string{}
			for _, kv := range labels {
				k, v, _ := strings.Cut(kv, "=")
				l[k] = v
			}
			v, err := eng.CreateVolume(strings.Join(args, ""), l)
			if err != nil {
				return err
			}
			fmt.Println(v.Name)
			return nil
		},
	}
	create.Flags().StringArrayVar(&labels, "label", nil, "KEY=VALUE metadata")
	ls := &cobra.Command{
		Use: "ls", Short: "List volumes", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			all, err := eng.Volumes()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "DRIVER\tVOLUME NAME")
			for _, v := range all {
				fmt.Fprintf(w, "local\t%s\n", v.Name)
			}
			return w.Flush()
		},
	}
	inspect := &cobra.Command{
		Use: "inspect VOLUME...", Short: "Print volumes as JSON (with their mountpoint)", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			var out []map[string]any
			for _, name := range args {
				v, err := eng.Volume(name)
				if err != nil {
					return err
				}
				out = append(out, map[string]any{"Name": v.Name, "Driver": "local", "Mountpoint": v.Path, "CreatedAt": v.Created, "Labels": v.Labels, "Scope": "local"})
			}
			return printJSON(out)
		},
	}
	rm := &cobra.Command{
		Use: "rm VOLUME...", Short: "Remove volumes no container has (running or not)", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			for _, name := range args {
				if err := eng.RemoveVolume(name); err != nil {
					return err
				}
				fmt.Println(name)
			}
			return nil
		},
	}
	cmd.AddCommand(create, ls, inspect, rm, newPruneCmd("Volumes", "every volume no container has",
		func(e *engine.Engine, _ *cobra.Command, _ bool) ([]string, error) { return e.PruneVolumes() }))
	return cmd
}
