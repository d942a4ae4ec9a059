//go:build !lean

package main

import (
	"context"
	"maps"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/image"
)

// glassbox-full: every command. glassbox, built lean, hands it the command
// lines that are not its own (lean.go).

func init() { maps.Copy(subcommands, otherCommands) }

var otherCommands = map[string]func() *cobra.Command{
	"spec": newSpecCmd, "doctor": newDoctorCmd, "stages": newStagesCmd, "explain": newExplainCmd, "demo": newDemoCmd,
	"trace": newTraceCmd, "network": newNetworkCmd, "volume": newVolumeCmd, "top": newTopCmd, "stats": newStatsCmd, "port": newPortCmd, "events": newEventsCmd, "debug": newDebugCmd,
	"rename": newRenameCmd, "cp": newCpCmd, "export": newExportCmd, "commit": newCommitCmd, "container": newContainerCmd,
	"pull": newPullCmd, "push": newPushCmd, "login": newLoginCmd, "import": newImportCmd, "save": newSaveCmd,
	"rmi": newRmiCmd, "tag": newTagCmd, "image": newImageCmd,
	"daemon": newDaemonCmd, "lab": newLabCmd, "info": newInfoCmd, "version": newVersionCmd, "system": newSystemCmd,
}

// pullMissing pulls an image that run or create does not find in the store.
func pullMissing(root, ref string, o image.Registry) error {
	s, err := image.Open(root)
	if err != nil {
		return err
	}
	o.Progress = progressBar()
	_, err = s.Pull(context.Background(), ref, o)
	return err
}
