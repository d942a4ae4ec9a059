// Package container keeps a container's state directory and record under the
// state root (default /var/lib/glassbox):
//
//	<root>/containers/<id>/
//	    state.json   the record: what the run created (written before creating it)
//	    lock         flock(2)ed by the glassbox process that owns the container
//	    upper/ work/ overlayfs' writable layer and its scratch dir
//	    rootfs/      the overlay mount point: the container's / before pivot_root
//
// The lock is how `gc` tells a live run from a leftover: the kernel drops a flock
// when its owner dies, however it dies.
package container

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/internal/atomicfile"
	"github.com/glassbox-dev/glassbox/internal/plainfile"
	"github.com/glassbox-dev/glassbox/internal/specjson"
)

// DefaultRoot is the state root unless --root or GLASSBOX_ROOT says otherwise.
const DefaultRoot = "/var/lib/glassbox"

// OCIRoot is where glassbox-runc keeps OCI containers' state unless --root
// says otherwise: like runc's /run/runc, on a tmpfs that a reboot empties.
const OCIRoot = "/run/glassbox-runc"

// Status of a container's record.
const (
	Creating = "creating" // stages are running
	// Created: OCI create is done, and the init waits for start before
	// execve; or, not OCI, the Engine API's create made the record, and no
	// stage has run yet (start runs them all, as for an exited container).
	Created = "created"
	Running = "running" // the user's process has been exec'd
	Exited  = "exited"  // kept without --rm: the writable layer stays until `glassbox rm`
)

// Record is state.json. Everything a cleanup needs is in it, so `gc` can undo a
// run whose glassbox process was killed.
type Record struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Status string `json:"status"`
	// Breakpoint is where a run is paused (--break-at/--break-after), e.g.
	// "before mount".
	Breakpoint string    `json:"breakpoint,omitempty"`
	Created    time.Time `json:"created"`
	Started    time.Time `json:"started,omitzero"` // the latest execve of its program (run, start)
	Finished   time.Time `json:"finished,omitzero"`
	Pid        int       `json:"pid,omitempty"`
	PidStart   uint64    `json:"pidStartTime,omitempty"` // /proc/<pid>/stat field 22, against pid reuse
	ExitCode   int       `json:"exitCode"`
	// RestartCount is how many times its restart policy started it again;
	// Restarting: its monitor is waiting out the back-off before the next.
	RestartCount int      `json:"restartCount,omitempty"`
	Restarting   bool     `json:"restarting,omitempty"`
	OOMKilled    bool     `json:"oomKilled,omitempty"` // the OOM killer killed a process of the container
	IP           string   `json:"ip,omitempty"`        // its address on a bridge network
	Ports        string   `json:"ports,omitempty"`     // published: [ip:]hostPort:containerPort/proto,…
	Cgroups      []string `json:"cgroups,omitempty"`   // cgroup directories, created or about to be
	// OCI: created by an OCI caller (glassbox-runc create). No glassbox
	// process owns it after create, so a free lock does not make it a
	// leftover while its init lives; delete tears it down.
	OCI    bool   `json:"oci,omitempty"`
	Bundle string `json:"bundle,omitempty"` // the OCI bundle directory, if it came from one
	// Labels are the caller's metadata (the Engine API's; compose's project
	// and service), kept across starts.
	Labels map[string]string `json:"labels,omitempty"`
	// Traceparent is the trace context of the run that started its process
	// (OCI: create's, which start's spans join); the traces of commands on
	// that process link to it. FirstTrace is its first run's: a later start's
	// or restart's trace links to that.
	Traceparent string      `json:"traceparent,omitempty"`
	FirstTrace  string      `json:"firstTrace,omitempty"`
	Spec        *specs.Spec `json:"spec"`
}

// Container is one container's state directory and record.
type Container struct {
	Record
	Dir  string
	lock *os.File
}

// ContainersDir is where the state directories of a state root live.
func ContainersDir(root string) string { return filepath.Join(root, "containers") }

// NewID returns a random 64-hex-digit container id, like Docker's.
func NewID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the kernel's CSPRNG does not fail after boot
	}
	return hex.EncodeToString(b)
}

// ShortID is the 12-digit prefix used as default hostname and in messages.
func ShortID(id string) string { return id[:min(12, len(id))] }

// Create makes the state directory, takes its lock and writes the first
// record. A name must be unique among the state root's containers: the check
// and the record are made under a lock, so two runs cannot take one name.
//
// The state root and the containers' directories are searchable by all
// (0711; their files stay the owner's): a container with a user namespace
// reaches its rootfs below them as the namespace's root, a host uid of no
// privilege.
func Create(root, id, name string, s *specs.Spec) (*Container, error) {
	dir := filepath.Join(ContainersDir(root), id)
	if err := os.MkdirAll(ContainersDir(root), 0o711); err != nil {
		return nil, fmt.Errorf("state root %s: %w", root, err)
	}
	if name != "" && !ValidName(name) {
		return nil, fmt.Errorf("--name %q: use letters, digits, _ . - (starting with a letter or digit)", name)
	}
	unlock, name, err := takeName(root, name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// The directory appears under its name complete — locked, with its
	// record — by rename(2) from a temporary one that ps, rm and gc pass
	// over: a gc running meanwhile never sees a bare directory to take for
	// a leftover. (The lock is on the file, which the rename keeps.)
	tmp, err := os.MkdirTemp(ContainersDir(root), inProgress(creatingPrefix)+"*")
	if err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	c := &Container{Dir: tmp, Record: Record{ID: id, Name: name, Status: Creating, Created: time.Now().UTC(), Spec: s}}
	err = os.Chmod(tmp, 0o711)
	if err == nil {
		err = c.makeLock()
	}
	if err == nil {
		err = c.Save()
	}
	if err == nil {
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		c.Unlock()
		os.RemoveAll(tmp)
		if errors.Is(err, unix.ENOSPC) {
			return nil, fmt.Errorf("state dir: %w (the state root %s is full: free space there, or glassbox rm what is kept)", err, root)
		}
		return nil, fmt.Errorf("state dir: %w", err)
	}
	c.Dir = dir
	return c, nil
}

// takeName locks the state root's names (names.lock) and checks that name is
// free — or, for "", picks one that is (generatedName); the caller records
// it, then unlocks.
func takeName(root, name string) (unlock func(), taken string, err error) {
	names, err := plainfile.Open(filepath.Join(root, "names.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, "", err
	}
	if err := unix.Flock(int(names.Fd()), unix.LOCK_EX); err != nil {
		names.Close()
		return nil, "", fmt.Errorf("flock %s: %w", names.Name(), err)
	}
	owner, err := namesIn(root)
	if err != nil {
		names.Close()
		return nil, "", err
	}
	if name == "" {
		name = generatedName(func(n string) bool { return owner[n] != "" })
	}
	if id := owner[name]; id != "" {
		names.Close()
		return nil, "", &NameInUseError{Name: name, ID: id}
	}
	return func() { names.Close() }, name, nil
}

// namesIn maps the names the root's containers have to their ids. Every
// run takes its name so, against every record, and a record is mostly its
// Spec: so only the record's first fields are read, id and name, which Save
// writes first (Record's order), with a decoder that stops there.
func namesIn(root string) (map[string]string, error) {
	entries, err := os.ReadDir(ContainersDir(root))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	owner := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if id, name := recordName(filepath.Join(ContainersDir(root), e.Name(), "state.json")); name != "" {
			owner[name] = id
		}
	}
	return owner, nil
}

// recordName reads a record's leading "id" and "name".
func recordName(path string) (id, name string) {
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	d := json.NewDecoder(f)
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return "", ""
	}
	for d.More() {
		key, err := d.Token()
		if err != nil || key != "id" && key != "name" {
			return id, name
		}
		var v string
		if d.Decode(&v) != nil {
			return id, name
		}
		if key == "id" {
			id = v
		} else {
			name = v
		}
	}
	return id, name
}

// Rename gives c another name (docker rename), checked and recorded under
// the names' lock. The record is rewritten in place: a glassbox that holds
// the container reads it back before it records the exit (its monitor does;
// a foreground glassbox run keeps the name it started with).
func Rename(root string, c *Container, name string) error {
	unlock, _, err := takeName(root, name)
	if err != nil {
		return err
	}
	defer unlock()
	now, err := Load(c.Dir)
	if err != nil {
		return err
	}
	now.Name = name
	if err := now.Save(); err != nil {
		return err
	}
	c.Name = name
	return nil
}

// A state directory being made (Create) or removed (Remove) is out of its
// name, where ps, rm and gc pass it by, under one that says so and which
// process is at it: .creating-<pid>-<start time>-<random> and
// .removing-<pid>-<start time>-<id>. gc takes it for abandoned once that
// process is gone (Unfinished).
const (
	creatingPrefix = ".creating-"
	removingPrefix = ".removing-"
)

func inProgress(prefix string) string {
	return fmt.Sprintf("%s%d-%d-", prefix, os.Getpid(), ProcessStartTime(os.Getpid()))
}

// inProgressBy reads back the process a name of inProgress's names.
func inProgressBy(name string) (pid int, start uint64) {
	for _, prefix := range []string{creatingPrefix, removingPrefix} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			f := strings.SplitN(rest, "-", 3)
			if len(f) == 3 {
				pid, _ = strconv.Atoi(f[0])
				start, _ = strconv.ParseUint(f[1], 10, 64)
			}
		}
	}
	return pid, start
}

// makeLock creates the lock file of a new state directory and takes it.
func (c *Container) makeLock() error {
	f, err := plainfile.Open(filepath.Join(c.Dir, "lock"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("flock %s/lock: %w", c.Dir, err)
	}
	c.lock = f
	return nil
}

// Unfinished returns, locked, the containers whose state directory a killed
// glassbox left half made or half removed, for gc to undo and remove (a
// removal that failed half way may have left mounts behind). The process a
// directory's name gives must be gone: a live one may be between its mkdir
// and its flock, or between unlinking the lock file and its rmdir, holding
// no lock.
func Unfinished(root string) []*Container {
	removing, _ := filepath.Glob(filepath.Join(ContainersDir(root), removingPrefix+"*"))
	creating, _ := filepath.Glob(filepath.Join(ContainersDir(root), creatingPrefix+"*"))
	var out []*Container
	for _, dir := range append(removing, creating...) {
		if ProcessAlive(inProgressBy(filepath.Base(dir))) {
			continue
		}
		c := &Container{Dir: dir, Record: Record{ID: filepath.Base(dir), Status: Creating}}
		if c.Lock() == nil { // else a process it handed the lock to holds it
			out = append(out, c)
		}
	}
	return out
}

// Reopen takes the lock of an exited container to start it again (glassbox
// start): same id, name and writable layer, and s, its Spec as the caller
// re-resolved it; the figures of its last run are reset.
func Reopen(root, id string, s *specs.Spec) (*Container, error) {
	c, err := Load(filepath.Join(ContainersDir(root), id))
	if err != nil {
		return nil, err
	}
	if err := c.Lock(); errors.Is(err, ErrLocked) {
		return nil, fmt.Errorf("container %s is already running", ShortID(id))
	} else if err != nil {
		return nil, err
	}
	if c.Status != Exited && !(c.Status == Created && !c.OCI) {
		c.Unlock()
		return nil, fmt.Errorf("container %s is %s, not exited: glassbox gc cleans up a dead one", ShortID(id), c.Status)
	}
	last := c.Record
	c.Record = Record{ID: last.ID, Name: last.Name, Status: Creating, Created: last.Created, Spec: s, Labels: last.Labels, RestartCount: last.RestartCount, FirstTrace: last.FirstTrace}
	if err := c.Save(); err != nil {
		c.Unlock()
		return nil, err
	}
	return c, nil
}

// Adopt loads a container whose lock this process inherited as file
// descriptor fd (a detached container's monitor hands it from program to
// program across execve(2), so the flock never lapses).
func Adopt(dir string, fd int) (*Container, error) {
	c, err := Load(dir)
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	c.lock = os.NewFile(uintptr(fd), filepath.Join(dir, "lock"))
	return c, nil
}

// InheritLock lets the lock's file descriptor survive execve(2) and returns
// its number, for Adopt in the next program.
func (c *Container) InheritLock() (int, error) {
	fd := int(c.lock.Fd())
	_, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
	return fd, err
}

// Load reads a container's record without locking it.
func Load(dir string) (*Container, error) {
	data, err := plainfile.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, err
	}
	c := &Container{Dir: dir}
	f := recordFile{Record: &c.Record}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s/state.json: %w", dir, err)
	}
	c.Spec = f.Spec.Spec
	return c, nil
}

// recordFile is a record as state.json holds it: its spec as specjson.Linux,
// which hides the Record's own spec field.
type recordFile struct {
	*Record
	Spec specjson.Linux `json:"spec"`
}

// Lock takes the container's lock and rereads its record, which may have
// changed since it was read unlocked (a run that was running when ps or gc
// listed it may have exited since). ErrLocked means a live glassbox process
// owns the container, ErrGone that its state directory is gone (Remove
// renames it away first, so a directory under its name is never half
// removed).
//
// It does not wait for a running container's owner. An exited container's
// lock, or a created OCI one's (its caller owns it, no glassbox does), is
// held only for a moment — by a gc, rm or delete looking at it, or by its
// glassbox between recording the exit and exiting — and that is waited for.
func (c *Container) Lock() error {
	f, err := plainfile.Open(filepath.Join(c.Dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		return ErrGone
	}
	if err != nil {
		return err
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	// Held while nothing runs (exited, created, an OCI container's): by a
	// moment's probe (engine.Running, a gc passing by), whose end is worth
	// waiting for — a start that lost that race would fail.
	if errors.Is(err, unix.EWOULDBLOCK) {
		if now, lerr := Load(c.Dir); lerr == nil && (now.Status == Exited || now.Status == Created || now.OCI && now.Status != Creating) {
			err = waitFlock(f, time.Second)
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return ErrLocked
		}
		return fmt.Errorf("flock %s/lock: %w", c.Dir, err)
	}
	// The lock may have been let go by a Remove, whose lock file is
	// unlinked by then: holding that is holding nothing.
	if held, err := f.Stat(); err != nil || !sameFile(held, filepath.Join(c.Dir, "lock")) {
		f.Close()
		return ErrGone
	}
	c.lock = f
	if fresh, err := Load(c.Dir); err == nil {
		c.Record = fresh.Record
	}
	return nil
}

// sameFile says whether path still names the file fi describes.
func sameFile(fi os.FileInfo, path string) bool {
	now, err := os.Stat(path)
	return err == nil && os.SameFile(fi, now)
}

// waitFlock tries to take f's lock for up to d. (A blocking flock(2) cannot
// be given up on; this is for locks held a moment, so it polls.)
func waitFlock(f *os.File, d time.Duration) error {
	for deadline, pause := time.Now().Add(d), time.Millisecond; ; pause = min(2*pause, 20*time.Millisecond) {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(pause)
	}
}

// ErrLocked: another live glassbox process owns this container.
var ErrLocked = errors.New("container is in use by a running glassbox")

// ErrGone: the container's state directory was removed.
var ErrGone = errors.New("its state directory was removed")

// NameInUseError: another container has the name.
type NameInUseError struct{ Name, ID string }

func (e *NameInUseError) Error() string {
	return fmt.Sprintf("the name %q is already in use by container %s (glassbox rm it, or pick another --name)", e.Name, ShortID(e.ID))
}

// ErrNotFound: no container has that name, id or id prefix.
var ErrNotFound = errors.New("no such container")

// Save writes state.json atomically (a temporary file, then rename(2) over it).
func (c *Container) Save() error {
	data, err := json.MarshalIndent(recordFile{&c.Record, specjson.Linux{Spec: c.Spec}}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(c.Dir, "state.json"), data, 0o600)
}

// Path returns a path inside the state directory.
func (c *Container) Path(name string) string { return filepath.Join(c.Dir, name) }

// Remove deletes the state directory and releases the lock. The directory
// first leaves its name by rename(2), so whoever looks it up finds it whole
// or not at all; the lock file goes last, so that if this process dies half
// way, gc can take the lock and finish (SweepUnfinished).
func (c *Container) Remove() error {
	defer c.Unlock()
	c.Event("destroy")
	away := filepath.Join(filepath.Dir(c.Dir), inProgress(removingPrefix)+filepath.Base(c.Dir))
	if !strings.HasPrefix(filepath.Base(c.Dir), ".") {
		if err := os.Rename(c.Dir, away); err != nil {
			return fmt.Errorf("remove state dir: %w", err)
		}
		c.Dir = away
	}
	entries, err := os.ReadDir(c.Dir)
	if err != nil {
		return fmt.Errorf("remove state dir: %w", err)
	}
	for _, e := range entries {
		if e.Name() != "lock" {
			if err := os.RemoveAll(c.Path(e.Name())); err != nil {
				return fmt.Errorf("remove state dir: %w", err)
			}
		}
	}
	if err := os.Remove(c.Path("lock")); err != nil {
		return fmt.Errorf("remove state dir: %w", err)
	}
	// Once the lock file is gone, gc may rmdir it first (SweepUnfinished).
	if err := os.Remove(c.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove state dir: %w", err)
	}
	return nil
}

// removalMark in a state directory asks for the container's removal once the
// glassbox that holds it lets go: rm -f, when it gives up waiting for a
// teardown, leaves the removal to that teardown (as with --rm) and to gc.
const removalMark = "remove-when-done"

// MarkForRemoval asks for the container to be removed after its teardown.
func (c *Container) MarkForRemoval() error {
	return os.WriteFile(c.Path(removalMark), nil, 0o600)
}

// MarkedForRemoval says whether rm -f asked for that.
func (c *Container) MarkedForRemoval() bool {
	_, err := os.Stat(c.Path(removalMark))
	return err == nil
}

// Unlock releases the lock (closing the file drops the flock).
func (c *Container) Unlock() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

// List loads every container record under root, oldest first by directory order.
func List(root string) ([]*Container, error) {
	entries, err := os.ReadDir(ContainersDir(root))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") { // being made (Create)
			continue
		}
		dir := filepath.Join(ContainersDir(root), e.Name())
		c, err := Load(dir)
		if err != nil {
			// A run killed before its first record leaves a bare directory.
			c = &Container{Dir: dir, Record: Record{ID: e.Name(), Status: Creating}}
		}
		out = append(out, c)
	}
	return out, nil
}

// ValidName says whether s can name a container or a network, as in Docker:
// letters, digits, _ . - after a first letter or digit, at most 64 bytes.
// (A loop, not a regexp: compiling one costs every glassbox start ~0.5 ms.)
func ValidName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, c := range s {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// Find returns the container with this name, or whose id starts with prefix
// (which must then be unique).
func Find(root, prefix string) (*Container, error) {
	all, err := List(root)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.Name == prefix && prefix != "" {
			return c, nil
		}
	}
	var found *Container
	for _, c := range all {
		if len(prefix) > 0 && len(prefix) <= len(c.ID) && c.ID[:len(prefix)] == prefix {
			if found != nil {
				return nil, fmt.Errorf("container id prefix %q is ambiguous", prefix)
			}
			found = c
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, prefix)
	}
	return found, nil
}

// ProcessStartTime is field 22 of /proc/<pid>/stat (clock ticks since boot); 0
// when the process is gone. With the pid it identifies a process uniquely.
func ProcessStartTime(pid int) uint64 {
	start, _ := processStat(pid)
	return start
}

// processStat reads a process's start time and state (R, S, Z, …) from
// /proc/<pid>/stat.
func processStat(pid int) (start uint64, state string) {
	data, err := plainfile.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, ""
	}
	// The command name (field 2) may contain spaces; fields resume after its ')'.
	rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
	fields := strings.Fields(rest)
	if len(fields) < 20 {
		return 0, ""
	}
	start, _ = strconv.ParseUint(fields[19], 10, 64)
	return start, fields[0]
}

// Alive says whether the container's init is still the process the record
// names (a pid alone may have been reused), and has not exited: a zombie
// waiting for its parent (an OCI caller's wait) is not alive.
func (c *Container) Alive() bool { return ProcessAlive(c.Pid, c.PidStart) }

// ProcessAlive says whether pid is still the process that started at start
// (its ProcessStartTime), and has not exited: a zombie is not alive.
func ProcessAlive(pid int, start uint64) bool {
	if pid <= 0 || start == 0 {
		return false
	}
	s, state := processStat(pid)
	return s == start && state != "Z"
}
