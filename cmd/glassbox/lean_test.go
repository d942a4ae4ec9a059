package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// glassbox as installed is built with -tags lean (lean.go). It must not
// import the packages only other commands need — the registry client, zstd,
// the daemon, the lab: their init functions run at every start, and their
// code would be paged in with the rest. And its linker must be free to drop
// what no command calls: reflect.Value.MethodByName, which text/template
// calls, must not be in it (then the linker keeps every exported method of
// every type put in an interface). glassbox-full, the build without the tag,
// has them all: the same check finds them there. The binaries are
// GLASSBOX_BIN and the glassbox-full beside it (the VM's, which has no Go
// toolchain), else built here.
func TestLeanBuild(t *testing.T) {
	lean, full := os.Getenv("GLASSBOX_BIN"), ""
	if lean != "" {
		full = filepath.Join(filepath.Dir(lean), "glassbox-full")
	} else {
		lean, full = build(t, "lean"), build(t, "")
	}
	heavy := regexp.MustCompile(`^(reflect\.Value\.MethodByName|text/template\.\(\*Template\)\.Execute|github\.com/(klauspost/compress|docker/cli|moby/moby|google/go-containerregistry/pkg/(authn|v1/(remote|partial|layout|tarball|mutate))|glassbox-dev/glassbox/(daemon|lab))[/.].*)$`)
	found := func(bin string) []string {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		syms, err := f.Symbols()
		if err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		var out []string
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_FUNC && heavy.MatchString(s.Name) {
				out = append(out, s.Name)
			}
		}
		return out
	}
	if f := found(lean); len(f) > 0 {
		t.Errorf("the lean build links %q", f[:min(len(f), 5)])
	}
	if f := found(full); len(f) < 5 {
		t.Errorf("glassbox-full lacks the daemon, the lab, the registry client, zstd or Go templates: found %q", f)
	}
}

func build(t *testing.T, tags string) string {
	bin := filepath.Join(t.TempDir(), "glassbox")
	cmd := exec.Command("go", "build", "-tags", tags, "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags %q: %v\n%s", tags, err, out)
	}
	return bin
}
