package stages

// Stage exec — become the container's program.
//
// Everything left is per-process state that execve(2) keeps:
//
//   - with process.terminal (-t), the pseudo-terminal, made in the
//     container's devpts (console.go), and a new session whose controlling
//     terminal it is (setsid(2), TIOCSCTTY);
//   - sethostname(2) in the new UTS namespace;
//   - rlimits (setrlimit(2)) and /proc/self/oom_score_adj;
//   - linux.personality (personality(2)), process.ioPriority (ioprio_set(2))
//     and process.scheduler (sched_setattr(2));
//   - the working directory (created if missing, as Docker does);
//   - the user: setgroups(2), setresgid(2), setresuid(2) — with
//     PR_SET_KEEPCAPS so the capabilities survive the switch away from uid 0;
//   - capabilities: every capability outside the Spec's bounding set is dropped
//     for good (prctl PR_CAPBSET_DROP), then capset(2) sets the effective,
//     permitted and inheritable sets and prctl(PR_CAP_AMBIENT) the ambient one;
//   - no_new_privs (prctl PR_SET_NO_NEW_PRIVS): setuid binaries and file
//     capabilities cannot raise privileges from here on;
//   - linux.seccomp: a BPF program the kernel runs on every system call
//     (seccomp(2), see the seccomp package), installed before the capabilities
//     go when there is no no_new_privs (it then needs CAP_SYS_ADMIN), else
//     as late as possible, right before the last word to the host;
//   - the parent-death signal again (prctl PR_SET_PDEATHSIG: a uid change
//     clears it), unless the process is Detached — an OCI caller waits for it;
//   - every descriptor above 2 is marked close-on-exec (close_range(2)), so
//     nothing of glassbox's leaks into the container — the sync socket included,
//     whose closing tells the host side that execve succeeded;
//   - under OCI create, a wait for `start`: open(2) of a FIFO for writing
//     blocks until someone opens it for reading, which only start does; then
//     the startContainer hooks;
//   - execve(2) of the program, looked up in the container's PATH — or,
//     with --init, fork(2) and execve(2) of it as a child, the init staying
//     pid 1 to reap orphans and pass its signals on (reap, below), and closing
//     the sync socket itself, as the execve would have.
//
// Credentials and capabilities are per-thread in the kernel. The init's main
// goroutine is locked to its thread, which is the one that makes these calls and
// then execs, so the new program inherits exactly them.

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/seccomp"
	"github.com/glassbox-dev/glassbox/spec"
)

var Exec = &Stage{
	Name:      "exec",
	Purpose:   "set hostname, limits, user, capabilities and no_new_privs, then execve the program",
	Kernel:    "sethostname(2), setrlimit(2), setresuid/setresgid(2), capset(2), prctl(2), seccomp(2), close_range(2), execve(2)",
	Container: execProgram,
}

func execProgram(in *Init) error {
	s := in.Spec
	p := s.Process
	// In the container, before anything of the program's; under OCI create,
	// once start has released the init (waitForStart).
	if s.Hooks != nil && !in.execFifo {
		if err := in.runInitHooks("startContainer", s.Hooks.StartContainer); err != nil {
			return err
		}
	}
	if newNamespace(s, specs.UTSNamespace) { // a joined one keeps its name
		if s.Hostname != "" {
			start := time.Now()
			err := unix.Sethostname([]byte(s.Hostname))
			in.steps.record("sethostname "+s.Hostname, start, err)
			if err != nil {
				return callError("sethostname("+s.Hostname+")", err, "")
			}
		}
		if s.Domainname != "" {
			start := time.Now()
			err := unix.Setdomainname([]byte(s.Domainname))
			in.steps.record("setdomainname "+s.Domainname, start, err)
			if err != nil {
				return callError("setdomainname("+s.Domainname+")", err, "")
			}
		}
	}
	if p.Terminal && in.consoleFd != 0 {
		if err := in.setupConsole(p.ConsoleSize); err != nil {
			return err
		}
	}
	if p.Terminal {
		// A terminal belongs to a session: a new one, led by this process,
		// with the pseudo-terminal on fd 0 as its controlling terminal. The
		// terminal's line discipline then turns Ctrl-C into SIGINT for the
		// foreground process group, as in any shell.
		start := time.Now()
		_, err := unix.Setsid()
		if err == nil {
			err = unix.IoctlSetInt(0, unix.TIOCSCTTY, 0)
		}
		in.steps.record("setsid, ioctl TIOCSCTTY", start, err)
		if err != nil {
			return callError("setsid + ioctl(0, TIOCSCTTY)", err, "process.terminal needs a terminal on stdin")
		}
	}
	start := time.Now()
	user, err := resolveUser(p.User, s.Annotations[spec.UserAnnotation], s.Annotations[spec.GroupAddAnnotation])
	in.steps.record("resolve user", start, err, "process.owner", s.Annotations[spec.UserAnnotation],
		"glassbox.uid", strconv.FormatUint(uint64(user.UID), 10), "glassbox.gid", strconv.FormatUint(uint64(user.GID), 10))
	if err != nil {
		return err
	}
	if p.Terminal && in.consoleFd != 0 && user.UID != 0 {
		// The terminal is the user's, as login(1) would make it: a program
		// that reopens /dev/tty must be allowed to.
		if err := unix.Fchown(0, int(user.UID), -1); err != nil {
			return callError(fmt.Sprintf("fchown(the terminal, %d)", user.UID), err, "")
		}
	}
	env := p.Env
	if !spec.HasEnv(env, "HOME") {
		env = append(env, "HOME="+user.Home)
	}
	if err := in.setRlimits(p.Rlimits); err != nil {
		return err
	}
	if err := in.setPersonalityAndIOPriority(s.Linux.Personality, p.IOPriority); err != nil {
		return err
	}
	if sch := p.Scheduler; sch != nil {
		attr := unix.SchedAttr{Policy: spec.SchedulerPolicies[sch.Policy], Nice: sch.Nice, Priority: uint32(sch.Priority),
			Runtime: sch.Runtime, Deadline: sch.Deadline, Period: sch.Period}
		for _, f := range sch.Flags {
			attr.Flags |= spec.SchedulerFlags[f]
		}
		start := time.Now()
		err := unix.SchedSetAttr(0, &attr, 0)
		in.steps.record(fmt.Sprintf("sched_setattr %s nice %d priority %d", sch.Policy, sch.Nice, sch.Priority), start, err)
		if err != nil {
			return callError(fmt.Sprintf("sched_setattr(0, {%s, nice %d, priority %d})", sch.Policy, sch.Nice, sch.Priority), err,
				"real-time policies need CAP_SYS_NICE and a priority of 1–99; SCHED_DEADLINE needs runtime ≤ deadline ≤ period")
		}
	}
	if p.OOMScoreAdj != nil {
		v := strconv.Itoa(*p.OOMScoreAdj)
		start := time.Now()
		err := os.WriteFile("/proc/self/oom_score_adj", []byte(v), 0)
		in.steps.record("write oom_score_adj="+v, start, err)
		if err != nil {
			return callError("write /proc/self/oom_score_adj="+v, err, "")
		}
	}
	start = time.Now()
	if err := os.MkdirAll(p.Cwd, 0o755); err != nil {
		return callError("mkdir("+p.Cwd+")", err, "process.cwd / -w")
	}
	err = unix.Chdir(p.Cwd)
	in.steps.record("chdir "+p.Cwd, start, err)
	if err != nil {
		return callError("chdir("+p.Cwd+")", err, "")
	}
	start = time.Now()
	path, err := lookPath(p.Args[0], env)
	in.steps.record("lookup "+p.Args[0]+" in $PATH", start, err, "process.executable.path", path)
	if err != nil {
		return err
	}
	// Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it
	// while the init still has every capability.
	if s.Linux.Seccomp != nil && !p.NoNewPrivileges {
		if err := in.loadSeccomp(s); err != nil {
			return err
		}
	}
	if err := in.setCredentials(user, p.Capabilities); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		start := time.Now()
		err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
		in.steps.record("prctl PR_SET_NO_NEW_PRIVS", start, err)
		if err != nil {
			return callError("prctl(PR_SET_NO_NEW_PRIVS)", err, "")
		}
	}
	// The kernel clears the parent-death signal when the uid changes; set it
	// again so the container still dies with glassbox (unless an OCI caller
	// owns it: then glassbox create exits before it runs).
	if !in.detached {
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
			return callError("prctl(PR_SET_PDEATHSIG)", err, "")
		}
	}
	umask := 0o022
	if p.User.Umask != nil {
		umask = int(*p.User.Umask)
	}
	unix.Umask(umask)
	start = time.Now()
	err = closeOnExecFrom(3)
	in.steps.record("close_range 3..~0 CLOSE_RANGE_CLOEXEC", start, err)
	if err != nil {
		return err
	}
	// With no_new_privs, as close to execve as possible: the fewer calls
	// after it, the fewer a profile must allow.
	if s.Linux.Seccomp != nil && p.NoNewPrivileges {
		if err := in.loadSeccomp(s); err != nil {
			return err
		}
	}
	// The last word to the host: its steps. After a successful execve nothing
	// of this program is left to say anything.
	if err := in.beforeExecve(path); err != nil {
		return fmt.Errorf("sync socket: %w", err)
	}
	if in.execFifo {
		in.waitForStart() // and from here on, nobody listens on the sync socket
		if s.Hooks != nil {
			if err := in.runInitHooks("startContainer", s.Hooks.StartContainer); err != nil {
				fmt.Fprintln(os.Stderr, "glassbox:", asStageError("exec", err)) // after start, only stderr listens
				os.Exit(1)
			}
		}
	}
	if in.reaperSignals != nil { // --init (InitMain)
		err = in.reap(path, p, env) // returns only if the program could not start
	} else {
		err = unix.Exec(path, p.Args, env)
	}
	e := callError(fmt.Sprintf("execve(%s)", path), err, "")
	e.Msg = fmt.Sprintf("exec: %q: %s", path, e.Msg)
	e.ExitCode = 126
	if errors.Is(err, unix.ENOENT) {
		e.ExitCode = 127
		e.Hint = "the program or its ELF interpreter (dynamic loader) is missing in the rootfs"
	}
	if in.execFifo {
		fmt.Fprintln(os.Stderr, "glassbox:", asStageError("exec", e))
		os.Exit(e.ExitCode)
	}
	return e
}

// reap runs the program as this process's child and stays pid 1 for it
// (--init, as Docker's docker-init, tini): the zombies the program leaves —
// orphans are the namespace's pid 1's to wait(2) for — are reaped, the
// signals sent to pid 1 (stop's) go on to the program, which a namespace's
// pid 1 would drop without a handler, and its exit status is this process's.
// With a terminal, the program leads the terminal's foreground process group.
func (in *Init) reap(path string, p *specs.Process, env []string) error {
	sigs := in.reaperSignals.Caught() // before the program exists: none is lost
	// What came during the stages is not the program's: a hook's SIGCHLD,
	// or a signal that pid 1, without a handler until now, would drop.
	for len(sigs) > 0 {
		<-sigs
	}
	attr := &syscall.ProcAttr{Env: env, Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{Setpgid: true}}
	if p.Terminal {
		attr.Sys.Foreground, attr.Sys.Ctty = true, 0
	}
	pid, err := syscall.ForkExec(path, p.Args, attr)
	if err != nil {
		return err // the init exits: the signals need no release
	}
	in.sock.f.Close() // as execve would close it: the host hears the program runs
	go func() {
		for sig := range sigs {
			if sig != unix.SIGCHLD && sig != unix.SIGURG { // the Go runtime's preemption signal is its own
				unix.Kill(pid, sig.(syscall.Signal))
			}
		}
	}()
	for {
		var ws unix.WaitStatus
		reaped, err := unix.Wait4(-1, &ws, 0, nil)
		switch {
		case err == unix.EINTR:
		case err != nil:
			os.Exit(125) // no child left, and the program's status unknown
		case reaped == pid && ws.Signaled():
			os.Exit(128 + int(ws.Signal()))
		case reaped == pid:
			os.Exit(ws.ExitStatus())
		}
	}
}

// setPersonalityAndIOPriority: linux.personality (personality(2): LINUX32
// makes uname(2) report a 32-bit machine, for 32-bit builds) and
// process.ioPriority (ioprio_set(2) for this process, IOPRIO_WHO_PROCESS 0:
// class << 13 | priority), while the capabilities an RT class needs are
// still there. Both survive execve.
func (in *Init) setPersonalityAndIOPriority(pers *specs.LinuxPersonality, io *specs.LinuxIOPriority) error {
	if pers != nil {
		persona := uintptr(0) // PER_LINUX
		if pers.Domain == specs.PerLinux32 {
			persona = 0x0008 // PER_LINUX32
		}
		start := time.Now()
		_, _, errno := unix.Syscall(unix.SYS_PERSONALITY, persona, 0, 0)
		in.steps.record("personality "+string(pers.Domain), start, errnoErr(errno))
		if errno != 0 {
			return callError(fmt.Sprintf("personality(%#x)", persona), errno, "")
		}
	}
	if io != nil {
		value := uintptr(spec.IOPriorityClasses[io.Class]<<13 | io.Priority)
		start := time.Now()
		_, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, 1 /* IOPRIO_WHO_PROCESS */, 0, value)
		in.steps.record(fmt.Sprintf("ioprio_set %s %d", io.Class, io.Priority), start, errnoErr(errno))
		if errno != 0 {
			return callError(fmt.Sprintf("ioprio_set(IOPRIO_WHO_PROCESS, 0, %#x)", value), errno, "")
		}
	}
	return nil
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// loadSeccomp compiles linux.seccomp and installs it on every thread of the
// init; execve keeps it for the program.
func (in *Init) loadSeccomp(s *specs.Spec) error {
	profile := s.Linux.Seccomp
	start := time.Now()
	f, err := seccomp.Compile(profile)
	if err == nil {
		err = f.Load()
	}
	if err != nil {
		in.steps.record("seccomp(SECCOMP_SET_MODE_FILTER)", start, err)
		return callError("seccomp(SECCOMP_SET_MODE_FILTER)", err, "check linux.seccomp")
	}
	var arches []string
	for _, a := range f.Arches {
		arches = append(arches, string(a))
	}
	in.steps.record(fmt.Sprintf("seccomp(SECCOMP_SET_MODE_FILTER): %d rules, %d BPF instructions", f.Rules, len(f.Program)), start, nil,
		"glassbox.seccomp.profile", cmp.Or(s.Annotations[spec.SeccompAnnotation], "config.json"),
		"glassbox.seccomp.default_action", string(profile.DefaultAction),
		"glassbox.seccomp.arches", strings.Join(arches, ","),
		"glassbox.seccomp.unknown_names", strings.Join(f.Unknown, ","))
	return nil
}

// waitForStart blocks until `start` (OCI): opening the exec FIFO for writing
// waits for a reader, which only start provides; start then reads the one
// byte written here. The FIFO lives in the state directory, out of the
// container's sight; the init reaches it through the descriptor it was born
// with, reopened by its /proc/self/fd link.
func (in *Init) waitForStart() {
	fifo, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", execFifoFd), os.O_WRONLY, 0)
	if err == nil {
		_, err = fifo.Write([]byte{0})
		fifo.Close()
	}
	unix.Close(execFifoFd)
	if err != nil {
		fmt.Fprintf(os.Stderr, "glassbox: stage exec: open(/proc/self/fd/%d, O_WRONLY), the exec FIFO start opens: %v\n", execFifoFd, err)
		os.Exit(1)
	}
}

// lookPath finds the program in the container's PATH, as a shell would. Not
// found is exit code 127 and found-but-not-executable 126, like Docker and sh.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := checkExecutable(file); err != nil {
			return "", err
		}
		return file, nil
	}
	pathEnv := strings.TrimPrefix(spec.DefaultPath, "PATH=")
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	var denied error
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		if e := err.(*Error); e.ExitCode == 126 && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", denied
	}
	return "", &Error{Msg: fmt.Sprintf("exec: %q: executable file not found in $PATH", file), ExitCode: 127,
		Call: fmt.Sprintf("faccessat(<each of $PATH>/%s, X_OK)", file), Errno: "ENOENT",
		Hint: fmt.Sprintf("no program of that name in the container's PATH (%s): check the image, or give the program's full path", pathEnv)}
}

// checkExecutable asks the kernel whether p may be executed (faccessat
// X_OK; a directory is refused, as execve refuses it), so that a program that
// cannot run fails the exec stage, before the start. It asks as root, before
// the switch to the container's user: a program only root may run passes
// here, and execve then refuses it.
func checkExecutable(p string) error {
	err := unix.Faccessat(unix.AT_FDCWD, p, unix.X_OK, 0)
	if err == nil {
		if fi, serr := os.Stat(p); serr != nil || !fi.IsDir() {
			return nil
		}
		err = unix.EACCES
	}
	e := callError(fmt.Sprintf("faccessat(%s, X_OK)", p), err, "")
	e.Msg = fmt.Sprintf("exec: %q: %s", p, e.Msg) // runc's words: callers match them
	e.ExitCode = 126
	switch {
	case errors.Is(err, unix.ENOENT):
		e.ExitCode = 127
		e.Hint = "no such program in the container: check the image, or the program's path"
	case errors.Is(err, unix.EACCES):
		e.Hint = "the program must be a file with an execute bit (chmod +x), on a mount without noexec"
	}
	return e
}

func (in *Init) setRlimits(limits []specs.POSIXRlimit) error {
	for _, l := range limits {
		res, ok := spec.Rlimits[l.Type]
		if !ok { // an exec's process.json, say
			return &Error{Msg: fmt.Sprintf("process.rlimits: unknown type %q", l.Type)}
		}
		start := time.Now()
		err := unix.Setrlimit(res, &unix.Rlimit{Cur: l.Soft, Max: l.Hard})
		in.steps.record(fmt.Sprintf("setrlimit %s %d/%d", l.Type, l.Soft, l.Hard), start, err)
		if err != nil {
			return callError(fmt.Sprintf("setrlimit(%s, %d, %d)", l.Type, l.Soft, l.Hard), err,
				"a hard limit cannot be raised above glassbox's own (ulimit -H)")
		}
	}
	return nil
}

// closeOnExecFrom marks every descriptor >= first close-on-exec.
func closeOnExecFrom(first int) error {
	err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Kernels before 5.11: walk /proc/self/fd instead.
	entries, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return callError("close_range(3, ~0, CLOSE_RANGE_CLOEXEC)", err, "")
	}
	for _, e := range entries {
		if fd, _ := strconv.Atoi(e.Name()); fd >= first {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}
