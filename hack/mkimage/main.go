// mkimage ROOTFS OUT NAME:TAG [CMD...] — write a root filesystem directory as
// a one-layer OCI image layout whose command is CMD (sh when none is given;
// see image.WriteLayout), created at SOURCE_DATE_EPOCH (the reproducible
// builds' variable; the epoch when unset).
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/glassbox-dev/glassbox/image"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: mkimage ROOTFS OUT NAME:TAG [CMD...]")
		os.Exit(2)
	}
	created := time.Unix(0, 0)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil || secs < 0 {
			fmt.Fprintf(os.Stderr, "mkimage: SOURCE_DATE_EPOCH=%q: seconds since 1970, a whole number\n", s)
			os.Exit(2)
		}
		created = time.Unix(secs, 0)
	}
	if err := image.WriteLayout(os.Args[1], os.Args[2], os.Args[3], created, os.Args[4:]...); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}
