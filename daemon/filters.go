package daemon

import (
	"encoding/json"
	"slices"
	"strings"
)

// filters are a list request's ?filters=: {"name": {"web": true}}, or the
// older {"name": ["web"]}. A container matches when, for every key, it
// matches one of that key's values.
type filters map[string][]string

// parseFilters reads ?filters= with the keys a list answers; any other is
// refused, not ignored.
func parseFilters(v string, keys ...string) (filters, error) {
	f := filters{}
	if v == "" {
		return f, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, badParam("filters: %v", err)
	}
	for key, values := range raw {
		if !slices.Contains(keys, key) {
			return nil, badParam("filters: %q is not a filter glassbox knows here (%s)", key, strings.Join(keys, ", "))
		}
		var set map[string]bool
		var list []string
		switch {
		case json.Unmarshal(values, &set) == nil:
			for value, on := range set {
				if on {
					list = append(list, value)
				}
			}
		case json.Unmarshal(values, &list) == nil:
		default:
			return nil, badParam("filters: %s: expected {\"value\": true} or [\"value\"]", key)
		}
		f[key] = list
	}
	return f, nil
}

func (f filters) has(key string) bool { return len(f[key]) > 0 }

// matchAny says whether, for every key, what the object has under it (its
// id, its names, its state, its labels) matches one of the filter's values —
// every one of them, for labels, as dockerd has it.
func (f filters) matchAny(has map[string][]string) bool {
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

// labelPairs are labels as filters compare them: key=value.
func labelPairs(labels map[string]string) []string {
	var out []string
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	return out
}
