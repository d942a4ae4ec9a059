package daemon

// docker exec: POST /containers/{id}/exec makes an exec (the process to run,
// kept in the daemon's memory, as dockerd keeps them), POST /exec/{id}/start
// runs it in the container (engine.Exec) and streams its output over the
// connection, taken over as for attach, and GET /exec/{id}/json gives its
// exit code afterwards.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	apicontainer "github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
)

// execProcess is one exec: made, then started once.
type execProcess struct {
	id, container string
	req           apicontainer.ExecCreateRequest
	spec          *specs.Spec

	mu       sync.Mutex
	started  bool
	running  bool
	master   *os.File // its terminal's, while it runs (-t)
	exitCode *int
	ended    time.Time
}

// execs are the daemon's execs, by id; one that ended goes after keepExec.
type execs struct {
	mu  sync.Mutex
	all map[string]*execProcess
}

const keepExec = 10 * time.Minute

func (x *execs) add(p *execProcess) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.all == nil {
		x.all = map[string]*execProcess{}
	}
	for id, old := range x.all {
		old.mu.Lock()
		stale := !old.ended.IsZero() && time.Since(old.ended) > keepExec
		old.mu.Unlock()
		if stale {
			delete(x.all, id)
		}
	}
	x.all[p.id] = p
}

func (x *execs) get(id string) (*execProcess, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if p, ok := x.all[id]; ok {
		return p, nil
	}
	return nil, errNoSuchExec{id}
}

type errNoSuchExec struct{ id string }

func (e errNoSuchExec) Error() string { return "No such exec instance: " + e.id }

// createExec: POST /containers/{id}/exec.
func (s *Server) createExec(w http.ResponseWriter, r *http.Request) {
	c, err := s.eng.Container(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	var req apicontainer.ExecCreateRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxCreateBody)).Decode(&req); err != nil {
		fail(w, badParam("the exec request's body: %v", err))
		return
	}
	if req.Privileged {
		fail(w, badParam("Privileged: not supported by glassbox's daemon yet"))
		return
	}
	if _, err := engine.ParseDetachKeys(req.DetachKeys); err != nil {
		fail(w, badParam("%v", err))
		return
	}
	if c.Status != container.Running || !c.Alive() {
		fail(w, fmt.Errorf("container %s %w", container.ShortID(c.ID), engine.ErrNotRunning))
		return
	}
	if engine.Paused(c) {
		fail(w, fmt.Errorf("container %s %w: unpause it first", container.ShortID(c.ID), engine.ErrPaused))
		return
	}
	p := &execProcess{id: container.NewID(), container: c.ID, req: req}
	if p.spec, err = spec.ForExec(stages.JoinSpec(c, c.Spec.Process), req.Cmd, req.Env, req.WorkingDir, req.User, req.Tty); err != nil {
		fail(w, badParam("%v", err))
		return
	}
	s.execs.add(p)
	writeJSON(w, http.StatusCreated, apicontainer.ExecCreateResponse{ID: p.id})
}

// startExec: POST /exec/{id}/start. Detached, it answers at once and the
// output goes nowhere; attached, the connection carries the output until the
// process ends, and the client's input to it if it asked for stdin (-i).
func (s *Server) startExec(w http.ResponseWriter, r *http.Request) {
	p, err := s.execs.get(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	var req apicontainer.ExecStartRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxCreateBody)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		fail(w, badParam("the exec start request's body: %v", err))
		return
	}
	c, err := s.eng.Container(p.container)
	if err != nil {
		fail(w, err)
		return
	}
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		writeError(w, http.StatusConflict, errors.New("exec "+p.id+" has been started already"))
		return
	}
	p.started, p.running = true, true
	p.mu.Unlock()
	ctx := context.WithoutCancel(r.Context()) // the process outlives the request
	if req.Detach {
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			p.end(126)
			fail(w, err)
			return
		}
		go func() {
			defer devnull.Close()
			code, _ := s.eng.Exec(ctx, c, p.spec, engine.ExecIO{Stdout: devnull, Stderr: devnull, Terminal: func(m *os.File) { go discard(m) }})
			p.end(code)
		}()
		w.WriteHeader(http.StatusOK)
		return
	}
	conn, err := takeOver(w, r, p.req.Tty)
	if err != nil {
		p.end(126)
		return
	}
	defer conn.Close()
	out := &streamWriter{w: conn, raw: p.req.Tty, stdout: p.req.AttachStdout, stderr: p.req.AttachStderr}
	var code int
	if p.req.Tty {
		code, err = s.execTerminal(ctx, c, p, conn, out)
	} else {
		code, err = s.execPipes(ctx, c, p, conn, out)
	}
	if err != nil {
		out.stderr = true
		out.emit(container.LogLine{Stream: "stderr", Log: "glassbox: " + err.Error() + "\n"})
		code = 126 // cannot be run, or 127, not found, as the stage says
		var se *stages.Error
		if errors.As(err, &se) && se.ExitCode != 0 {
			code = se.ExitCode
		}
	}
	p.end(code)
}

// execPipes runs an exec without a terminal: its stdout and stderr are pipes
// whose output goes to the client as frames, its stdin (with -i) a pipe the
// client's input goes to.
func (s *Server) execPipes(ctx context.Context, c *container.Container, p *execProcess, conn net.Conn, out *streamWriter) (int, error) {
	var files []*os.File // the process's ends, closed once it has them
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	pipe := func() (r, w *os.File, err error) {
		if r, w, err = os.Pipe(); err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	stdio := engine.ExecIO{}
	if p.req.AttachStdin {
		r, w, err := pipe()
		if err != nil {
			return 0, err
		}
		stdio.Stdin = r
		keys, _ := engine.ParseDetachKeys(p.req.DetachKeys)
		go func() {
			engine.CopyStdin(w, conn, keys)
			w.Close() // end of input
		}()
	}
	outR, outW, err := pipe()
	if err != nil {
		return 0, err
	}
	errR, errW, err := pipe()
	if err != nil {
		return 0, err
	}
	stdio.Stdout, stdio.Stderr = outW, errW
	var wg sync.WaitGroup
	var mu sync.Mutex // one frame at a time
	for stream, r := range map[string]*os.File{"stdout": outR, "stderr": errR} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			copyOut(r, func(b []byte) error {
				mu.Lock()
				defer mu.Unlock()
				return out.emit(container.LogLine{Stream: stream, Log: string(b)})
			})
		}()
	}
	code, err := s.eng.Exec(ctx, c, p.spec, stdio)
	outW.Close() // the process's copies are closed when it ends: the readers see EOF
	errW.Close()
	wg.Wait()
	return code, err
}

// execTerminal runs an exec with a terminal: its master carries the output
// to the client as it comes, and the client's input (with -i) to it.
func (s *Server) execTerminal(ctx context.Context, c *container.Container, p *execProcess, conn net.Conn, out *streamWriter) (int, error) {
	done := make(chan struct{})
	var master *os.File
	code, err := s.eng.Exec(ctx, c, p.spec, engine.ExecIO{Terminal: func(m *os.File) {
		master = m
		p.mu.Lock()
		p.master = m
		p.mu.Unlock()
		if p.req.AttachStdin {
			keys, _ := engine.ParseDetachKeys(p.req.DetachKeys)
			go engine.CopyStdin(m, conn, keys)
		}
		go func() {
			copyOut(m, func(b []byte) error { return out.emit(container.LogLine{Stream: "stdout", Log: string(b)}) })
			close(done)
		}()
	}})
	if master != nil {
		<-done // EIO: the last holder of the terminal has gone
		p.mu.Lock()
		p.master = nil
		p.mu.Unlock()
		master.Close()
	}
	return code, err
}

// copyOut reads r to its end, giving each chunk to emit; once the client is
// gone it goes on reading, so that the process never blocks on its output.
func copyOut(r io.Reader, emit func([]byte) error) {
	chunk := make([]byte, 32<<10)
	gone := false
	for {
		n, err := r.Read(chunk)
		if n > 0 && !gone {
			gone = emit(chunk[:n]) != nil
		}
		if err != nil {
			return
		}
	}
}

// discard reads a detached exec's terminal to its end, for no one.
func discard(master *os.File) {
	io.Copy(io.Discard, master)
	master.Close()
}

// resizeExec: POST /exec/{id}/resize?h=ROWS&w=COLUMNS.
func (s *Server) resizeExec(w http.ResponseWriter, r *http.Request) {
	rows, cols, err := windowSize(r)
	if err != nil {
		fail(w, err)
		return
	}
	p := s.lockedExec(w, r)
	if p == nil {
		return
	}
	defer p.mu.Unlock()
	if p.master == nil {
		writeError(w, http.StatusConflict, errors.New("exec "+p.id+" has no terminal, or does not run"))
		return
	}
	if err := engine.SetWindow(int(p.master.Fd()), rows, cols); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// lockedExec is the path's exec, locked; nil (and a 404 answered) if there
// is none.
func (s *Server) lockedExec(w http.ResponseWriter, r *http.Request) *execProcess {
	p, err := s.execs.get(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return nil
	}
	p.mu.Lock()
	return p
}

func (p *execProcess) end(code int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running, p.exitCode, p.ended = false, &code, time.Now()
}

// inspectExec: GET /exec/{id}/json.
func (s *Server) inspectExec(w http.ResponseWriter, r *http.Request) {
	p := s.lockedExec(w, r)
	if p == nil {
		return
	}
	defer p.mu.Unlock()
	pc := &apicontainer.ExecProcessConfig{User: p.req.User}
	if len(p.req.Cmd) > 0 {
		pc.Entrypoint, pc.Arguments = p.req.Cmd[0], p.req.Cmd[1:]
	}
	writeJSON(w, http.StatusOK, apicontainer.ExecInspectResponse{
		ID: p.id, Running: p.running, ExitCode: p.exitCode, ProcessConfig: pc, ContainerID: p.container,
		OpenStdout: p.req.AttachStdout, OpenStderr: p.req.AttachStderr, CanRemove: !p.running,
	})
}
