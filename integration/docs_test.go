package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runnableBlock is a shell example a page marks with "```sh runnable".
type runnableBlock struct {
	page string
	line int
	code string
}

// runnableBlocks extracts the runnable examples from the README and docs/.
func runnableBlocks(t *testing.T) []runnableBlock {
	pages := []string{"../README.md"}
	for _, glob := range []string{"../docs/*.md", "../docs/*/*.md"} {
		more, _ := filepath.Glob(glob)
		pages = append(pages, more...)
	}
	var blocks []runnableBlock
	for _, page := range pages {
		f, err := os.Open(page)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		var cur *runnableBlock
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			switch {
			case cur == nil && strings.TrimSpace(line) == "```sh runnable":
				cur = &runnableBlock{page: strings.TrimPrefix(page, "../"), line: n}
			case cur != nil && strings.HasPrefix(line, "```"):
				blocks = append(blocks, *cur)
				cur = nil
			case cur != nil:
				cur.code += line + "\n"
			}
		}
		f.Close()
	}
	return blocks
}

// Every page that shows commands has examples the docs test runs, but for
// the two whose commands need more than a test may start.
func TestDocsHaveRunnableExamples(t *testing.T) {
	exempt := map[string]string{
		"docs/kubernetes.md": "its commands are containerd's configuration and a cluster's; TestCRIPod runs them",
		"docs/testing.md":    "its commands run the test suites themselves",
	}
	runnable := map[string]bool{}
	for _, b := range runnableBlocks(t) {
		runnable[b.page] = true
	}
	pages, _ := filepath.Glob("../docs/*.md")
	for _, page := range append(pages, "../README.md") {
		data, _ := os.ReadFile(page)
		name := strings.TrimPrefix(page, "../")
		if strings.Contains(string(data), "```sh\n") && !runnable[name] && exempt[name] == "" {
			t.Errorf("%s shows commands but runs none: mark an example ```sh runnable", name)
		}
	}
}

// The docs' runnable examples, run as a reader would paste them: each block
// by bash -e, with glassbox on PATH, the busybox image in the store and a
// busybox rootfs at ./rootfs. Each must succeed and leave nothing behind, so
// the pages cannot drift from what glassbox does.
func TestDocsExamples(t *testing.T) {
	blocks := runnableBlocks(t)
	if len(blocks) < 10 {
		t.Fatalf("found %d runnable examples in the docs; the stage pages, lifecycle.md and tracing.md have more", len(blocks))
	}
	for _, b := range blocks {
		t.Run(fmt.Sprintf("%s:%d", b.page, b.line), func(t *testing.T) {
			e := newEnv(t)
			e.importBusybox()
			dir, bin := t.TempDir(), t.TempDir()
			// glassbox alone on PATH: its own directory may hold other programs
			// (in the VM it is /bin, busybox's).
			for _, link := range [][2]string{{rootfs, filepath.Join(dir, "rootfs")}, {glassbox, filepath.Join(bin, "glassbox")}} {
				if err := os.Symlink(link[0], link[1]); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-exo", "pipefail", "-c", b.code)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root, "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("%s line %d: %v\n%s", b.page, b.line, err, out)
			}
			if r := e.run("", "ps", "-aq"); r.stdout != "" {
				t.Errorf("%s line %d leaves containers behind:\n%s", b.page, b.line, r.stdout)
				e.run("", append([]string{"rm", "-f"}, strings.Fields(r.stdout)...)...)
			}
			e.noState()
		})
	}
}
