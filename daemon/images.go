package daemon

// The image routes: list, inspect, tag, remove, save, load and push (pull is
// pull.go).

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	apicontainer "github.com/moby/moby/api/types/container"
	apiimage "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/storage"

	"github.com/glassbox-dev/glassbox/image"
)

// listImages: GET /images/json — docker images.
func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	all, err := s.eng.Images()
	if err != nil {
		fail(w, err)
		return
	}
	out := []apiimage.Summary{}
	for _, rec := range all {
		sum := apiimage.Summary{ID: rec.ID, RepoTags: []string{}, RepoDigests: rec.RepoDigests, Created: rec.Created.Unix(),
			Size: rec.Size(), Containers: -1, SharedSize: -1, Labels: map[string]string{}}
		for _, t := range rec.Tags {
			sum.RepoTags = append(sum.RepoTags, image.Familiar(t))
		}
		if sum.RepoDigests == nil {
			sum.RepoDigests = []string{}
		}
		out = append(out, sum)
	}
	writeJSON(w, http.StatusOK, out)
}

// imageRoute: the image routes whose name may have slashes (library/busybox),
// so that the route is a prefix and the rest is parsed here:
// GET /images/{name}/json, POST /images/{name}/tag, DELETE /images/{name}.
func (s *Server) imageRoute(w http.ResponseWriter, r *http.Request) {
	rest := r.PathValue("rest")
	if name, ok := strings.CutSuffix(rest, "/json"); ok && r.Method == http.MethodGet && name != "" {
		s.inspectImage(w, name)
		return
	}
	if name, ok := strings.CutSuffix(rest, "/tag"); ok && r.Method == http.MethodPost && name != "" {
		s.tagImage(w, r, name)
		return
	}
	if name, ok := strings.CutSuffix(rest, "/get"); ok && r.Method == http.MethodGet && name != "" {
		s.save(w, r, []string{name})
		return
	}
	if name, ok := strings.CutSuffix(rest, "/push"); ok && r.Method == http.MethodPost && name != "" {
		s.pushImage(w, r, name)
		return
	}
	if r.Method == http.MethodDelete && rest != "" {
		s.removeImage(w, r, rest)
		return
	}
	s.notServed(w, r)
}

// tagImage: POST /images/{name}/tag?repo=REPO&tag=TAG.
func (s *Server) tagImage(w http.ResponseWriter, r *http.Request, ref string) {
	repo, tag := r.URL.Query().Get("repo"), r.URL.Query().Get("tag")
	if repo == "" {
		fail(w, badParam("repo: the new name is missing"))
		return
	}
	target := repo
	if tag != "" {
		target += ":" + tag
	}
	if err := s.eng.TagImage(ref, target); err != nil {
		fail(w, imageError(ref, err))
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// saveImages: GET /images/get?names=A&names=B — docker save of several.
func (s *Server) saveImages(w http.ResponseWriter, r *http.Request) {
	names := r.URL.Query()["names"]
	if len(names) == 0 {
		fail(w, badParam("names: which images to save"))
		return
	}
	s.save(w, r, names)
}

// save answers an OCI image layout tar of the images (docker save; docker
// load reads it back). Each is looked up first: a missing one is a 404, not
// a tar cut short.
func (s *Server) save(w http.ResponseWriter, r *http.Request, refs []string) {
	for _, ref := range refs {
		if _, err := s.eng.ResolveImage(ref); err != nil {
			fail(w, imageError(ref, err))
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	s.eng.SaveImages(refs, w) // an error half way: the client's tar ends short
}

// loadImages: POST /images/load?quiet=1 — docker load: the archive in the
// body, the images it held named in a JSON stream.
func (s *Server) loadImages(w http.ResponseWriter, r *http.Request) {
	recs, err := s.eng.LoadImages(r.Body)
	if err != nil {
		fail(w, badParam("docker load: %v", err))
		return
	}
	send := jsonStream(w)
	for _, rec := range recs {
		if len(rec.Tags) == 0 {
			send(jsonstream.Message{Stream: "Loaded image ID: " + rec.ID + "\n"})
		}
		for _, t := range rec.Tags {
			send(jsonstream.Message{Stream: "Loaded image: " + image.Familiar(t) + "\n"})
		}
	}
}

// pushImage: POST /images/{name}/push?tag=TAG — docker push, its outcome
// as a JSON stream (dockerd's words).
func (s *Server) pushImage(w http.ResponseWriter, r *http.Request, name string) {
	ref := name
	if tag := r.URL.Query().Get("tag"); tag != "" {
		ref += ":" + tag
	}
	if err := image.CheckReference(ref); err != nil {
		fail(w, badParam("%v", err))
		return
	}
	if _, err := s.eng.ResolveImage(ref); err != nil {
		fail(w, imageError(ref, err))
		return
	}
	send := jsonStream(w)
	repo := ref
	if parsed, err := (image.Registry{}).ParseReference(ref); err == nil {
		repo = parsed.Context().Name()
	}
	send(jsonstream.Message{Status: "The push refers to repository [" + repo + "]"})
	rec, err := s.eng.Push(r.Context(), ref, image.Registry{})
	if err != nil {
		send(streamError(err))
		return
	}
	tag := "latest"
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		tag = ref[i+1:]
	}
	send(jsonstream.Message{Status: tag + ": digest: " + rec.Manifest})
}

// removeImage: DELETE /images/{name}?force=1 — docker rmi.
func (s *Server) removeImage(w http.ResponseWriter, r *http.Request, ref string) {
	removed, err := s.eng.RemoveImage(ref, boolParam(r, "force"))
	if err != nil {
		fail(w, imageError(ref, err))
		return
	}
	out := []apiimage.DeleteResponse{}
	for _, rm := range removed {
		out = append(out, apiimage.DeleteResponse{Untagged: rm.Untagged, Deleted: rm.Deleted})
	}
	writeJSON(w, http.StatusOK, out)
}

// imageError names the image as dockerd does when there is none.
func imageError(ref string, err error) error {
	if errors.Is(err, image.ErrNotFound) {
		return &noSuchImage{ref}
	}
	return err
}

type noSuchImage struct{ ref string }

func (e *noSuchImage) Error() string { return "No such image: " + e.ref }
func (e *noSuchImage) Unwrap() error { return image.ErrNotFound }

// inspectImage: GET /images/{name}/json.
func (s *Server) inspectImage(w http.ResponseWriter, ref string) {
	store, err := image.Open(s.eng.Root)
	if err != nil {
		fail(w, err)
		return
	}
	rec, err := store.Find(ref)
	if err != nil {
		fail(w, imageError(ref, err))
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
			out.Os, out.Architecture, out.Variant, out.Author = cf.OS, cf.Architecture, cf.Variant, cf.Author
		}
		// The image's own config, in the API's type (the same JSON keys).
		var raw struct {
			Config dockerspec.DockerOCIImageConfig `json:"config"`
		}
		if data, err := img.RawConfigFile(); err == nil && json.Unmarshal(data, &raw) == nil {
			out.Config = &raw.Config
		}
	}
	var lower []string
	for i := len(rec.Layers) - 1; i >= 0; i-- {
		lower = append(lower, store.LayerDir(rec.Layers[i].DiffID))
	}
	out.GraphDriver = &storage.DriverData{Name: "overlay2", Data: map[string]string{"LowerDir": strings.Join(lower, ":")}}
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
// container, the image and the network: a volume (none yet), a plugin
// (none): 404s, so that the CLI says "No such object".
func (s *Server) inspectOther(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, errors.New("no such object: "+r.PathValue("name")))
}

// commitContainer: POST /commit?container=ID&repo=REPO&tag=TAG&author=&comment=
// — docker commit (the body's config changes are not applied: refused
// when given).
func (s *Server) commitContainer(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if len(q["changes"]) > 0 {
		fail(w, badParam("changes (--change): not supported by glassbox's daemon yet"))
		return
	}
	c, err := s.eng.Container(q.Get("container"))
	if err != nil {
		fail(w, err)
		return
	}
	ref := q.Get("repo")
	if ref != "" && q.Get("tag") != "" {
		ref += ":" + q.Get("tag")
	}
	rec, err := s.eng.Commit(r.Context(), c, ref, q.Get("author"), q.Get("comment"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, apicontainer.CommitResponse{ID: rec.ID})
}
