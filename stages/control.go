package stages

// Breakpoints: the run stops before or after a stage and waits, with the
// container half-built, until someone says `glassbox continue` or `glassbox
// abort`. The pipeline can stop anywhere between two stages because the init
// never runs ahead of the host side: it blocks on the sync socket until told
// which stage to run next.
//
// The waiting run listens on a unix socket in the container's state
// directory, control.sock; a command connects and writes one line,
// "continue" or "abort", and reads one line back once the run has got
// somewhere: "paused after network" (the next breakpoint), "running" (the
// program was exec'd), "aborted", or "error " and the stage's error. No
// terminal is needed, so scripts, labs and tests drive it the same way as a
// person. Ctrl-C (or SIGTERM) at a breakpoint aborts too.

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// When is a point relative to a stage.
type When string

const (
	Before When = "before"
	After  When = "after"
)

// Breakpoint is a stage and a side of it.
type Breakpoint struct {
	Stage *Stage
	When  When
}

func (b Breakpoint) String() string { return string(b.When) + " " + b.Stage.Name }

// ParseBreakpoint reads "before STAGE" / "after STAGE" style flags: stage is
// a stage name; after the exec stage the program runs, so there is no
// breakpoint there.
func ParseBreakpoint(stage string, when When) (Breakpoint, error) {
	st := ByName(stage)
	if st == nil {
		return Breakpoint{}, fmt.Errorf("no stage %q; the stages are %s", stage, stageNames())
	}
	if st == Exec && when == After {
		return Breakpoint{}, fmt.Errorf("there is no pause after exec: the program runs then; break at exec to stop just before execve")
	}
	return Breakpoint{Stage: st, When: when}, nil
}

func stageNames() string {
	var names []string
	for _, st := range Pipeline {
		names = append(names, st.Name)
	}
	return strings.Join(names, ", ")
}

// ControlSocket is the name of a paused run's socket in its state directory.
const ControlSocket = "control.sock"

// ErrAborted is how a run stopped by `glassbox abort` fails.
var ErrAborted = errors.New("aborted at a breakpoint (glassbox abort); everything the stages made was undone")

// pauseAt stops the run at b if it is one of the run's breakpoints, records
// where in the state (ps and inspect show it), and waits for continue or
// abort on the control socket, or an interrupt.
func (r *Run) pauseAt(b Breakpoint) error {
	if !r.breaksAt(b) {
		return nil
	}
	path := r.Path(ControlSocket)
	os.Remove(path)
	var l *net.UnixListener
	err := viaShortPath(r.Dir, ControlSocket, func(short string) (err error) {
		l, err = net.ListenUnix("unix", &net.UnixAddr{Name: short, Net: "unix"})
		return err
	})
	if err != nil {
		return fmt.Errorf("breakpoint %s: listen on %s: %w", b, path, err)
	}
	l.SetUnlinkOnClose(false) // its name was the short one
	defer os.Remove(path)
	defer l.Close()
	r.Breakpoint = b.String()
	if err := r.Save(); err != nil {
		return err
	}
	defer func() {
		r.Breakpoint = ""
		r.Save()
	}()
	r.report("paused " + b.String())
	if r.Opts.Debug.Paused != nil {
		r.Opts.Debug.Paused(r, b)
	}
	start := time.Now()
	defer func() { r.timed(Timing{Stage: "paused " + b.String(), Start: start, End: time.Now()}) }()
	for {
		if err := r.interrupted(); err != nil {
			return err
		}
		l.SetDeadline(time.Now().Add(100 * time.Millisecond)) // to see interrupts
		conn, err := l.AcceptUnix()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			return fmt.Errorf("breakpoint %s: accept: %w", b, err)
		}
		conn.SetDeadline(time.Now().Add(time.Second))
		line, _ := bufio.NewReader(conn).ReadString('\n')
		conn.SetDeadline(time.Time{})
		switch strings.TrimSpace(line) {
		case "continue":
			r.controller = conn // told where the run gets to next
			return nil
		case "abort":
			r.controller = conn
			return ErrAborted
		default:
			fmt.Fprintf(conn, "unknown command %q: continue or abort\n", strings.TrimSpace(line))
			conn.Close()
		}
	}
}

// report tells the command that resumed the run where it got to.
func (r *Run) report(outcome string) {
	if r.controller != nil {
		fmt.Fprintln(r.controller, outcome)
		r.controller.Close()
		r.controller = nil
	}
}

func (r *Run) breaksAt(b Breakpoint) bool {
	for _, x := range r.Opts.Debug.Breakpoints {
		if x == b {
			return true
		}
	}
	return false
}

// Control sends "continue" or "abort" to a run paused at a breakpoint and
// returns where the run got to: "paused after network", "running",
// "aborted"; a stage's failure is an error.
func Control(dir, command string) (string, error) {
	var conn net.Conn
	err := viaShortPath(dir, ControlSocket, func(short string) (err error) {
		conn, err = net.DialTimeout("unix", short, time.Second)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("the container is not paused at a breakpoint (%v)", errors.Unwrap(err))
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Minute)) // the stages up to the next pause
	fmt.Fprintln(conn, command)
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("no reply from the paused run: %w", err)
	}
	reply = strings.TrimSpace(reply)
	if msg, failed := strings.CutPrefix(reply, "error "); failed {
		return "", errors.New(msg)
	}
	return reply, nil
}

// viaShortPath calls f with a short path to dir/name: a unix socket's path
// must fit in 108 bytes (struct sockaddr_un), and a state directory may be
// deep. /proc/self/fd/N names an open directory in a few bytes.
func viaShortPath(dir, name string, f func(string) error) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return f(fmt.Sprintf("/proc/self/fd/%d/%s", fd, name))
}
