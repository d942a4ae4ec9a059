package engine

// A foreground run that is kept (no --rm) logs its output as a detached one
// does — docker logs works on a container that ran in the foreground, and so
// does glassbox logs — while the output still goes to the caller. Without a
// terminal the init writes into pipes, as under Docker, and glassbox copies
// each to the caller and the log; with one, the console copies the terminal's
// output to both.

import (
	"io"
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/internal/jsonlog"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
)

// outputLog is a foreground run's log, and the copies into it.
type outputLog struct {
	log    *jsonlog.File
	pipes  []*teePipe // none with a terminal
	copies sync.WaitGroup
	// The caller's closed pipe (glassbox run … | head) is an EPIPE for the
	// copy, not a SIGPIPE that kills glassbox before the teardown. Caught,
	// not ignored: an ignored signal would stay ignored in the container's
	// processes across execve(2).
	sigpipe chan os.Signal
}

// teePipe is one output: the init writes w, glassbox reads r into to and the
// log.
type teePipe struct {
	r, w, to *os.File
	stream   string
}

// keepOutput puts pipes between the init and the caller's stdout and stderr
// (not for a terminal, whose output the console copies); nil when nothing is
// kept (--log-driver none).
func keepOutput(cfg spec.LogConfig, opts *stages.Options, terminal bool) (*outputLog, error) {
	if cfg.Driver == "none" {
		return nil, nil
	}
	o := &outputLog{}
	if terminal {
		return o, nil
	}
	o.sigpipe = make(chan os.Signal, 1)
	signal.Notify(o.sigpipe, unix.SIGPIPE)
	for _, out := range []struct {
		to     **os.File
		stream string
	}{{&opts.IO.Stdout, "stdout"}, {&opts.IO.Stderr, "stderr"}} {
		r, w, err := os.Pipe()
		if err != nil {
			o.abandon()
			return nil, err
		}
		o.pipes = append(o.pipes, &teePipe{r: r, w: w, to: *out.to, stream: out.stream})
		*out.to = w
	}
	return o, nil
}

// start opens the log in the container's state directory (made now) and
// begins copying.
func (o *outputLog) start(c *container.Container, cfg spec.LogConfig) {
	if o == nil {
		return
	}
	o.log = jsonlog.Open(c.Path(container.LogFile), cfg.MaxSize, cfg.MaxFiles)
	for _, p := range o.pipes {
		o.copies.Add(1)
		go func() {
			defer o.copies.Done()
			p.copy(o.log)
		}()
	}
}

// copy reads until every writer is gone. The caller's side failing (a closed
// pipe: glassbox run … | head) does not stop it: the container would block.
func (p *teePipe) copy(log *jsonlog.File) {
	lines := &jsonlog.Lines{Log: log, Stream: p.stream}
	buf := make([]byte, 32<<10)
	for {
		n, err := p.r.Read(buf)
		if n > 0 {
			if p.to != nil {
				if _, err := p.to.Write(buf[:n]); err != nil {
					p.to = nil // the caller stopped reading; the log goes on
				}
			}
			lines.Write(buf[:n])
		}
		if err != nil {
			break
		}
	}
	lines.Flush()
	p.r.Close()
}

// started closes glassbox's copies of the write ends: the init has its own
// (or never will), and the copies end when the last of the container's go.
func (o *outputLog) started() {
	if o == nil {
		return
	}
	for _, p := range o.pipes {
		p.w.Close()
	}
}

// terminal is the log a console copies a terminal's output into, or nil.
func (o *outputLog) terminal() io.Writer {
	if o == nil || len(o.pipes) > 0 {
		return nil
	}
	return &jsonlog.Lines{Log: o.log, Stream: "stdout", Raw: true}
}

// wait waits for the copies to end, and closes the log.
func (o *outputLog) wait() {
	if o == nil {
		return
	}
	o.copies.Wait()
	if o.log != nil {
		o.log.Close()
	}
	if o.sigpipe != nil {
		signal.Stop(o.sigpipe)
	}
}

// abandon closes every pipe of a run that never started.
func (o *outputLog) abandon() {
	if o == nil {
		return
	}
	for _, p := range o.pipes {
		p.r.Close()
		p.w.Close()
	}
	if o.sigpipe != nil {
		signal.Stop(o.sigpipe)
	}
}
