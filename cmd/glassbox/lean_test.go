package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// glassbox as installed is built with -tags lean (lean.go). Its linker must
// be free to drop what no command calls: reflect.Value.MethodByName, which
// text/template calls, must not be in it (then the linker keeps every
// exported method of every type put in an interface), and neither may the
// registry client, the daemon or the lab, beyond their packages' init.
// glassbox-full, the build without the tag, has them all: the same check
// finds them there.
func TestLeanBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds glassbox twice")
	}
	heavy := regexp.MustCompile(`(?m)^ *[0-9a-f]+ [Tt] (reflect\.Value\.MethodByName|text/template\.\(\*Template\)\.Execute|github\.com/(google/go-containerregistry/pkg/v1/remote|glassbox-dev/glassbox/(daemon|lab))\.[^i].*)$`)
	for _, c := range []struct {
		tags  string
		heavy bool
	}{{"lean", false}, {"", true}} {
		bin := filepath.Join(t.TempDir(), "glassbox")
		build := exec.Command("go", "build", "-tags", c.tags, "-o", bin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build -tags %q: %v\n%s", c.tags, err, out)
		}
		syms, err := exec.Command("go", "tool", "nm", bin).Output()
		if err != nil {
			t.Fatalf("go tool nm: %v", err)
		}
		found := heavy.FindAllString(string(syms), 5)
		if c.heavy && len(found) < 5 {
			t.Errorf("the build without -tags lean lacks the daemon, the lab, the registry client or Go templates: found %q", found)
		}
		if !c.heavy && len(found) > 0 {
			t.Errorf("the lean build links %q", found)
		}
	}
}
