// mkimage ROOTFS OUT NAME:TAG [CMD...] — write a root filesystem directory as
// a one-layer OCI image layout whose command is CMD (sh when none is given;
// see image.WriteLayout).
package main

import (
	"fmt"
	"os"

	"github.com/glassbox-dev/glassbox/image"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: mkimage ROOTFS OUT NAME:TAG [CMD...]")
		os.Exit(2)
	}
	if err := image.WriteLayout(os.Args[1], os.Args[2], os.Args[3], os.Args[4:]...); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}
