//go:build !lean

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
)

func newNetworkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Manage bridge networks (create, ls, inspect, rm, connect, disconnect, prune)",
		Long: `A network is a subnet and a bridge. Containers on it get addresses from the
subnet, reach each other directly and by name (/etc/hosts), and the outside
through NAT. The default network is "bridge" (bridge glassbox0). A network's
bridge stays; its NAT rules exist while containers use it.`,
	}
	var subnet string
	create := &cobra.Command{
		Use:   "create [--subnet CIDR] NAME",
		Short: "Create a network (the subnet is picked from a pool unless --subnet says)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			n, err := eng.CreateNetwork(args[0], subnet, nil)
			if err == nil {
				fmt.Printf("%s %s (gateway %s, bridge %s)\n", n.Name, n.Subnet, n.Gateway, n.Bridge)
			}
			return err
		},
	}
	create.Flags().StringVar(&subnet, "subnet", "", "IPv4 subnet, like 10.10.0.0/24")
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List networks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			all, err := eng.Networks()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tSUBNET\tGATEWAY\tBRIDGE\tCONTAINERS")
			for _, n := range all {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\n", n.Name, n.Subnet, n.Gateway, n.Bridge, len(n.Leases))
			}
			return w.Flush()
		},
	}
	inspect := &cobra.Command{
		Use:   "inspect NAME",
		Short: "Print a network and its leases as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			n, err := eng.Network(args[0])
			if err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(n)
		},
	}
	rm := &cobra.Command{
		Use:   "rm NAME...",
		Short: "Remove networks no container uses",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			for _, name := range args {
				if err := eng.RemoveNetwork(name); err != nil {
					return err
				}
				fmt.Println(name)
			}
			return nil
		},
	}
	var aliases []string
	connect := &cobra.Command{
		Use:   "connect [--alias NAME] NETWORK CONTAINER",
		Short: "Put a running container on a further network too (ethN inside; its first keeps the default route)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onNetworkContainer(cmd, args, func(eng *engine.Engine, c *container.Container) error {
				return eng.ConnectNetwork(cmd.Context(), c, args[0], aliases)
			})
		},
	}
	connect.Flags().StringArrayVar(&aliases, "alias", nil, "another name the container has on this network")
	disconnect := &cobra.Command{
		Use:   "disconnect NETWORK CONTAINER",
		Short: "Take a container off a network connect put it on",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onNetworkContainer(cmd, args, func(eng *engine.Engine, c *container.Container) error {
				return eng.DisconnectNetwork(cmd.Context(), c, args[0])
			})
		},
	}
	cmd.AddCommand(create, ls, inspect, rm, connect, disconnect, newNetworkPruneCmd())
	return cmd
}

// onNetworkContainer calls do with the engine and the container args[1]
// names, once args[0] names a network.
func onNetworkContainer(cmd *cobra.Command, args []string, do func(*engine.Engine, *container.Container) error) error {
	eng, err := engineOf(cmd)
	if err != nil {
		return err
	}
	if _, err := eng.Network(args[0]); err != nil {
		return err
	}
	c, err := eng.Container(args[1])
	if err != nil {
		return err
	}
	return do(eng, c)
}
