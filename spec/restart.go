package spec

// --restart: what a detached container's monitor does when its program
// exits, as Docker's restart policies: no; on-failure[:N] (a non-zero exit,
// at most N times); always and unless-stopped (any exit, until a stop — the
// two differ in Docker only when its daemon restarts, which glassbox's
// containers do not depend on). Kept in the Spec as RestartAnnotation.

import (
	"fmt"
	"strconv"
	"strings"
)

// RestartAnnotation holds a container's restart policy.
const RestartAnnotation = "org.glassbox.restart"

// RestartPolicy is a parsed --restart.
type RestartPolicy struct {
	Name       string // no, on-failure, always, unless-stopped
	MaxRetries int    // on-failure:N; 0 is no limit
}

// ParseRestart reads --restart's value ("" is no).
func ParseRestart(v string) (RestartPolicy, error) {
	name, count, hasCount := strings.Cut(v, ":")
	p := RestartPolicy{Name: name}
	switch {
	case v == "" || v == "no":
		return RestartPolicy{Name: "no"}, nil
	case name == "always" || name == "unless-stopped":
		if hasCount {
			return p, fmt.Errorf("--restart %s takes no count (on-failure:N does)", name)
		}
		return p, nil
	case name == "on-failure":
		if !hasCount {
			return p, nil
		}
		n, err := strconv.Atoi(count)
		if err != nil || n < 0 || n > 1_000_000 {
			return p, fmt.Errorf("--restart on-failure:%s: a count from 0 to 1000000", count)
		}
		p.MaxRetries = n
		return p, nil
	}
	return p, fmt.Errorf("--restart %q: no, on-failure[:N], always or unless-stopped", v)
}

// Due says whether a container that exited with code after restarts
// restarts: stopped says a stop ended it (no policy restarts that).
func (p RestartPolicy) Due(code, restarts int, stopped bool) bool {
	switch {
	case stopped || p.Name == "no" || p.Name == "":
		return false
	case p.Name == "on-failure":
		return code != 0 && (p.MaxRetries == 0 || restarts < p.MaxRetries)
	}
	return true
}

// String is the policy as --restart takes it.
func (p RestartPolicy) String() string {
	if p.Name == "on-failure" && p.MaxRetries > 0 {
		return "on-failure:" + strconv.Itoa(p.MaxRetries)
	}
	return p.Name
}
