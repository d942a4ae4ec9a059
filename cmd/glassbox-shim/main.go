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
//	glassbox-shim PID STDOUT-FD STDERR-FD LOG -- GLASSBOX ARG...
//
// The teardown command gets --exit-code=N appended. The shim imports as little
// as it can, and runs on as few threads: each costs resident memory, per
// container.
package main

import (
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

func main() {
	a := os.Args
	if len(a) < 7 || a[5] != "--" {
		os.Stderr.WriteString("usage: glassbox-shim PID STDOUT-FD STDERR-FD LOG -- GLASSBOX ARG... (run by glassbox monitor)\n")
		os.Exit(2)
	}
	pid, _ := strconv.Atoi(a[1])
	log, err := os.OpenFile(a[4], os.O_WRONLY|os.O_CREATE|os.O_APPEND|unix.O_CLOEXEC, 0o640)
	if err != nil {
		log = nil // the state directory is gone: nothing to keep, but still drain the pipes
	}
	var streams []*stream
	for i, name := range []string{"stdout", "stderr"} {
		fd, _ := strconv.Atoi(a[2+i])
		unix.CloseOnExec(fd)
		streams = append(streams, &stream{fd: fd, name: name, log: log})
	}
	drain(streams)
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
	env := os.Environ()
	if n := len(env); n > 0 && env[n-1] == "GOMAXPROCS=1" {
		env = env[:n-1] // glassbox monitor added it for the shim alone
	}
	err = unix.Exec(a[6], argv, env)
	os.Stderr.WriteString("glassbox-shim: execve " + a[6] + ": " + err.Error() + " (glassbox gc tears the container down)\n")
	os.Exit(1)
}

// stream is one of the init's output pipes and the line being gathered.
type stream struct {
	fd   int
	name string
	log  *os.File
	line []byte
}

// drain copies both pipes into the log until both are at EOF. One thread
// waits in poll(2) for either, rather than a thread blocked in read(2) per
// pipe: each thread costs the shim resident memory.
func drain(streams []*stream) {
	buf := make([]byte, 32<<10)
	for open := len(streams); open > 0; {
		fds := make([]unix.PollFd, 0, len(streams))
		for _, s := range streams {
			if s.fd >= 0 {
				fds = append(fds, unix.PollFd{Fd: int32(s.fd), Events: unix.POLLIN})
			}
		}
		if _, err := unix.Poll(fds, -1); err != nil {
			continue // EINTR
		}
		for _, p := range fds {
			if p.Revents == 0 {
				continue
			}
			for _, s := range streams {
				if s.fd == int(p.Fd) && !s.read(buf) {
					open--
				}
			}
		}
	}
}

// read takes what the pipe has and logs each complete line; false at EOF.
func (s *stream) read(buf []byte) bool {
	n, err := unix.Read(s.fd, buf)
	if n > 0 {
		s.line = append(s.line, buf[:n]...)
		for {
			i := indexNewline(s.line)
			if i < 0 {
				break
			}
			writeLine(s.log, s.name, s.line[:i+1])
			s.line = s.line[:copy(s.line, s.line[i+1:])]
		}
		if len(s.line) >= len(buf) { // a very long line: write what there is
			writeLine(s.log, s.name, s.line)
			s.line = s.line[:0]
		}
		return true
	}
	if err == unix.EINTR || err == unix.EAGAIN {
		return true
	}
	if len(s.line) > 0 {
		writeLine(s.log, s.name, s.line)
	}
	unix.Close(s.fd)
	s.fd = -1
	return false
}

func indexNewline(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// writeLine appends {"stream":…,"time":…,"log":…} and a newline, in one write.
func writeLine(log *os.File, stream string, line []byte) {
	if log == nil {
		return
	}
	b := make([]byte, 0, len(line)+96)
	b = append(b, `{"stream":"`...)
	b = append(b, stream...)
	b = append(b, `","time":"`...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","log":`...)
	b = appendJSONString(b, line)
	b = append(b, "}\n"...)
	log.Write(b)
}

// appendJSONString quotes s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendJSONString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = append(b, s[:size]...)
		}
		s = s[size:]
	}
	return append(b, '"')
}
