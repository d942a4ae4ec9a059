package daemon

// The image routes: inspect so far (docker inspect asks it when no container
// has the name).

import (
	"errors"
	"net/http"
	"strings"
	"time"

	apiimage "github.com/moby/moby/api/types/image"

	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/netns"
)

// inspectImage: GET /images/{name}/json, where the name may have slashes
// (library/busybox), so the route is the prefix and the rest is parsed here.
func (s *Server) inspectImage(w http.ResponseWriter, r *http.Request) {
	ref, ok := strings.CutSuffix(r.PathValue("rest"), "/json")
	if !ok || ref == "" {
		s.notServed(w, r)
		return
	}
	store, err := image.Open(s.eng.Root)
	if err != nil {
		fail(w, err)
		return
	}
	rec, err := store.Find(ref)
	if errors.Is(err, image.ErrNotFound) {
		writeError(w, http.StatusNotFound, errors.New("No such image: "+ref))
		return
	}
	if err != nil {
		fail(w, err)
		return
	}
	out := apiimage.InspectResponse{
		ID:          rec.ID,
		RepoTags:    []string{},
		RepoDigests: rec.RepoDigests,
		Os:          "linux",
		RootFS:      apiimage.RootFS{Type: "layers"},
	}
	if !rec.Created.IsZero() {
		out.Created = rec.Created.Format(time.RFC3339Nano)
	}
	if img, err := store.Image(rec); err == nil {
		if cf, err := img.ConfigFile(); err == nil {
			out.Os, out.Architecture, out.Variant = cf.OS, cf.Architecture, cf.Variant
		}
	}
	for _, t := range rec.Tags {
		out.RepoTags = append(out.RepoTags, image.Familiar(t))
	}
	for _, l := range rec.Layers {
		out.Size += l.Size
		out.RootFS.Layers = append(out.RootFS.Layers, l.DiffID)
	}
	writeJSON(w, http.StatusOK, out)
}

// inspectOther answers the inspects `docker inspect NAME` tries after the
// container and the image: a network (glassbox's), a volume (none yet), a
// plugin (none). 404 for names nobody has, so that the CLI says "No such
// object"; 501 for a network that exists, until networks are served.
func (s *Server) inspectOther(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/networks/") {
		if store, err := netns.OpenStore(); err == nil {
			networks, _ := store.List()
			store.Close()
			for _, n := range networks {
				if n.Name == r.PathValue("name") {
					s.notServed(w, r)
					return
				}
			}
		}
	}
	writeError(w, http.StatusNotFound, errors.New("no such object: "+r.PathValue("name")))
}
