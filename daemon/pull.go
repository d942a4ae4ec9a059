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

	"github.com/glassbox-dev/glassbox/image"
)

// progressMessage is one line of the stream (dockerd's jsonmessage).
type progressMessage struct {
	Status         string          `json:"status,omitempty"`
	ID             string          `json:"id,omitempty"`
	ProgressDetail *progressDetail `json:"progressDetail,omitempty"`
	Error          string          `json:"error,omitempty"`
	ErrorDetail    *errorDetail    `json:"errorDetail,omitempty"`
}

type progressDetail struct {
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

type errorDetail struct {
	Message string `json:"message"`
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
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	send := func(m progressMessage) {
		enc.Encode(m)
		rc.Flush()
	}
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
	send(progressMessage{Status: "Pulling from " + name, ID: tag})
	// Each layer is downloaded, then unpacked (dockerd's "Extracting").
	status := map[string][2]string{"download": {"Downloading", "Download complete"}, "unpack": {"Extracting", "Pull complete"}}
	var mu sync.Mutex
	o := image.Registry{Platform: q.Get("platform"), Progress: func(i, n int, digest, what string, sofar, size int64, done bool) {
		mu.Lock()
		defer mu.Unlock()
		id := strings.TrimPrefix(digest, "sha256:")
		id = id[:min(12, len(id))]
		if done {
			send(progressMessage{Status: status[what][1], ID: id})
		} else {
			send(progressMessage{Status: status[what][0], ID: id, ProgressDetail: &progressDetail{Current: sofar, Total: size}})
		}
	}}
	rec, err := s.eng.Pull(r.Context(), ref, o)
	if err != nil {
		send(progressMessage{Error: err.Error(), ErrorDetail: &errorDetail{Message: err.Error()}})
		return
	}
	send(progressMessage{Status: "Digest: " + rec.Manifest})
	send(progressMessage{Status: "Status: Downloaded newer image for " + image.Familiar(ref)})
}
