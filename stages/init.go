package stages

import (
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/internal/signals"
	"github.com/glassbox-dev/glassbox/spec"
)

// Init is the container's side of a run: glassbox re-executed as `glassbox init`
// by the unshare stage, already inside the new namespaces, waiting on the sync
// socket to be told which stage to run next.
type Init struct {
	Spec    *specs.Spec
	Rootfs  string   // host path of the overlay mount, until pivot_root makes it "/"
	State   []byte   // for hooks: the OCI state
	HookEnv []string // for hooks: the container's facts
	// execFifo: an OCI create; the exec stage waits for start (exec.go).
	// detached: no parent-death signal; an OCI caller waits for the process.
	execFifo, detached bool
	consoleFd          int                   // where to send the pty master (console.go); 0 for none
	cgroups            []cgroupsv2.Hierarchy // its cgroups, from glassbox (InitConfig.Cgroups)
	sock               *syncSocket
	steps              steps             // the current stage's steps
	reaperSignals      *signals.Catching // with --init: every signal, for the program; the init stays to reap
}

// InitMain is `glassbox init`. It never returns: the exec stage replaces it with
// the user's program, and anything else ends with exit(1) after reporting.
//
// The caller must have locked the main goroutine to its OS thread before any
// other code ran: some of what the stages change is per-thread in Linux
// (capabilities, no_new_privs, the cgroup namespace), and the thread that
// changed them must be the one that calls execve(2).
func InitMain() {
	if err := protectInit(); err != nil {
		fmt.Fprintln(os.Stderr, "glassbox init:", err)
		os.Exit(1)
	}
	// Device nodes and mount points get exactly the modes asked for; the
	// process's umask from the Spec is set just before execve.
	unix.Umask(0)
	if _, err := unix.FcntlInt(initFd, unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		fmt.Fprintln(os.Stderr, "glassbox init: no sync socket on fd 3: `glassbox init` is started by `glassbox run`, not by hand")
		os.Exit(1)
	}
	sock := &syncSocket{f: os.NewFile(initFd, "sync")}
	m, err := sock.recv()
	if err == nil && (m.Kind != "config" || m.Config == nil || m.Config.Spec.Spec == nil) {
		err = fmt.Errorf("a %q message", m.Kind)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "glassbox init: no configuration on the sync socket:", err)
		os.Exit(1)
	}
	cfg := m.Config
	in := &Init{Spec: cfg.Spec.Spec, Rootfs: cfg.Rootfs, State: cfg.State, HookEnv: cfg.HookEnv, execFifo: cfg.ExecFifo, detached: cfg.Detached, consoleFd: cfg.ConsoleFd, cgroups: cfg.Cgroups, sock: sock, steps: steps{off: !cfg.Steps}}
	if in.Spec.Annotations[spec.InitAnnotation] == "true" {
		// Caught alongside the mount and exec stages: all of them take 4 ms.
		in.reaperSignals = signals.Catch(16)
	}
	var mismatch error
	if cfg.Protocol != protocol {
		mismatch = fmt.Errorf("the container's init speaks sync protocol %d, glassbox %d: they come from different builds; install them together (make build)", protocol, cfg.Protocol)
	}
	for {
		m, err := sock.recv()
		if err != nil {
			os.Exit(1) // glassbox is gone: nobody to report to
		}
		st := ByName(m.Stage)
		start := time.Now()
		switch {
		case mismatch != nil:
			err = mismatch
		case m.Kind != "run" || st == nil || st.Container == nil:
			err = fmt.Errorf("sync socket: init cannot run %q %q", m.Kind, m.Stage)
		case st.Host == nil:
			err = injectFailure(st.Name, cfg.Fail)
		}
		if err == nil {
			err = st.Container(in)
		}
		reply := message{Kind: "done", Stage: m.Stage, Start: start.UnixNano(), End: time.Now().UnixNano(), Steps: in.steps.take()}
		if err != nil {
			reply.Kind, reply.Err = "failed", asStageError(m.Stage, err)
		}
		if serr := sock.send(reply); serr != nil {
			// The host hears only that the init exited: its stderr (the
			// container's) gets the reason.
			fmt.Fprintf(os.Stderr, "glassbox init: stage %s: cannot report to glassbox: %v\n", m.Stage, serr)
			os.Exit(1)
		}
		if err != nil {
			os.Exit(1)
		}
	}
}

// beforeExecve hands the exec stage's steps to the host, ending with the
// execve step itself (the host writes its end: the EOF that a successful
// execve causes).
func (in *Init) beforeExecve(path string) error {
	in.steps.record("execve "+path, time.Now(), nil, "process.executable.path", path)
	return in.sock.send(message{Kind: "execve", Stage: "exec", Steps: in.steps.take()})
}
