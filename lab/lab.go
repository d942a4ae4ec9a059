// Package lab is glassbox's workshop: numbered labs, each a page of
// docs/labs (embedded in the binary), a start that prepares what the lab
// needs, progressive hints, and a check that reads what the attendee made
// from the kernel and from the runs' traces — never from what they typed.
package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/glassbox-dev/glassbox/docs"
	"github.com/glassbox-dev/glassbox/internal/atomicfile"
)

// Lab is one exercise.
type Lab struct {
	N     int
	Slug  string // also its page: docs/labs/NN-slug.md
	Title string
	// Start prepares the lab (files in its directory, images); may be nil.
	Start func(*Env) error
	// Check returns what is still missing; none means the lab is done.
	Check func(*Env) []string
	Hints []string
}

// Env is where labs run: the state root the attendee's glassbox uses, the
// glassbox binary, and a directory of the lab's own files.
type Env struct {
	Root     string // glassbox's state root
	Glassbox string // the glassbox executable
	Home     string // ~/glassbox-labs, or GLASSBOX_LABS
}

// Dir is lab l's working directory.
func (e *Env) Dir(l *Lab) string { return filepath.Join(e.Home, fmt.Sprintf("%02d-%s", l.N, l.Slug)) }

// glassbox runs a glassbox command as the attendee would, and returns its
// output and exit code.
func (e *Env) glassbox(args ...string) (string, int) {
	cmd := exec.Command(e.Glassbox, args...)
	cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.Root)
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		return err.Error(), -1
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// Find returns lab n.
func Find(n int) (*Lab, error) {
	for _, l := range All {
		if l.N == n {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no lab %d: glassbox lab list shows them (1–%d)", n, len(All))
}

// Page is the lab's instructions.
func (l *Lab) Page() string {
	data, err := docs.Labs.ReadFile(fmt.Sprintf("labs/%02d-%s.md", l.N, l.Slug))
	if err != nil {
		return fmt.Sprintf("# Lab %d — %s\n\n(no page: %v)\n", l.N, l.Title, err)
	}
	return string(data)
}

// Progress is what a user has done, kept in ~/.local/state/glassbox/labs.json
// (XDG_STATE_HOME).
type Progress struct {
	Passed []int       `json:"passed"`
	Hints  map[int]int `json:"hints"` // hints shown so far, per lab
	path   string
}

// LoadProgress reads the user's progress (empty if there is none yet).
func LoadProgress() (*Progress, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(home, ".local", "state")
	}
	p := &Progress{Hints: map[int]int{}, path: filepath.Join(dir, "glassbox", "labs.json")}
	data, err := os.ReadFile(p.path)
	if err == nil {
		err = json.Unmarshal(data, p)
	}
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	if p.Hints == nil {
		p.Hints = map[int]int{}
	}
	return p, nil
}

// Save writes the progress atomically.
func (p *Progress) Save() error {
	if err := os.MkdirAll(filepath.Dir(p.path), 0o755); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(p, "", "  ")
	return atomicfile.WriteFile(p.path, data, 0o644)
}

// Done says whether lab n was passed.
func (p *Progress) Done(n int) bool {
	for _, d := range p.Passed {
		if d == n {
			return true
		}
	}
	return false
}

// Pass records lab n as passed.
func (p *Progress) Pass(n int) {
	if !p.Done(n) {
		p.Passed = append(p.Passed, n)
	}
}

// Reset forgets lab n and removes its directory and its containers (those
// named lab<N> or lab<N>-…).
func Reset(e *Env, l *Lab, p *Progress) error {
	out, _ := e.glassbox("ps", "-a", "--format", "json")
	var recs []struct{ ID, Name string }
	json.Unmarshal([]byte(out), &recs)
	prefix := fmt.Sprintf("lab%d", l.N)
	for _, r := range recs {
		if r.Name == prefix || strings.HasPrefix(r.Name, prefix+"-") {
			e.glassbox("rm", "-f", r.ID)
		}
	}
	p.Passed = removeInt(p.Passed, l.N)
	delete(p.Hints, l.N)
	if err := os.RemoveAll(e.Dir(l)); err != nil {
		return err
	}
	return p.Save()
}

func removeInt(s []int, v int) []int {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
