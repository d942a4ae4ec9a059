//go:build !lean

package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/doctor"
)

func newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Show what this kernel offers glassbox, and what glassbox does about what is missing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			for _, c := range doctor.Run() {
				mark := "ok"
				if !c.OK {
					mark = "--"
				}
				line := fmt.Sprintf("%s\t%s\t%s", mark, c.Name, c.Detail)
				if c.Action != "" {
					line += "  → " + c.Action
				}
				fmt.Fprintln(w, line)
			}
			return w.Flush()
		},
	}
}
