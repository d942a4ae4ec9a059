package daemon

// docker container prune, image prune [-a], network prune, and the build
// cache's part of docker system prune.

import (
	"net/http"

	"github.com/moby/moby/api/types/build"
	apicontainer "github.com/moby/moby/api/types/container"
	apiimage "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
)

// pruneContainers: POST /containers/prune.
func (s *Server) pruneContainers(w http.ResponseWriter, r *http.Request) {
	if _, err := parseFilters(r.URL.Query().Get("filters")); err != nil {
		fail(w, err)
		return
	}
	removed, err := s.eng.PruneContainers(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apicontainer.PruneReport{ContainersDeleted: removed})
}

// pruneImages: POST /images/prune?filters={"dangling":["false"]} (-a: the
// named ones too).
func (s *Server) pruneImages(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r.URL.Query().Get("filters"), "dangling")
	if err != nil {
		fail(w, err)
		return
	}
	all := f.Has("dangling") && (f["dangling"][0] == "false" || f["dangling"][0] == "0")
	removed, err := s.eng.PruneImages(all)
	if err != nil {
		fail(w, err)
		return
	}
	out := apiimage.PruneReport{ImagesDeleted: []apiimage.DeleteResponse{}}
	for _, rm := range removed {
		out.ImagesDeleted = append(out.ImagesDeleted, apiimage.DeleteResponse{Untagged: rm.Untagged, Deleted: rm.Deleted})
	}
	writeJSON(w, http.StatusOK, out)
}

// pruneNetworks: POST /networks/prune.
func (s *Server) pruneNetworks(w http.ResponseWriter, r *http.Request) {
	if _, err := parseFilters(r.URL.Query().Get("filters")); err != nil {
		fail(w, err)
		return
	}
	removed, err := s.eng.PruneNetworks()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, network.PruneReport{NetworksDeleted: removed})
}

// pruneBuildCache: POST /build/prune, which docker system prune calls too.
// glassbox builds no images, so it keeps no build cache: nothing to remove.
func (s *Server) pruneBuildCache(w http.ResponseWriter, r *http.Request) {
	if _, err := parseFilters(r.URL.Query().Get("filters"), "until", "id", "parent", "type", "description", "inuse", "shared", "private"); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, build.CachePruneReport{CachesDeleted: []string{}})
}
