package stages

// Join — a new process in a running container (`glassbox exec`).
//
// Nothing is created: the process enters what the container's init already
// has. Most namespaces are joined with setns(2) on a file of
// /proc/<pid>/ns/; a pid namespace cannot be entered that way (setns with
// CLONE_NEWPID only decides where the caller's *children* go), so the host
// side calls setns(CLONE_NEWPID) on one of its own threads and clones
// glassbox-init from that thread: the child is born in the container's pid
// namespace. It is born in the container's cgroups too: the cgroup2 one by
// CLONE_INTO_CGROUP, the v1 ones because that thread moved itself into them
// first (cgroupsv2.EnterThread). Then the
// init runs two container-side halves over the sync socket:
//
//	unshare  setns(2) into ipc, uts, net, cgroup and — last — mnt
//	exec     user, capabilities, no_new_privs, execve(2), as for the container's own process
//
// A Join has no teardown: the process exits, the kernel reaps it.

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/internal/specjson"
	"github.com/glassbox-dev/glassbox/spec"
)

// JoinSpec is the Spec for a process joining c: c's Spec, with process p and
// every namespace given by its /proc/<pid>/ns/ path.
func JoinSpec(c *container.Container, p *specs.Process) *specs.Spec {
	s := *c.Spec
	s.Process = p
	s.Mounts, s.Hooks = nil, nil
	linux := *s.Linux
	linux.Namespaces = nil
	for _, ns := range c.Spec.Linux.Namespaces {
		ns.Path = fmt.Sprintf("/proc/%d/ns/%s", c.Pid, nsFile[ns.Type])
		linux.Namespaces = append(linux.Namespaces, ns)
	}
	s.Linux = &linux
	return &s
}

// nsFile names each namespace type's file in /proc/<pid>/ns/.
var nsFile = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.MountNamespace: "mnt", specs.UTSNamespace: "uts",
	specs.IPCNamespace: "ipc", specs.NetworkNamespace: "net", specs.CgroupNamespace: "cgroup",
	specs.UserNamespace: "user", specs.TimeNamespace: "time",
}

// Join starts s's process in container c, whose init must be alive (running,
// or paused at a breakpoint), and returns a Run to Wait
// for and Signal; opts gives its stdio and the timing callback (its stages
// are named "join" and "exec" in the trace).
func Join(c *container.Container, s *specs.Spec, opts Options) (*Run, error) {
	if err := spec.ValidateUser(s.Process.User, "process.user"); err != nil {
		return nil, &Error{Err: err, Msg: err.Error()}
	}
	if !c.Alive() { // running, or paused at a breakpoint after its init was cloned
		return nil, &Error{Msg: fmt.Sprintf("container %s has no process to join", container.ShortID(c.ID))}
	}
	if spec.HasNamespace(c.Spec, specs.UserNamespace) {
		return nil, &Error{Msg: fmt.Sprintf("container %s has a user namespace, and entering one needs setns(CLONE_NEWUSER) from a single-threaded process, which a Go program is not: exec into it is not supported", container.ShortID(c.ID))}
	}
	r := &Run{Container: &container.Container{Record: c.Record, Dir: c.Dir}, Opts: opts, steps: stepsFor(opts), reapedCh: make(chan struct{})}
	r.Spec = s
	r.CgroupMode, _ = cgroupsv2.Detect()
	start := time.Now()
	err := r.cloneIntoContainer(c)
	r.timed(Timing{Stage: "join", Start: start, End: time.Now(), Err: err, Steps: r.hostSteps()})
	if err != nil {
		return nil, err
	}
	for _, st := range []*Stage{Unshare, Exec} {
		t := Timing{Stage: st.Name, Start: time.Now()}
		err := r.containerHalf(st, &t, nil)
		t.End, t.Err = time.Now(), err
		r.timed(t)
		if err != nil {
			r.init.Kill()
			r.reap()
			return nil, asStageError(st.Name, err)
		}
	}
	r.mu.Lock()
	r.execed = true
	r.mu.Unlock()
	return r, nil
}

// cloneIntoContainer starts glassbox-init in c's pid namespace and cgroup,
// and sends it its configuration.
func (r *Run) cloneIntoContainer(c *container.Container) error {
	host, init, err := newSyncSockets()
	if err != nil {
		return err
	}
	defer init.Close()
	r.sync = &syncSocket{f: host}
	cg, err := cgroupsv2.Reopen(c.Cgroups)
	if err != nil {
		return &Error{Err: err, Msg: err.Error()}
	}
	cg.Step = r.steps.record
	// No Pdeathsig here: Go's child checks getppid() right after setting it,
	// and across a pid namespace boundary the parent shows as 0, which the
	// check takes for a dead parent. The exec stage sets it before execve;
	// until then, the init exits when the sync socket closes.
	sys := &syscall.SysProcAttr{}
	v2, release, err := cloneIntoCgroup(sys, cg)
	if err != nil {
		return err
	}
	defer release()
	view, argv, err := r.openInitProgram()
	if err != nil {
		return err
	}
	defer view.Close()
	files := []*os.File{r.Opts.IO.Stdin, r.Opts.IO.Stdout, r.Opts.IO.Stderr, init}
	consoleFd := 0
	if r.Opts.IO.Console != nil {
		files, consoleFd = append(files, r.Opts.IO.Console), len(files)
	}
	attr := &os.ProcAttr{Env: []string{}, Files: files, Sys: sys}
	pidns := fmt.Sprintf("/proc/%d/ns/pid", c.Pid)
	start := time.Now()
	var bornIn []string
	proc, err := r.startInPidNamespace(pidns, view.Path(), argv, attr, bornInCgroups(cg, &bornIn, os.StartProcess))
	name := "setns " + pidns + " CLONE_NEWPID, clone"
	if v2 != "" {
		bornIn = append(bornIn, v2)
		name = "setns " + pidns + " CLONE_NEWPID, clone3 CLONE_INTO_CGROUP"
	}
	r.steps.record(name, start, err, "glassbox.init.pid", fmt.Sprint(pidOf(proc)))
	if err != nil {
		return &Error{Err: err, Msg: err.Error()}
	}
	r.init, r.Pid = proc, proc.Pid
	if err := cg.Attach(proc.Pid, bornIn); err != nil {
		return &Error{Err: err, Msg: err.Error()}
	}
	return r.sync.send(message{Kind: "config", Config: &InitConfig{Protocol: protocol, Spec: specjson.Init{Spec: r.Spec}, Rootfs: "/", Detached: r.Opts.OCI.Detached, ConsoleFd: consoleFd, Steps: r.traced()}})
}

// startInPidNamespace starts a program whose pid namespace is an existing
// one: setns(CLONE_NEWPID) on a thread of glassbox's own decides where that
// thread's children go, and the clone happens on it. The thread is never
// unlocked, so Go retires it with the goroutine; until the child is reaped
// it waits, since a child's parent-death signal is tied to the thread that
// cloned it.
func (r *Run) startInPidNamespace(nsPath, path string, argv []string, attr *os.ProcAttr, start startFunc) (*os.Process, error) {
	if r.reapedCh == nil {
		r.reapedCh = make(chan struct{})
	}
	type started struct {
		p   *os.Process
		err error
	}
	done := make(chan started, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(nsPath)
		if err != nil {
			done <- started{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWPID); err != nil {
			done <- started{nil, fmt.Errorf("setns(%s, CLONE_NEWPID): %w", nsPath, err)}
			return
		}
		p, err := start(path, argv, attr)
		done <- started{p, err}
		if err == nil && !r.Opts.OCI.Detached {
			<-r.reapedCh
		}
	}()
	res := <-done
	return res.p, res.err
}

func pidOf(p *os.Process) int {
	if p == nil {
		return 0
	}
	return p.Pid
}
