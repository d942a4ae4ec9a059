// Command glassbox-shim is what a detached container's monitor becomes once
// the container runs: `glassbox monitor` runs the stages, then execve(2)s this
// program in the same process. The container's init stays its child across
// execve — a process's children belong to the process, not to the program it
// runs — so the shim can still wait4(2) for it, while the container idles in
// about a tenth of the full glassbox's memory (the target is ≤ 2 MB resident).
//
// It does three things, as containerd-shim and conmon do: copy the init's
// stdout and stderr pipes into the container's log, one JSON object per line
// (Docker's json-file format); wait for the init; and when the init has exited
// and both pipes are drained, execve the full glassbox again to record the
// exit code and tear the container down. The container's lock is a file
// descriptor it inherits and passes on unopened: the flock(2) never lapses.
//
//	glassbox-shim [-t] [-i STDIN-FD] [-r MAX-SIZE,MAX-FILES] [-l LOCK-FD]
//	              [-c INTERVAL,START-PERIOD,START-INTERVAL] PID STDOUT-FD STDERR-FD LOG -- GLASSBOX ARG...
//
// With -t the container has a terminal: STDOUT-FD is its pseudo-terminal's
// master (STDERR-FD is -1), whose output is logged as it comes, not by lines —
// a shell's prompt has no newline. -i is the container's stdin, a FIFO that an
// attach writes to: with a terminal the shim copies it into the master; without
// one it is the FIFO's write end, which the shim only holds open so that the
// container does not read end-of-file between attaches. -r rotates the log
// (--log-opt max-size, max-file); an empty LOG keeps nothing (--log-driver
// none), the output is still read, or the container would block on a full pipe.
// -l is the container's lock, which only the teardown inherits. With -c (in
// nanoseconds) the shim starts GLASSBOX ARG... --health-check every interval
// (every start interval within the start period), one at a time: the
// container's health check (engine.Probe).
//
// The teardown command gets --exit-code=N appended. The shim imports as little
// as it can, and runs on as few threads: each costs resident memory, per
// container.
package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/internal/jsonlog"
)

func main() {
	a := os.Args
	terminal, stdin, lock := false, -1, -1
	var maxSize int64
	maxFiles := 1
	var health *probe
	for len(a) > 1 && (a[1] == "-t" || (a[1] == "-i" || a[1] == "-r" || a[1] == "-l" || a[1] == "-c") && len(a) > 2) {
		switch a[1] {
		case "-t":
			terminal, a = true, a[1:]
			continue
		case "-i":
			stdin, _ = strconv.Atoi(a[2])
			unix.CloseOnExec(stdin)
		case "-r":
			size, files, _ := strings.Cut(a[2], ",")
			maxSize, _ = strconv.ParseInt(size, 10, 64)
			maxFiles, _ = strconv.Atoi(files)
		case "-l":
			lock, _ = strconv.Atoi(a[2])
			unix.CloseOnExec(lock) // not for the health checks
		case "-c":
			health = newProbe(a[2])
		}
		a = a[2:]
	}
	if len(a) < 7 || a[5] != "--" {
		os.Stderr.WriteString("usage: glassbox-shim [-t] [-i STDIN-FD] [-r MAX-SIZE,MAX-FILES] [-l LOCK-FD] [-c INTERVAL,START-PERIOD,START-INTERVAL] PID STDOUT-FD STDERR-FD LOG -- GLASSBOX ARG... (run by glassbox monitor)\n")
		os.Exit(2)
	}
	env := os.Environ()
	if n := len(env); n > 0 && env[n-1] == "GOMAXPROCS=1" {
		env = env[:n-1] // glassbox monitor added it for the shim alone
	}
	if health != nil {
		health.exe, health.argv, health.env = a[6], append(a[7:len(a):len(a)], "--health-check"), env
	}
	pid, _ := strconv.Atoi(a[1])
	log := jsonlog.Open(a[4], maxSize, maxFiles)
	var streams []*stream
	for i, name := range []string{"stdout", "stderr"} {
		if fd, _ := strconv.Atoi(a[2+i]); fd >= 0 {
			unix.CloseOnExec(fd)
			streams = append(streams, &stream{fd: fd, lines: &jsonlog.Lines{Log: log, Stream: name, Raw: terminal}})
		}
	}
	var in *input
	if terminal && stdin >= 0 {
		// Non-blocking, so that a program that does not read its terminal
		// cannot stop the shim: input waits in pending, output goes on.
		unix.SetNonblock(streams[0].fd, true)
		in = &input{fifo: stdin, master: streams[0].fd}
	}
	drain(streams, in, health)
	// Both pipes are at EOF: every writer is gone. Normally that is because
	// the init exited and its pid namespace died with it.
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			break
		}
	}
	code := ws.ExitStatus()
	if ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	argv := append(a[7:len(a):len(a)], "--exit-code="+strconv.Itoa(code))
	if lock >= 0 {
		unix.FcntlInt(uintptr(lock), unix.F_SETFD, 0) // the teardown holds it on
	}
	err := unix.Exec(a[6], argv, env)
	os.Stderr.WriteString("glassbox-shim: execve " + a[6] + ": " + err.Error() + " (glassbox gc tears the container down)\n")
	os.Exit(1)
}

// stream is one of the init's outputs, and the line being gathered.
type stream struct {
	fd    int
	lines *jsonlog.Lines
}

// input copies what an attach writes into the container's stdin FIFO to its
// terminal's master.
type input struct {
	fifo, master int
	pending      []byte // read from the FIFO, not yet taken by the terminal
}

// drain copies the outputs into the log until all are at EOF, and the input
// (if any) into the terminal meanwhile. One thread waits in poll(2) for any of
// them, rather than a thread blocked in read(2) per descriptor: each thread
// costs the shim resident memory.
func drain(streams []*stream, in *input, health *probe) {
	buf := make([]byte, 32<<10)
	for open := len(streams); open > 0; {
		fds := make([]unix.PollFd, 0, len(streams)+1)
		for _, s := range streams {
			if s.fd >= 0 {
				events := int16(unix.POLLIN)
				if in != nil && len(in.pending) > 0 && s.fd == in.master {
					events |= unix.POLLOUT
				}
				fds = append(fds, unix.PollFd{Fd: int32(s.fd), Events: events})
			}
		}
		if in != nil && in.fifo >= 0 && len(in.pending) == 0 {
			fds = append(fds, unix.PollFd{Fd: int32(in.fifo), Events: unix.POLLIN})
		}
		n, err := unix.Poll(fds, health.wait())
		health.startIfDue()
		if n <= 0 || err != nil {
			continue // the health check's time, or EINTR
		}
		for _, p := range fds {
			switch {
			case p.Revents == 0:
			case in != nil && int(p.Fd) == in.fifo:
				in.read(buf)
			default:
				if p.Revents&unix.POLLOUT != 0 {
					in.write()
				}
				for _, s := range streams {
					if s.fd == int(p.Fd) && p.Revents&^unix.POLLOUT != 0 && !s.read(buf) {
						open--
					}
				}
			}
		}
	}
}

// probe starts the container's health check when it is due.
type probe struct {
	exe                                  string
	argv, env                            []string
	interval, startPeriod, startInterval time.Duration
	started, next                        time.Time
	pid                                  int // the check running, or 0
}

// newProbe reads -c INTERVAL,START-PERIOD,START-INTERVAL.
func newProbe(arg string) *probe {
	var d [3]time.Duration
	for i, f := range strings.SplitN(arg, ",", 3) {
		n, _ := strconv.ParseInt(f, 10, 64)
		d[i] = time.Duration(n)
	}
	if d[0] <= 0 || d[2] <= 0 {
		return nil
	}
	p := &probe{interval: d[0], startPeriod: d[1], startInterval: d[2], started: time.Now()}
	p.schedule()
	return p
}

func (p *probe) schedule() {
	d := p.interval
	if time.Since(p.started) < p.startPeriod {
		d = p.startInterval
	}
	p.next = time.Now().Add(d)
}

// wait is poll(2)'s timeout: the milliseconds to the next check (-1: none).
func (p *probe) wait() int {
	if p == nil {
		return -1
	}
	return int(max(time.Until(p.next).Milliseconds()+1, 0))
}

// startIfDue starts the check if it is due and the last one has ended.
func (p *probe) startIfDue() {
	if p == nil || time.Now().Before(p.next) {
		return
	}
	p.schedule()
	if p.pid > 0 {
		if pid, _ := unix.Wait4(p.pid, nil, unix.WNOHANG, nil); pid == 0 {
			return // still running: its own timeout ends it
		}
	}
	p.pid, _ = syscall.ForkExec(p.exe, p.argv, &syscall.ProcAttr{Env: p.env, Files: []uintptr{0, 1, 2}})
}

// read takes what an attach wrote; at end-of-file (the last writer of a
// once-only stdin went) the shim stops reading the FIFO.
func (in *input) read(buf []byte) {
	n, err := unix.Read(in.fifo, buf)
	if n > 0 {
		in.pending = append(in.pending, buf[:n]...)
		in.write()
		return
	}
	if err != unix.EINTR && err != unix.EAGAIN {
		unix.Close(in.fifo)
		in.fifo = -1
	}
}

// write gives the terminal what it takes of the pending input.
func (in *input) write() {
	n, err := unix.Write(in.master, in.pending)
	if n > 0 {
		in.pending = in.pending[:copy(in.pending, in.pending[n:])]
	}
	if err != nil && err != unix.EAGAIN && err != unix.EINTR {
		in.pending = in.pending[:0] // the terminal is gone
	}
}

// read takes what the output has and logs each complete line (a terminal's:
// all of it); false at EOF — for a terminal's master, EIO once the last
// holder of its slave has gone.
func (s *stream) read(buf []byte) bool {
	n, err := unix.Read(s.fd, buf)
	if n > 0 {
		s.lines.Write(buf[:n])
		return true
	}
	if err == unix.EINTR || err == unix.EAGAIN {
		return true
	}
	s.lines.Flush()
	unix.Close(s.fd)
	s.fd = -1
	return false
}
