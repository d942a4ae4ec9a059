package daemon

// The container's output, as the Engine API streams it: logs (a response
// body) and attach (the connection itself, taken over from HTTP). Both read
// the log the container's monitor writes (engine.Logs). Without a terminal,
// stdout and stderr share the stream as frames: a header of 8 bytes —
// stream (1 stdout, 2 stderr), three zeros, the payload's length as a
// big-endian uint32 — then the payload; with a terminal, the bytes as they
// are (there is one stream).

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
)

// streamWriter writes a container's lines to a client, framed or raw.
type streamWriter struct {
	w          io.Writer
	flush      func()
	raw        bool // a terminal's: no frames
	stdout     bool
	stderr     bool
	timestamps bool
}

func (s *streamWriter) emit(l container.LogLine) error {
	stream := byte(1)
	if l.Stream == "stderr" {
		stream = 2
	}
	if stream == 1 && !s.stdout || stream == 2 && !s.stderr {
		return nil
	}
	payload := l.Log
	if s.timestamps {
		payload = l.Time.Format(time.RFC3339Nano) + " " + payload
	}
	if !s.raw {
		var header [8]byte
		header[0] = stream
		binary.BigEndian.PutUint32(header[4:], uint32(len(payload)))
		if _, err := s.w.Write(header[:]); err != nil {
			return err
		}
	}
	_, err := io.WriteString(s.w, payload)
	if s.flush != nil {
		s.flush()
	}
	return err
}

// contentType names the stream's framing, as dockerd does.
func contentType(raw bool) string {
	if raw {
		return "application/vnd.docker.raw-stream"
	}
	return "application/vnd.docker.multiplexed-stream"
}

// containerLogs: GET /containers/{id}/logs?stdout=1&stderr=1&follow=1&tail=N&timestamps=1.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	c, err := s.eng.Container(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	if err := engine.LogReadable(c); err != nil {
		fail(w, err)
		return
	}
	out := &streamWriter{w: w, raw: c.Spec != nil && c.Spec.Process != nil && c.Spec.Process.Terminal,
		stdout: boolParam(r, "stdout"), stderr: boolParam(r, "stderr"), timestamps: boolParam(r, "timestamps")}
	if !out.stdout && !out.stderr {
		fail(w, badParam("you must choose at least one stream (stdout=1, stderr=1)"))
		return
	}
	o := engine.LogOptions{Follow: boolParam(r, "follow"), Tail: -1}
	if t := r.URL.Query().Get("tail"); t != "" && t != "all" {
		if o.Tail, err = strconv.Atoi(t); err != nil || o.Tail < 0 {
			fail(w, badParam("tail %q: a number of lines, or all", t))
			return
		}
	}
	w.Header().Set("Content-Type", contentType(out.raw))
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	out.flush = func() { rc.Flush() }
	s.eng.Logs(r.Context(), c, o, out.emit)
}

// attachContainer: POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1[&logs=1][&detachKeys=…].
// The connection is taken over (takeOver): the container's output flows to
// the client until it exits; with stdin=1, what the client sends flows to
// the container's stdin FIFO until the client closes its side, or types the
// detach keys (Ctrl-P Ctrl-Q), which end the attach but not the container.
func (s *Server) attachContainer(w http.ResponseWriter, r *http.Request) {
	c, err := s.eng.Container(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	keys, err := engine.ParseDetachKeys(r.URL.Query().Get("detachKeys"))
	if err != nil {
		fail(w, badParam("%v", err))
		return
	}
	var stdin *os.File
	if boolParam(r, "stdin") && c.Spec.Annotations[engine.StdinAnnotation] != "" {
		if stdin, err = s.eng.Stdin(c); err != nil {
			fail(w, err)
			return
		}
		defer stdin.Close()
	}
	raw := c.Spec != nil && c.Spec.Process != nil && c.Spec.Process.Terminal
	// Before start, all of the output is to come; to a running container,
	// only what it writes from now on — unless logs=1 asks for the past too.
	o := engine.LogOptions{Follow: boolParam(r, "stream"), Tail: -1, New: !boolParam(r, "logs") && c.Status != container.Created}
	conn, err := takeOver(w, r, raw)
	if err != nil {
		return
	}
	defer conn.Close()
	// The request's context ended with the hijack; the stream ends when the
	// container does, when a write finds the client gone, or on detaching.
	out := &streamWriter{w: conn, raw: raw, stdout: boolParam(r, "stdout"), stderr: boolParam(r, "stderr")}
	s.eng.Attach(context.WithoutCancel(r.Context()), c, stdin, conn, keys, o, out.emit)
}

// resizeContainer: POST /containers/{id}/resize?h=ROWS&w=COLUMNS.
func (s *Server) resizeContainer(w http.ResponseWriter, r *http.Request) {
	rows, cols, err := windowSize(r)
	if err != nil {
		fail(w, err)
		return
	}
	c, err := s.eng.Container(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	if err := s.eng.Resize(c, rows, cols); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// windowSize reads a resize's h and w: a terminal's rows and columns.
func windowSize(r *http.Request) (rows, cols uint16, err error) {
	var n [2]uint64
	for i, key := range []string{"h", "w"} {
		if n[i], err = strconv.ParseUint(r.URL.Query().Get(key), 10, 16); err != nil {
			return 0, 0, badParam("%s=%q: a terminal's size, 0 to 65535", key, r.URL.Query().Get(key))
		}
	}
	return uint16(n[0]), uint16(n[1]), nil
}

// hijacked is a connection taken over from HTTP, read through the server's
// buffer first: a client may have sent its input right behind the request.
type hijacked struct {
	net.Conn
	r *bufio.Reader
}

func (h *hijacked) Read(p []byte) (int, error) { return h.r.Read(p) }

// takeOver takes the request's connection over from HTTP (attach, exec
// start) and answers its status line: "101 UPGRADED" when the client asked
// to upgrade to a raw tcp stream (the docker CLI does), else 200, with the
// stream's framing as its content type.
func takeOver(w http.ResponseWriter, r *http.Request, raw bool) (net.Conn, error) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		fail(w, err)
		return nil, err
	}
	status := "HTTP/1.1 200 OK\r\n"
	if r.Header.Get("Upgrade") == "tcp" {
		status = "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
	}
	buf.WriteString(status + "Content-Type: " + contentType(raw) + "\r\nApi-Version: " + APIVersion + "\r\n\r\n")
	if err := buf.Flush(); err != nil {
		conn.Close()
		return nil, err
	}
	return &hijacked{Conn: conn, r: buf.Reader}, nil
}
