package daemon

// docker events: GET /events?since=&until=&filters=, the state root's events
// log (engine.Events) as a stream of the API's event messages. Without until
// the stream follows until the client goes; with one it ends then.

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/glassbox-dev/glassbox/container"
)

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := timestampParam(q.Get("since"), "since")
	if err != nil {
		fail(w, err)
		return
	}
	until, err := timestampParam(q.Get("until"), "until")
	if err != nil {
		fail(w, err)
		return
	}
	f, err := parseFilters(q.Get("filters"), "type", "event", "container", "image", "network")
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	enc := json.NewEncoder(w)
	// Without since, only what happens from now on, as dockerd.
	follow := until.IsZero() || until.After(time.Now())
	if since.IsZero() && follow {
		since = time.Now()
	}
	s.eng.Events(r.Context(), since, until, follow, func(ev container.Event) error {
		if !f.Match(ev.Keys()) {
			return nil
		}
		if err := enc.Encode(events.Message{Type: events.Type(ev.Type), Action: events.Action(ev.Action), Scope: "local",
			Actor: events.Actor{ID: ev.ID, Attributes: ev.Attributes}, Time: ev.Time.Unix(), TimeNano: ev.Time.UnixNano()}); err != nil {
			return err // the client has gone
		}
		rc.Flush()
		return nil
	})
}

// timestampParam reads since and until as the CLI sends them: seconds since
// the epoch, with a fraction ("1700000000.000000001"); empty is none.
func timestampParam(v, name string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	secs, frac, _ := strings.Cut(v, ".")
	sec, err := strconv.ParseUint(secs, 10, 63)
	var nsec uint64
	if err == nil && frac != "" {
		nsec, err = strconv.ParseUint((frac + "000000000")[:9], 10, 32)
	}
	if err != nil || sec > math.MaxInt64/1_000_000_000 {
		return time.Time{}, badParam("%s=%q: seconds since 1970, as the docker CLI sends", name, v)
	}
	return time.Unix(int64(sec), int64(nsec)), nil
}
