package stages

import (
	"errors"
	"time"
)

// Step is one kernel-level action inside a stage — a mount, a cgroup file
// written, a netlink request — timed by the process that did it. Steps from the
// container's init travel to the host in its sync-socket replies; the trace turns
// every step into a span under its stage.
type Step struct {
	Name  string            `json:"name"`
	Pid   int               `json:"pid,omitempty"` // host pid of the process that did it (filled in by the host)
	Start int64             `json:"start"`         // unix nanoseconds
	End   int64             `json:"end"`
	Attrs map[string]string `json:"attrs,omitempty"`
	Err   string            `json:"error,omitempty"`
}

// steps collects the steps of one stage half.
type steps []Step

// record appends a step that began at start and ends now; kv are attribute
// key/value pairs.
func (s *steps) record(name string, start time.Time, err error, kv ...string) {
	st := Step{Name: name, Start: start.UnixNano(), End: time.Now().UnixNano()}
	if len(kv) > 0 {
		st.Attrs = make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			st.Attrs[kv[i]] = kv[i+1]
		}
	}
	if err != nil {
		st.Err = err.Error()
		var e *Error
		if errors.As(err, &e) && e.Call != "" {
			st.Err = e.Msg
		}
	}
	*s = append(*s, st)
}

// take returns the steps recorded so far and starts a new list.
func (s *steps) take() []Step {
	out := *s
	*s = nil
	return out
}
