package daemon

// docker volume create, ls, inspect, rm, prune: the state root's named
// volumes (engine.CreateVolume and the rest); the driver is "local" alone.

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	apivolume "github.com/moby/moby/api/types/volume"

	"github.com/glassbox-dev/glassbox/volume"
)

func volumeOf(v *volume.Volume) apivolume.Volume {
	labels := v.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return apivolume.Volume{Name: v.Name, Driver: "local", Mountpoint: v.Path, CreatedAt: v.Created.Format(time.RFC3339),
		Labels: labels, Options: map[string]string{}, Scope: "local"}
}

// listVolumes: GET /volumes.
func (s *Server) listVolumes(w http.ResponseWriter, r *http.Request) {
	if _, err := parseFilters(r.URL.Query().Get("filters")); err != nil {
		fail(w, err)
		return
	}
	all, err := s.eng.Volumes()
	if err != nil {
		fail(w, err)
		return
	}
	out := apivolume.ListResponse{Volumes: []apivolume.Volume{}, Warnings: []string{}}
	for _, v := range all {
		out.Volumes = append(out.Volumes, volumeOf(v))
	}
	writeJSON(w, http.StatusOK, out)
}

// createVolume: POST /volumes/create {Name, Driver, Labels}.
func (s *Server) createVolume(w http.ResponseWriter, r *http.Request) {
	var req apivolume.CreateRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxCreateBody)).Decode(&req); err != nil {
		fail(w, badParam("the volume request's body: %v", err))
		return
	}
	if req.Driver != "" && req.Driver != "local" || len(req.DriverOpts) > 0 || req.ClusterVolumeSpec != nil {
		fail(w, badParam("Driver, DriverOpts: glassbox's volumes are local directories only"))
		return
	}
	v, err := s.eng.CreateVolume(req.Name, req.Labels)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, volumeOf(v))
}

// inspectVolume: GET /volumes/{name}.
func (s *Server) inspectVolume(w http.ResponseWriter, r *http.Request) {
	v, err := s.eng.Volume(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, volumeOf(v))
}

// removeVolume: DELETE /volumes/{name} (409 while a container has it).
func (s *Server) removeVolume(w http.ResponseWriter, r *http.Request) {
	if err := s.eng.RemoveVolume(r.PathValue("name")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// pruneVolumes: POST /volumes/prune.
func (s *Server) pruneVolumes(w http.ResponseWriter, r *http.Request) {
	removed, err := s.eng.PruneVolumes()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apivolume.PruneReport{VolumesDeleted: removed})
}
