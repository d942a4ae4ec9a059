package main

// pause, unpause, rename: engine.Pause (the cgroup freezer), engine.Rename.

import (
	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/container"
)

func newPauseCmd(use, short string) *cobra.Command {
	return &cobra.Command{
		Use: use + " CONTAINER...", Short: short, Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			return eachContainer(cmd, args, func(c *container.Container) error {
				if use == "pause" {
					return eng.Pause(cmd.Context(), c)
				}
				return eng.Unpause(cmd.Context(), c)
			})
		},
	}
}

func newRenameCmd() *cobra.Command {
	return &cobra.Command{
		Use: "rename CONTAINER NEW-NAME", Short: "Give a container another name", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, c, err := containerOf(cmd, args[0])
			if err != nil {
				return err
			}
			return eng.Rename(c, args[1])
		},
	}
}
