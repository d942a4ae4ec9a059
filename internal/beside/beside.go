// Package beside finds glassbox's companion programs — glassbox-init,
// glassbox-shim, glassbox-otlp — which are installed in the directory of the
// glassbox executable and looked for there only, never on $PATH: a program
// of another build (or of another user's choosing) must not stand in.
package beside

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Program is name in the running executable's directory, when it is there
// and executable. Its error reads after "… needs ": "glassbox-shim beside
// /usr/local/bin/glassbox (make build): …".
func Program(name string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(exe), name)
	if err := unix.Access(p, unix.X_OK); err != nil {
		return "", fmt.Errorf("%s beside %s (make build): %w", name, exe, err)
	}
	return p, nil
}
