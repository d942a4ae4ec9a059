package engine

// Filters choose among containers, images, networks and events, as docker's
// --filter does: KEY=VALUE pairs, where an object matches when, for every
// key, it matches one of that key's values (every one, for labels).

import (
	"slices"
	"strings"
)

// Filters are values by key.
type Filters map[string][]string

func (f Filters) Has(key string) bool { return len(f[key]) > 0 }

// Match says whether, for every key, what the object has under it (its
// id, its names, its state, its labels) matches one of the filter's values —
// every one of them, for labels, as dockerd has it.
func (f Filters) Match(has map[string][]string) bool {
	for key, values := range f {
		matched := func(v string) bool {
			return slices.ContainsFunc(has[key], func(h string) bool { return matches(key, v, h) })
		}
		if key == "label" && !all(values, matched) || key != "label" && !slices.ContainsFunc(values, matched) {
			return false
		}
	}
	return true
}

func all(values []string, f func(string) bool) bool {
	for _, v := range values {
		if !f(v) {
			return false
		}
	}
	return true
}

// matches: an id by prefix, a name by substring, a label by its key alone
// or key=value (as dockerd), else equal.
func matches(key, want, have string) bool {
	switch key {
	case "id":
		return strings.HasPrefix(have, want)
	case "name":
		return strings.Contains(have, want)
	case "label":
		k, _, _ := strings.Cut(have, "=")
		return have == want || !strings.Contains(want, "=") && k == want
	}
	return have == want
}

// LabelPairs are labels as filters compare them: key=value.
func LabelPairs(labels map[string]string) []string {
	var out []string
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	return out
}
