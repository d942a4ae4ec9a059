package daemon

// docker pull: POST /images/create?fromImage=NAME&tag=TAG. The answer is a
// stream of JSON messages, one a line, as dockerd writes them: the layers'
// progress, then the digest and the outcome; a failure half way is a message
// with an "error" in the stream (the status line went out already).

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/jsonstream"

	"github.com/glassbox-dev/glassbox/image"
)

// jsonStream answers 200 and then sends messages, a line each, flushed as
// they go (pull, push, load).
func jsonStream(w http.ResponseWriter) func(jsonstream.Message) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	var mu sync.Mutex
	return func(m jsonstream.Message) {
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(m)
		rc.Flush()
	}
}

// streamError is a failure after the status line: a message in the stream.
func streamError(err error) jsonstream.Message {
	return jsonstream.Message{Error: &jsonstream.Error{Message: err.Error()}}
}

// shortDigest is a layer's id in progress messages, as dockerd gives it.
func shortDigest(digest string) string {
	id := strings.TrimPrefix(digest, "sha256:")
	return id[:min(12, len(id))]
}

// pullImage: POST /images/create?fromImage=NAME[&tag=TAG]. Importing a
// tarball (fromSrc) is not served yet.
func (s *Server) pullImage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("fromSrc") != "" {
		s.notServed(w, r)
		return
	}
	ref := q.Get("fromImage")
	if ref == "" {
		fail(w, badParam("fromImage: the image to pull is missing"))
		return
	}
	if tag := q.Get("tag"); tag != "" && !strings.Contains(ref, "@") {
		sep := ":"
		if strings.HasPrefix(tag, "sha256:") {
			sep = "@"
		}
		ref += sep + tag
	}
	if err := image.CheckReference(ref); err != nil {
		fail(w, badParam("%v", err))
		return
	}
	send := jsonStream(w)
	name, tag := ref, "latest"
	if i := strings.LastIndexByte(ref, '@'); i >= 0 {
		name, tag = ref[:i], ref[i+1:]
	} else if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		name, tag = ref[:i], ref[i+1:]
	}
	// As dockerd says it: the repository's path, without the registry.
	if parsed, err := (image.Registry{}).ParseReference(name); err == nil {
		name = parsed.Context().RepositoryStr()
	}
	send(jsonstream.Message{Status: "Pulling from " + name, ID: tag})
	// Each layer is downloaded, then unpacked (dockerd's "Extracting").
	status := map[string][2]string{"download": {"Downloading", "Download complete"}, "unpack": {"Extracting", "Pull complete"}}
	o := image.Registry{Platform: q.Get("platform"), Progress: func(i, n int, digest, what string, sofar, size int64, done bool) {
		if done {
			send(jsonstream.Message{Status: status[what][1], ID: shortDigest(digest)})
		} else {
			send(jsonstream.Message{Status: status[what][0], ID: shortDigest(digest), Progress: &jsonstream.Progress{Current: sofar, Total: size}})
		}
	}}
	rec, err := s.eng.Pull(r.Context(), ref, o)
	if err != nil {
		send(streamError(err))
		return
	}
	send(jsonstream.Message{Status: "Digest: " + rec.Manifest})
	send(jsonstream.Message{Status: "Status: Downloaded newer image for " + image.Familiar(ref)})
}
