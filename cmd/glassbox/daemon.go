//go:build !lean

package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"runtime/debug"
	"strconv"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/daemon"
	"github.com/glassbox-dev/glassbox/internal/buildinfo"
)

func newDaemonCmd() *cobra.Command {
	var host, group string
	cmd := &cobra.Command{
		Use:   "daemon [-H unix:///PATH]",
		Short: "Serve the Docker Engine API, for the docker CLI and SDKs (over the same containers as the CLI)",
		Long: `daemon serves the Docker Engine API on a unix socket (default
` + daemon.DefaultHost + `, mode 0660): point the docker CLI at it with
DOCKER_HOST=unix:///run/glassbox/docker.sock. The daemon is one more front end
over the state root: containers made by glassbox's CLI and by the daemon are
the same containers, each held by its own monitor, so they outlive the daemon
(SIGTERM or SIGINT stops it; a daemon started again sees them).

Served so far: _ping, version, info; containers create, start, attach,
logs, exec, top, stats, list, inspect, stop, restart, kill, wait, remove;
images pull, list, inspect, tag, remove; networks list, inspect, create,
remove. Anything else is a 501 that says so (docs/daemon.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(100) // it lives on: Go's default, not a short command's room (main.go)
			}
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			gid, err := socketGroup(group, cmd.Flags().Changed("group"))
			if err != nil {
				return err
			}
			l, err := daemon.Listen(host, gid)
			if err != nil {
				return err
			}
			defer l.Close()
			ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
			defer stop()
			fmt.Fprintf(os.Stderr, "glassbox daemon: serving the Docker Engine API %s on %s (state root %s)\n", daemon.APIVersion, host, eng.Root)
			return daemon.New(eng, buildinfo.Version()).Serve(ctx, l)
		},
	}
	cmd.Flags().StringVarP(&host, "host", "H", daemon.DefaultHost, "where to listen: unix:///PATH")
	cmd.Flags().StringVarP(&group, "group", "G", "docker", "the group that may use the socket (as dockerd's -G); root's if the default is missing")
	return cmd
}

// socketGroup is the gid of the socket's group: -1 (root's) when the default
// group does not exist; a group asked for by name must.
func socketGroup(name string, asked bool) (int, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		if !asked {
			return -1, nil
		}
		return 0, fmt.Errorf("-G %s: %w", name, err)
	}
	return strconv.Atoi(g.Gid)
}
