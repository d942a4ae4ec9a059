//go:build !lean

package main

// info, version, port: what docker prints for them, from the engine.

import (
	"cmp"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/daemon"
	"github.com/glassbox-dev/glassbox/engine"
	"github.com/glassbox-dev/glassbox/internal/buildinfo"
	"github.com/glassbox-dev/glassbox/netns"
)

func newInfoCmd() *cobra.Command {
	return &cobra.Command{
		Use: "info", Short: "Show the host and the state root: containers, images, cgroups, storage, the kernel observer", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			in, err := eng.Info()
			if err != nil {
				return err
			}
			fmt.Printf(`Containers: %d
 Running: %d
 Paused: %d
 Stopped: %d
Images: %d
Storage Driver: %s
Cgroup Version: %s (%s)
Kernel Observer: %s
Kernel Version: %s
Operating System: %s
Architecture: %s
CPUs: %d
Total Memory: %s
Root Dir: %s
`, in.Containers, in.Running, in.Paused, in.Stopped, in.Images, in.StorageDriver, in.CgroupVersion, in.CgroupMode,
				in.ObserverMode, in.Kernel, in.OperatingSystem, in.Architecture, in.CPUs, engine.HumanBytes(uint64(in.Memory)), in.Root)
			return nil
		},
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use: "version", Short: "Show glassbox's version, and the Engine API its daemon serves", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Printf("glassbox:\n Version: %s\n Go version: %s\n OS/Arch: %s/%s\n Kernel: %s\nDaemon (glassbox daemon):\n API version: %s (minimum %s)\n",
				buildinfo.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH, engine.KernelRelease(), daemon.APIVersion, daemon.MinAPIVersion)
			return nil
		},
	}
}

func newPortCmd() *cobra.Command {
	return &cobra.Command{
		Use: "port CONTAINER [PORT[/PROTO]]", Short: "List a container's published ports (or where one of them is published)", Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, c, err := containerOf(cmd, args[0])
			if err != nil {
				return err
			}
			ports, err := netns.ParsePorts(c.Ports)
			if err != nil {
				return err
			}
			found := false
			for _, p := range ports {
				private := strconv.Itoa(int(p.ContainerPort)) + "/" + p.Proto
				if len(args) == 2 && args[1] != private && args[1] != strings.TrimSuffix(private, "/tcp") {
					continue
				}
				found = true
				host := cmp.Or(p.HostIP, "0.0.0.0") + ":" + strconv.Itoa(int(p.HostPort))
				if len(args) == 2 {
					fmt.Println(host)
				} else {
					fmt.Println(private + " -> " + host)
				}
			}
			if len(args) == 2 && !found {
				return fmt.Errorf("no public port %s published for %s", args[1], args[0])
			}
			return nil
		},
	}
}
