// Package daemon serves the Docker Engine API over glassbox's engine, so that
// the docker CLI, Docker's SDKs and docker-compose drive glassbox containers.
//
// dockerd, for comparison: listeners (a unix socket, TCP with TLS) hand
// requests to a router per resource (container, image, network, system),
// whose handlers decode the request, call the daemon's backend, and encode
// the answer; the backend drives containerd, which drives a shim and runc.
// Here the listener is one unix socket, the routes are this package's, and
// the backend is the engine — the same one the CLI calls, over the same state
// root. So a container the CLI made is the daemon's too, and the other way
// round (podman's model): the daemon is one more front end, and the
// containers do not depend on it — each is held by its own monitor, and
// outlives a daemon that stops or is killed.
//
// The API is versioned by a path prefix (/v1.50/containers/json); a client
// first asks /_ping, reads the API-Version header, and speaks the lower of
// its version and the server's. Errors are {"message": "…"} with the status
// dockerd gives: 404 for no such container, 409 for a conflict (not running,
// in use), 400 for a bad parameter, 304 for a stop of a stopped container.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/netns"
	"github.com/glassbox-dev/glassbox/volume"
)

// APIVersion is the Engine API version served: the docker CLI of this
// machine's kind (28.x) speaks it. MinAPIVersion is dockerd's oldest.
const (
	APIVersion    = "1.50"
	MinAPIVersion = "1.24"
)

// DefaultHost is where the daemon listens unless told otherwise.
const DefaultHost = "unix:///run/glassbox/docker.sock"

// Server answers Engine API requests with the engine.
type Server struct {
	eng     *engine.Engine
	version string // glassbox's own, for /version and the Server header
	mux     *http.ServeMux
	execs   execs
}

// New is a server over eng; version is glassbox's.
func New(eng *engine.Engine, version string) *Server {
	s := &Server{eng: eng, version: version, mux: http.NewServeMux()}
	s.routes()
	return s
}

// Listen opens the socket a host names: unix://PATH (made 0660, its
// directory 0711; a stale socket of a dead daemon is replaced), owned by
// group gid (-1: root's), whose members may then use it — as root: the
// API runs containers. TCP is refused until TLS client certificates are: an
// Engine API on a plain TCP port is root on the host for anyone who can
// reach it.
func Listen(host string, gid int) (net.Listener, error) {
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		if strings.HasPrefix(host, "tcp://") {
			return nil, fmt.Errorf("-H %s: glassbox serves the Engine API on a unix socket only (TCP needs TLS client certificates, not supported yet): use -H unix:///path/to.sock", host)
		}
		return nil, fmt.Errorf("-H %s: expected unix:///path/to.sock", host)
	}
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("-H %s: the socket's path must be absolute", host)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return nil, err
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s: another daemon is listening there", path)
	}
	os.Remove(path) // a dead daemon's
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	err = os.Chmod(path, 0o660)
	if err == nil && gid >= 0 {
		err = os.Chown(path, 0, gid)
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Serve answers requests on l until ctx ends, then stops listening and
// lets the requests under way finish (at most 10 s; a follow or a wait is
// cut then). Containers are not touched: their monitors hold them.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	return nil
}

// versionPrefix is the API version a path begins with ("/v1.50/…": "1.50"),
// and the rest of the path; "" if there is none.
func versionPrefix(path string) (version, rest string) {
	v, rest, ok := strings.Cut(strings.TrimPrefix(path, "/v"), "/")
	major, minor, dot := strings.Cut(v, ".")
	digits := func(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }
	if !strings.HasPrefix(path, "/v") || !ok || !dot || !digits(major) || !digits(minor) {
		return "", path
	}
	return v, "/" + rest
}

// ServeHTTP strips the version prefix (refusing one outside what is served)
// and routes the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Api-Version", APIVersion)
	w.Header().Set("Server", "glassbox/"+s.version+" (linux)")
	w.Header().Set("Ostype", "linux")
	if v, rest := versionPrefix(r.URL.Path); v != "" {
		if versionLess(APIVersion, v) {
			writeError(w, http.StatusBadRequest, fmt.Errorf("client version %s is too new. Maximum supported API version is %s", v, APIVersion))
			return
		}
		if versionLess(v, MinAPIVersion) {
			writeError(w, http.StatusBadRequest, fmt.Errorf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, MinAPIVersion))
			return
		}
		r.URL.Path = rest
	}
	s.mux.ServeHTTP(w, r)
}

// versionLess compares API versions ("1.9" < "1.10").
func versionLess(a, b string) bool {
	am, an, _ := strings.Cut(a, ".")
	bm, bn, _ := strings.Cut(b, ".")
	x, _ := strconv.Atoi(am)
	y, _ := strconv.Atoi(bm)
	if x != y {
		return x < y
	}
	x, _ = strconv.Atoi(an)
	y, _ = strconv.Atoi(bn)
	return x < y
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers with the API's error body.
func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"message": err.Error()})
}

// statusOf is the status dockerd gives an error of this kind.
func statusOf(err error) int {
	var badParam badParameter
	var invalid *engine.InvalidError
	var nameInUse *container.NameInUseError
	var badNetwork netns.ConfigError
	switch {
	case errors.As(err, &badParam), errors.As(err, &invalid), errors.As(err, &badNetwork):
		return http.StatusBadRequest
	case errors.As(err, &nameInUse):
		return http.StatusConflict
	case errors.Is(err, container.ErrNotFound), errors.Is(err, image.ErrNotFound), errors.Is(err, netns.ErrNetworkNotFound),
		errors.Is(err, engine.ErrPathNotFound), errors.Is(err, volume.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, engine.ErrNotRunning), errors.Is(err, container.ErrLocked), errors.Is(err, engine.ErrPaused), errors.Is(err, engine.ErrNotPaused), errors.Is(err, volume.ErrInUse), errors.Is(err, image.ErrInUse),
		errors.Is(err, netns.ErrNetworkExists), errors.Is(err, netns.ErrNetworkInUse):
		return http.StatusConflict
	case errors.Is(err, engine.ErrNoLogDriver):
		return http.StatusNotImplemented
	case errors.Is(err, context.Canceled):
		return 499 // the client went away; nobody reads this
	}
	return http.StatusInternalServerError
}

// badParameter is a query or body value the API refuses (400).
type badParameter struct{ error }

func badParam(format string, args ...any) error { return badParameter{fmt.Errorf(format, args...)} }

// fail answers with err and the status its kind calls for.
func fail(w http.ResponseWriter, err error) { writeError(w, statusOf(err), err) }

// boolParam reads a query flag as dockerd does: 1, true, True … are true.
func boolParam(r *http.Request, name string) bool {
	v := r.URL.Query().Get(name)
	b, err := strconv.ParseBool(v)
	return err == nil && b || v == "yes"
}
