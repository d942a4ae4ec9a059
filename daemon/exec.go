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
	for field, set := range map[string]bool{"Tty (-t)": req.Tty, "AttachStdin (-i)": req.AttachStdin, "Privileged": req.Privileged} {
		if set {
			fail(w, badParam("%s: not supported by glassbox's daemon yet", field))
			return
		}
	}
	if c.Status != container.Running || !c.Alive() {
		fail(w, fmt.Errorf("container %s %w", container.ShortID(c.ID), engine.ErrNotRunning))
		return
	}
	p := &execProcess{id: container.NewID(), container: c.ID, req: req}
	if p.spec, err = spec.ForExec(stages.JoinSpec(c, c.Spec.Process), req.Cmd, req.Env, req.WorkingDir, req.User, false); err != nil {
		fail(w, badParam("%v", err))
		return
	}
	s.execs.add(p)
	writeJSON(w, http.StatusCreated, apicontainer.ExecCreateResponse{ID: p.id})
}

// startExec: POST /exec/{id}/start. Detached, it answers at once and the
// output goes nowhere; attached, the connection carries the output until the
// process ends.
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
	if req.Tty {
		fail(w, badParam("Tty (-t): not supported by glassbox's daemon yet"))
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
			fail(w, err)
			return
		}
		go func() {
			defer devnull.Close()
			code, _ := s.eng.Exec(ctx, c, p.spec, devnull, devnull)
			p.end(code)
		}()
		w.WriteHeader(http.StatusOK)
		return
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		fail(w, err)
		return
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		fail(w, err)
		return
	}
	conn, err := takeOver(w, r, false)
	if err != nil {
		outR.Close()
		outW.Close()
		errR.Close()
		errW.Close()
		p.end(126)
		return
	}
	defer conn.Close()
	out := &streamWriter{w: conn, stdout: p.req.AttachStdout, stderr: p.req.AttachStderr}
	var wg sync.WaitGroup
	var mu sync.Mutex // one frame at a time
	for stream, r := range map[string]*os.File{"stdout": outR, "stderr": errR} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			chunk := make([]byte, 32<<10)
			for {
				n, err := r.Read(chunk)
				if n > 0 {
					mu.Lock()
					out.emit(container.LogLine{Stream: stream, Log: string(chunk[:n])})
					mu.Unlock()
				}
				if err != nil {
					return
				}
			}
		}()
	}
	code, err := s.eng.Exec(ctx, c, p.spec, outW, errW)
	outW.Close() // the process's copies are closed when it ends: the readers see EOF
	errW.Close()
	wg.Wait()
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

func (p *execProcess) end(code int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running, p.exitCode, p.ended = false, &code, time.Now()
}

// inspectExec: GET /exec/{id}/json.
func (s *Server) inspectExec(w http.ResponseWriter, r *http.Request) {
	p, err := s.execs.get(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	p.mu.Lock()
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
