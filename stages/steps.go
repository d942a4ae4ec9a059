package stages

import (
	"errors"
	"strings"
	"time"
)

// Step is one kernel-level action inside a stage — a mount, a cgroup file
// written, a netlink request — timed by the process that did it. Steps from the
// container's init travel to the host in its sync-socket replies; the trace turns
// every step into a span under its stage.
//
// A step's Name begins with its kind, one word — the system call or the act:
// mount, bind, write, mkdir, RTM_NEWLINK, hook — and goes on with the detail:
// "write memory.max=67108864 in memory:/glassbox/<id>". The kind names the
// step's span, a name from a small set that a tracing backend can index; the
// whole Name is its glassbox.step attribute, which the viewers print.
type Step struct {
	Name  string            `json:"name"`
	Pid   int               `json:"pid,omitempty"` // host pid of the process that did it (filled in by the host)
	Start int64             `json:"start"`         // unix nanoseconds
	End   int64             `json:"end"`
	Attrs map[string]string `json:"attrs,omitempty"`
	Err   string            `json:"error,omitempty"`
}

// Kind is what the step is, without the detail (StepKind of its name).
func (s Step) Kind() string { return StepKind(s.Name) }

// StepKind is the kind a step's name begins with: its first word, or the
// system call that word stands for — a bind, a remount and a propagation
// change are mount(2) calls, RTM_NEWLINK and its like netlink requests.
func StepKind(name string) string {
	word := name
	if i := strings.IndexAny(name, " (:,"); i >= 0 {
		word = name[:i]
	}
	switch {
	case word == "bind" || word == "remount" || word == "propagation":
		return "mount"
	case strings.HasPrefix(word, "RTM_"):
		return "netlink"
	}
	return word
}

// steps collects the steps of one stage half — unless nobody reads them
// (off): only a traced run shows its steps, and an untraced one spent about
// 0.5 ms sending them from its init as JSON to a glassbox that dropped them.
type steps struct {
	list []Step
	off  bool
}

// stepsFor is a run's collector on the host: off when nothing hears the
// run's stages (Options.After). Its init's is off unless told (InitConfig.Steps).
func stepsFor(o Options) steps { return steps{off: o.After == nil} }

// record appends a step that began at start and ends now; kv are attribute
// key/value pairs.
func (s *steps) record(name string, start time.Time, err error, kv ...string) {
	if s.off {
		return
	}
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
	s.list = append(s.list, st)
}

// take returns the steps recorded so far and starts a new list.
func (s *steps) take() []Step {
	out := s.list
	s.list = nil
	return out
}
