package stages

// Stage unshare — the container's init, born into new namespaces.
//
// A namespace gives a process its own instance of one global resource: pid
// numbers (CLONE_NEWPID: the init is pid 1 and sees only its descendants),
// mounts (CLONE_NEWNS), hostname (CLONE_NEWUTS), System V IPC and POSIX message
// queues (CLONE_NEWIPC), the network stack (CLONE_NEWNET) and the cgroup tree's
// root (CLONE_NEWCGROUP). clone(2) with those flags creates them together with
// the process.
//
// Why execute a program instead of forking: the Go runtime is multi-threaded
// from its first instruction, and fork(2) copies only the calling thread, so a
// forked Go child cannot safely run Go code. The child must execve(2) right
// away — so glassbox clones glassbox-init (or itself, as `glassbox init`), a
// fresh Go program already inside the namespaces. runc re-executes itself the
// same way, with a C constructor that joins namespaces before the Go runtime
// starts its threads; glassbox can do it in plain Go because a new namespace
// — a user namespace too — comes with clone3, which needs no single-threaded
// caller. (Joining an existing user namespace does: exec into a container
// that has one is refused, stages/join.go.) The file is executed through a
// read-only view of it (open_tree(2), mount_setattr(2)), so that no container
// can overwrite it through /proc/<init>/exe: initprogram.go.
//
// The init is born in its cgroups, never moved there: moving a process (a
// pid written to cgroup.procs) takes the kernel's cgroup_threadgroup_rwsem for
// writing, which first waits for an RCU grace period — ~10 ms, more than the
// rest of a run. clone3(2) with CLONE_INTO_CGROUP and a file descriptor of the
// container's cgroup2 directory (Linux 5.7+) places the child before it runs.
// v1 trees (hybrid and legacy hosts) have no such flag, but a child starts in
// the cgroups of the thread that cloned it, and a thread may move itself
// without that lock: the cloning thread writes "0" to each v1 tree's tasks
// file, clones, and moves back (cgroupsv2.EnterThread). Then glassbox sends
// the init its configuration. Only then does the init create its cgroup
// namespace, with unshare(CLONE_NEWCGROUP): a cgroup namespace's root is the
// cgroup its creator is in at that moment.
//
// The init gets a parent-death signal (PR_SET_PDEATHSIG, SIGKILL): if glassbox
// dies, the container goes with it. Not under OCI create (Detached): glassbox
// exits there, and the kernel re-parents the init to the nearest child
// subreaper (prctl PR_SET_CHILD_SUBREAPER) above it — the caller, conmon or a
// containerd shim, which waits for it.
//
// A namespace the Spec gives by path (linux.namespaces[].path: a pod's shared
// network, IPC or UTS namespace) is joined instead of created: the init calls
// setns(2) on it, except for a pid namespace, which cannot be entered that
// way — setns(CLONE_NEWPID) only decides where the caller's children go, so
// glassbox calls it on a thread of its own and clones the init from there.
//
// Undo: SIGKILL the init (the kernel then kills every process in its pid
// namespace) and reap it.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/internal/specjson"
	"github.com/glassbox-dev/glassbox/spec"
)

var Unshare = &Stage{
	Name:      "unshare",
	Purpose:   "clone the container's init into new pid, mount, uts, ipc, net and cgroup namespaces",
	Kernel:    "clone(2) CLONE_NEWPID|NEWNS|NEWUTS|NEWIPC|NEWNET (clone3(2) + CLONE_INTO_CGROUP on v2; on v1 from a thread moved into the cgroups, tasks=0), setns(2) for namespaces given by path, unshare(2) CLONE_NEWCGROUP",
	Host:      cloneInit,
	Container: joinAndUnshare,
	Undo:      killInit,
}

// namespaceFlags are the CLONE_NEW* flag of each of the Spec's namespace
// types: clone(2)'s, and setns(2)'s, which checks that a file joined is a
// namespace of the type it is joined as.
var namespaceFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
}

// cloneFlag is the flag clone(2) gets for a new namespace: all but the
// cgroup namespace, which is left to the init (see above).
func cloneFlag(t specs.LinuxNamespaceType) uintptr {
	if t == specs.CgroupNamespace {
		return 0
	}
	return namespaceFlags[t]
}

func cloneInit(r *Run) error {
	var flags uintptr
	pidns := "" // an existing pid namespace to be born in
	for _, ns := range r.Spec.Linux.Namespaces {
		if ns.Path == "" { // an existing namespace is joined by the init (setns)
			flags |= cloneFlag(ns.Type)
		} else if ns.Type == specs.PIDNamespace {
			pidns = ns.Path
		}
	}
	if err := r.writeNetworkFiles(); err != nil {
		return err
	}
	host, init, err := newSyncSockets()
	if err != nil {
		return err
	}
	defer init.Close() // the init has its own copy as fd 3 once it is cloned
	r.sync = &syncSocket{f: host}

	view, argv, err := r.openInitProgram()
	if err != nil {
		return err
	}
	defer view.Close()
	sys := &syscall.SysProcAttr{Cloneflags: flags}
	files := []*os.File{r.Opts.IO.Stdin, r.Opts.IO.Stdout, r.Opts.IO.Stderr, init}
	if r.Opts.OCI.ExecFifo != nil {
		files = append(files, r.Opts.OCI.ExecFifo) // execFifoFd
	}
	consoleFd := 0
	if r.Opts.IO.Console != nil {
		files, consoleFd = append(files, r.Opts.IO.Console), len(files)
	}
	// If glassbox dies, so does the container (and its pid namespace). Not
	// when born into an existing pid namespace: Go's child checks getppid()
	// after setting it, and across the boundary the parent shows as 0 (the
	// exec stage sets it before execve).
	if !r.Opts.OCI.Detached && pidns == "" {
		sys.Pdeathsig = unix.SIGKILL
	}
	if flags&unix.CLONE_NEWUSER != 0 {
		mapIDs(sys, r.Spec.Linux)
	}
	v2, release, err := cloneIntoCgroup(sys, r.Cgroup)
	if err != nil {
		return err
	}
	defer release()
	start := time.Now()
	attr := &os.ProcAttr{
		Env:   []string{}, // the container's environment comes from the Spec, in the exec stage
		Files: files,
		Sys:   sys,
	}
	var bornIn []string
	startProcess := bornInCgroups(r.Cgroup, &bornIn, os.StartProcess)
	if pidns != "" {
		inCgroups := startProcess
		startProcess = func(path string, argv []string, attr *os.ProcAttr) (*os.Process, error) {
			return r.startInPidNamespace(pidns, path, argv, attr, inCgroups)
		}
	}
	proc, err := startProcess(view.Path(), argv, attr)
	if err != nil && sys.UseCgroupFD && (errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.E2BIG)) {
		// A kernel before 5.7: plain clone, then the cgroup.procs write.
		sys.UseCgroupFD = false
		proc, err = startProcess(view.Path(), argv, attr)
	}
	if sys.UseCgroupFD {
		bornIn = append(bornIn, v2)
	}
	step := "clone " + CloneFlagNames(uint64(flags))
	if pidns != "" {
		step = "setns " + pidns + " CLONE_NEWPID, " + step
	}
	if sys.UseCgroupFD {
		step = "clone3 " + CloneFlagNames(uint64(flags)|unix.CLONE_INTO_CGROUP)
	}
	if err != nil {
		r.steps.record(step, start, err)
		return callError(strings.Replace(step, " ", "(", 1)+")", err, cloneHint(err))
	}
	kv := []string{"glassbox.init.pid", strconv.Itoa(proc.Pid), "process.executable.path", view.file}
	if len(bornIn) > 0 {
		kv = append(kv, "glassbox.cgroup.born_in", strings.Join(bornIn, " "))
	}
	for _, ns := range []string{"pid", "mnt", "uts", "ipc", "net"} {
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", proc.Pid, ns)); err == nil {
			kv = append(kv, "glassbox.ns."+ns, link)
		}
	}
	r.steps.record(step, start, nil, kv...)
	r.mu.Lock()
	r.init = proc
	r.mu.Unlock()
	r.Pid, r.PidStart = proc.Pid, container.ProcessStartTime(proc.Pid)
	if err := r.Save(); err != nil {
		return err
	}
	if err := r.Cgroup.Attach(proc.Pid, bornIn); err != nil {
		return &Error{Err: err, Msg: err.Error()}
	}
	cfg := &InitConfig{Protocol: protocol, Spec: specjson.Init{Spec: r.Spec}, Rootfs: r.rootfsDir(), Fail: os.Getenv("GLASSBOX_TEST_FAIL"), ExecFifo: r.Opts.OCI.ExecFifo != nil, Detached: r.Opts.OCI.Detached, ConsoleFd: consoleFd, Steps: r.traced(), Cgroups: r.Cgroup.Trees()}
	if r.Spec.Hooks != nil {
		cfg.State, _ = json.Marshal(r.State(specs.StateCreating))
		cfg.HookEnv = r.HookEnv("mount", "oci")
	}
	if err := r.sync.send(message{Kind: "config", Config: cfg}); err != nil {
		return fmt.Errorf("sync socket: send config: %w", err)
	}
	return nil
}

// cloneIntoCgroup makes the clone place the child in the container's cgroup2
// directory (CLONE_INTO_CGROUP, with a descriptor of it), if there is one,
// and returns that directory; release closes the descriptor after the clone.
func cloneIntoCgroup(sys *syscall.SysProcAttr, cg *cgroupsv2.Cgroup) (v2 string, release func(), err error) {
	_, v2, _ = cg.ID()
	if v2 == "" {
		return "", func() {}, nil
	}
	dir, err := os.Open(v2)
	if err != nil {
		return "", nil, &Error{Msg: fmt.Sprintf("open %s: %v", v2, err)}
	}
	sys.UseCgroupFD, sys.CgroupFD = true, int(dir.Fd())
	return v2, func() { dir.Close() }, nil
}

// startFunc starts a process, as os.StartProcess does.
type startFunc func(path string, argv []string, attr *os.ProcAttr) (*os.Process, error)

// bornInCgroups makes start clone from a thread that has moved itself into
// cg's v1 cgroups first (cgroupsv2.EnterThread), so that the child is born in
// them, adds them to *bornIn, and moves the thread back after the clone.
func bornInCgroups(cg *cgroupsv2.Cgroup, bornIn *[]string, start startFunc) startFunc {
	return func(path string, argv []string, attr *os.ProcAttr) (*os.Process, error) {
		runtime.LockOSThread() // the thread that moves is the one that clones
		defer runtime.UnlockOSThread()
		entered, leave, err := cg.EnterThread()
		if err != nil {
			return nil, &Error{Err: err, Msg: err.Error()}
		}
		p, err := start(path, argv, attr)
		if lerr := leave(); lerr != nil {
			if p != nil {
				p.Kill()
				p.Wait()
			}
			return nil, &Error{Err: lerr, Msg: "move the cloning thread back to glassbox's own cgroups: " + lerr.Error()}
		}
		if err == nil {
			*bornIn = append(*bornIn, entered...)
		}
		return p, err
	}
}

// sameFile says whether f is the file at path (the same namespace, for nsfs
// files).
func sameFile(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

func cloneHint(err error) string {
	switch {
	case errors.Is(err, unix.EPERM):
		return "creating namespaces needs root (CAP_SYS_ADMIN)"
	case errors.Is(err, unix.EINVAL):
		return "the kernel lacks one of these namespace types (glassbox doctor)"
	case errors.Is(err, unix.ENOSPC):
		return "a namespace count limit was reached (/proc/sys/user/max_*_namespaces)"
	}
	return ""
}

// joinAndUnshare is the init's half: it joins the namespaces the Spec names
// by path (setns(2): --network container:<id> shares that container's
// network namespace; `glassbox exec` joins all of a running container's),
// then creates its cgroup namespace unless it joined one. Every namespace
// file is opened before the first setns, and the mount namespace is joined
// last: after it, /proc is the container's, where the paths mean nothing.
func joinAndUnshare(in *Init) error {
	if newNamespace(in.Spec, specs.UserNamespace) {
		if err := becomeNamespaceRoot(in); err != nil {
			return err
		}
	}
	type joined struct {
		ns specs.LinuxNamespace
		f  *os.File
	}
	var join []joined
	defer func() {
		for _, j := range join {
			j.f.Close()
		}
	}()
	for _, ns := range in.Spec.Linux.Namespaces {
		if ns.Path == "" || ns.Type == specs.PIDNamespace {
			continue // a pid namespace is entered by being cloned into it (startInPidNamespace)
		}
		f, err := os.Open(ns.Path)
		if err != nil {
			return callError("open("+ns.Path+")", err, "is the container whose namespace this joins still running?")
		}
		join = append(join, joined{ns, f})
		if ns.Type == specs.MountNamespace && sameFile(f, "/proc/self/ns/mnt") {
			return &Error{Msg: fmt.Sprintf("linux.namespaces: %s is glassbox's own mount namespace, the host's: the mount stage would pivot_root the host into the container; leave the path out for a new one, or the entry out to share it", ns.Path)}
		}
	}
	slices.SortStableFunc(join, func(a, b joined) int {
		return boolInt(a.ns.Type == specs.MountNamespace) - boolInt(b.ns.Type == specs.MountNamespace)
	})
	cgroupJoined := false
	for _, j := range join {
		flag := namespaceFlags[j.ns.Type]
		if j.ns.Type == specs.MountNamespace {
			// setns(CLONE_NEWNS) refuses a thread that shares its root and
			// working directory with others (CLONE_FS), as Go's threads do:
			// this thread, the one that will execve, gets its own first.
			start := time.Now()
			err := unix.Unshare(unix.CLONE_FS)
			in.steps.record("unshare CLONE_FS", start, err)
			if err != nil {
				return callError("unshare(CLONE_FS)", err, "")
			}
		}
		start := time.Now()
		err := unix.Setns(int(j.f.Fd()), int(flag))
		in.steps.record("setns "+j.ns.Path+" "+CloneFlagNames(uint64(flag)), start, err)
		if err != nil {
			hint := ""
			if errors.Is(err, unix.EINVAL) {
				hint = fmt.Sprintf("linux.namespaces: %s is not a %s namespace; give a /proc/<pid>/ns/%s", j.ns.Path, j.ns.Type, nsFile[j.ns.Type])
			}
			return callError(fmt.Sprintf("setns(%s, %s)", j.ns.Path, CloneFlagNames(uint64(flag))), err, hint)
		}
		cgroupJoined = cgroupJoined || j.ns.Type == specs.CgroupNamespace
	}
	if !spec.HasNamespace(in.Spec, specs.CgroupNamespace) || cgroupJoined {
		return nil
	}
	start := time.Now()
	err := unix.Unshare(unix.CLONE_NEWCGROUP)
	link, _ := os.Readlink("/proc/thread-self/ns/cgroup")
	in.steps.record("unshare CLONE_NEWCGROUP", start, err, "glassbox.ns.cgroup", link)
	if err != nil {
		return callError("unshare(CLONE_NEWCGROUP)", err, "")
	}
	return nil
}

// mapIDs has Go's fork code write the init's uid_map and gid_map (from
// glassbox, which is privileged in the parent namespace: any range may be
// mapped, and setgroups stays allowed) before the child execs. The child
// keeps its host uid 0, which is no one in the new namespace, so execve would
// drop its capabilities; raised as ambient ones (every one glassbox may hold)
// they survive it. The init then becomes the namespace's root
// (becomeNamespaceRoot).
func mapIDs(sys *syscall.SysProcAttr, l *specs.Linux) {
	for _, m := range l.UIDMappings {
		sys.UidMappings = append(sys.UidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	for _, m := range l.GIDMappings {
		sys.GidMappings = append(sys.GidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	sys.GidMappingsEnableSetgroups = true
	for c, last := 0, lastCap(); c <= last; c++ {
		if ok, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); ok == 1 {
			sys.AmbientCaps = append(sys.AmbientCaps, uintptr(c))
		}
	}
}

// becomeNamespaceRoot switches the init to uid and gid 0 of its user
// namespace (the host ids linux.uidMappings gives them): files it creates in
// the container's own mounts (the /dev tmpfs) need an owner the namespace
// can name, and the kernel raises the effective capabilities to the
// permitted ones as the euid becomes the namespace's root. The ambient
// capabilities have served; they go.
func becomeNamespaceRoot(in *Init) error {
	start := time.Now()
	err := setIDs(execUser{})
	if err == nil {
		err = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	}
	uidMap, _ := os.ReadFile("/proc/self/uid_map")
	in.steps.record("setresuid 0, setresgid 0 (root of the user namespace)", start, err, "glassbox.ns.uid_map", strings.Join(strings.Fields(string(uidMap)), " "))
	if err != nil {
		return callError("setresuid/setresgid(0) in the user namespace", err, "")
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func killInit(r *Run) error {
	r.mu.Lock()
	proc, reaped := r.init, r.reaped
	r.mu.Unlock()
	if proc != nil {
		if !reaped {
			proc.Kill()
			r.reap()
		}
		return nil
	}
	// From the record (gc): the pid may have been reused since, so compare the
	// process start time before killing anything.
	if r.Alive() {
		if err := unix.Kill(r.Pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return callError(fmt.Sprintf("kill(%d, SIGKILL)", r.Pid), err, "")
		}
	}
	return nil
}

var cloneFlagTable = []struct {
	flag uint64
	name string
}{
	{unix.CLONE_NEWNS, "CLONE_NEWNS"}, {unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
	{unix.CLONE_NEWUTS, "CLONE_NEWUTS"}, {unix.CLONE_NEWIPC, "CLONE_NEWIPC"},
	{unix.CLONE_NEWUSER, "CLONE_NEWUSER"}, {unix.CLONE_NEWPID, "CLONE_NEWPID"},
	{unix.CLONE_NEWNET, "CLONE_NEWNET"}, {unix.CLONE_NEWTIME, "CLONE_NEWTIME"},
	{unix.CLONE_VM, "CLONE_VM"}, {unix.CLONE_VFORK, "CLONE_VFORK"}, {unix.CLONE_PIDFD, "CLONE_PIDFD"},
	{unix.CLONE_INTO_CGROUP, "CLONE_INTO_CGROUP"},
	{unix.CLONE_THREAD, "CLONE_THREAD"}, {unix.CLONE_FILES, "CLONE_FILES"}, {unix.CLONE_FS, "CLONE_FS"},
	{unix.CLONE_SIGHAND, "CLONE_SIGHAND"}, {unix.CLONE_SETTLS, "CLONE_SETTLS"},
	{unix.CLONE_SYSVSEM, "CLONE_SYSVSEM"}, {unix.CLONE_PARENT_SETTID, "CLONE_PARENT_SETTID"},
	{unix.CLONE_CHILD_SETTID, "CLONE_CHILD_SETTID"}, {unix.CLONE_CHILD_CLEARTID, "CLONE_CHILD_CLEARTID"},
}

// CloneFlagNames renders clone/unshare/setns flags as a person reads them,
// namespaces first: "CLONE_NEWNS|CLONE_NEWPID". clone's low byte is the
// signal the parent gets when the child exits. (The kernel observer decodes
// the clone calls it sees with it too.)
func CloneFlagNames(f uint64) string {
	var out []string
	for _, n := range cloneFlagTable {
		if f&n.flag != 0 {
			out = append(out, n.name)
			f &^= n.flag
		}
	}
	if sig := unix.Signal(f & 0xff); sig != 0 {
		out = append(out, unix.SignalName(sig))
	}
	if rest := f &^ 0xff; rest != 0 || len(out) == 0 {
		out = append(out, fmt.Sprintf("%#x", rest))
	}
	return strings.Join(out, "|")
}
