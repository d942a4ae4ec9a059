package daemon

// docker cp and docker export: a container's files as tar streams
// (engine.Archive, engine.Extract), the path's stat in a header
// (X-Docker-Container-Path-Stat: base64 of JSON) from which the CLI decides
// how to name what it copies.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	apicontainer "github.com/moby/moby/api/types/container"

	"github.com/glassbox-dev/glassbox/engine"
)

// withFiles calls do with the root of the path's container (engine.Files),
// or answers why there is none.
func (s *Server) withFiles(w http.ResponseWriter, r *http.Request, do func(rootFd int)) {
	c, err := s.eng.Container(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	rootFd, release, err := s.eng.Files(c)
	if err != nil {
		fail(w, err)
		return
	}
	defer release()
	do(rootFd)
}

// archiveRoute: HEAD, GET and PUT /containers/{id}/archive?path=….
func (s *Server) archiveRoute(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("path")
	if p == "" {
		fail(w, badParam("path: which file or directory in the container"))
		return
	}
	s.withFiles(w, r, func(rootFd int) { s.archive(w, r, rootFd, p) })
}

func (s *Server) archive(w http.ResponseWriter, r *http.Request, rootFd int, p string) {
	if r.Method == http.MethodPut {
		if err := engine.Extract(r.Body, rootFd, p, boolParam(r, "copyUIDGID")); err != nil {
			fail(w, err)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	st, err := engine.Stat(rootFd, p)
	if err != nil {
		fail(w, err)
		return
	}
	header, _ := json.Marshal(apicontainer.PathStat(st))
	w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(header))
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	engine.Archive(w, rootFd, p, "") // an error half way: the client's tar ends short
}

// exportContainer: GET /containers/{id}/export, the whole filesystem.
func (s *Server) exportContainer(w http.ResponseWriter, r *http.Request) {
	s.withFiles(w, r, func(rootFd int) {
		w.Header().Set("Content-Type", "application/x-tar")
		w.WriteHeader(http.StatusOK)
		engine.Archive(w, rootFd, "/", "")
	})
}
