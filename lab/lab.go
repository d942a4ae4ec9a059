// Package lab is glassbox's workshop: numbered labs, each a page of
// docs/labs (embedded in the binary), a start that prepares what the lab
// needs, progressive hints, and a check that reads what the attendee made
// from the kernel and from the runs' traces — never from what they typed.
package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/docs"
	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/internal/atomicfile"
)

// Lab is one exercise.
type Lab struct {
	N     int
	Slug  string // also its page: docs/labs/NN-slug.md
	Title string
	// Start prepares the lab (files in its directory, images) and says what
	// the attendee needs to know of it, if anything; may be nil.
	Start func(*Env) (string, error)
	// Check returns what is still missing; none means the lab is done.
	Check func(*Env) []string
	// Clean stops what Start left running outside the lab's directory (a
	// server); may be nil.
	Clean func(*Env)
	Hints []string
}

// Env is where labs run: the state root the attendee's glassbox uses, the
// glassbox binary, a directory of the lab's own files, and who the attendee is.
type Env struct {
	Root     string // glassbox's state root
	Glassbox string // the glassbox executable
	Home     string // the attendee's ~/glassbox-labs, or GLASSBOX_LABS
	Attendee Attendee
}

// Attendee is the person doing the labs. glassbox needs root, so on a shared
// machine each attendee runs it through sudo: the user behind sudo
// (SUDO_USER) is the attendee, and their labs' files go in their own home,
// owned by them so they can edit them without sudo.
type Attendee struct {
	Name     string
	Home     string
	UID, GID int // -1: leave the owner as it is (glassbox was not run through sudo)
}

// validName is a user name as useradd(8) allows it: it names a file.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}\$?$`) })

// CurrentAttendee is the user behind sudo, else the user running glassbox.
func CurrentAttendee() (Attendee, error) {
	if name := os.Getenv("SUDO_USER"); name != "" && name != "root" {
		u, err := user.Lookup(name)
		if err != nil {
			return Attendee{}, fmt.Errorf("SUDO_USER=%s: %w", name, err)
		}
		if !validName().MatchString(u.Username) {
			return Attendee{}, fmt.Errorf("SUDO_USER=%q: not a user name this machine could have", name)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return Attendee{Name: u.Username, Home: u.HomeDir, UID: uid, GID: gid}, nil
	}
	u, err := user.Current()
	if err != nil {
		return Attendee{}, err
	}
	if !validName().MatchString(u.Username) {
		return Attendee{}, fmt.Errorf("user %q: not a name a progress file can have", u.Username)
	}
	return Attendee{Name: u.Username, Home: u.HomeDir, UID: -1, GID: -1}, nil
}

// Own gives path, and what is beneath it, to the attendee.
func (a Attendee) Own(path string) error {
	if a.UID < 0 {
		return nil
	}
	return filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, a.UID, a.GID)
	})
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

// createIn creates (or truncates) a file in a lab's directory. The directory
// is the attendee's and glassbox runs as root: never through a symlink left
// there, in place of the directory or of the file.
func createIn(dir, name string, perm os.FileMode) (*os.File, error) {
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w (the lab's directory must be a directory, not a link)", dir, err)
	}
	defer unix.Close(d)
	fd, err := unix.Openat(d, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm))
	if err != nil {
		return nil, fmt.Errorf("create %s: %w (glassbox lab reset and start again)", filepath.Join(dir, name), err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, name)), nil
}

// writeIn writes a whole file in a lab's directory, as createIn makes it.
func writeIn(dir, name string, data []byte, perm os.FileMode) error {
	f, err := createIn(dir, name, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

// Start makes lab l's directory, prepares what the lab needs in it, and gives
// it to the attendee; it returns what the attendee needs to know (a port).
func Start(e *Env, l *Lab) (string, error) {
	made := false // the labs' home, if this made it: the attendee's too
	if _, err := os.Stat(e.Home); os.IsNotExist(err) {
		if err := os.MkdirAll(e.Home, 0o755); err != nil {
			return "", err
		}
		made = true
	}
	if err := os.MkdirAll(e.Dir(l), 0o755); err != nil {
		return "", err
	}
	var note string
	var err error
	if l.Start != nil {
		note, err = l.Start(e)
	}
	// What glassbox made is the attendee's, also when the start failed half
	// way; only that: GLASSBOX_LABS may name a directory of others.
	owned := e.Attendee.Own(e.Dir(l))
	if made && owned == nil && e.Attendee.UID >= 0 {
		owned = os.Chown(e.Home, e.Attendee.UID, e.Attendee.GID)
	}
	if err != nil {
		return "", err
	}
	if owned != nil {
		return "", fmt.Errorf("give the lab's files to %s: %w", e.Attendee.Name, owned)
	}
	return note, nil
}

// busybox is the busybox image in the store of the state root root, which
// several labs build on.
func busybox(root string) (*image.Store, *image.Record, error) {
	store, err := image.Open(root)
	if err != nil {
		return nil, nil, err
	}
	rec, err := store.Find("busybox")
	if err != nil {
		return nil, nil, fmt.Errorf("the lab builds on the busybox image: make image builds it (or glassbox import busybox.tar)")
	}
	return store, rec, nil
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

// Progress is what an attendee has done in a state root, kept in the root:
// labs/<attendee>.json. Attendees sharing a machine, and one attendee's
// separate roots, each have their own.
type Progress struct {
	Passed []int       `json:"passed"`
	Hints  map[int]int `json:"hints"` // hints shown so far, per lab
	path   string
}

// LoadProgress reads e's attendee's progress (empty if there is none yet).
func LoadProgress(e *Env) (*Progress, error) {
	p := &Progress{Hints: map[int]int{}, path: filepath.Join(e.Root, "labs", e.Attendee.Name+".json")}
	data, err := os.ReadFile(p.path)
	if err == nil {
		err = json.Unmarshal(data, p)
	}
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("%s: %w (glassbox lab reset N starts a lab over)", p.path, err)
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

// Reset forgets lab n and removes its directory, its containers (those
// named lab<N> or lab<N>-…) and what its Start left running.
func Reset(e *Env, l *Lab, p *Progress) error {
	if l.Clean != nil {
		l.Clean(e)
	}
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
