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

// matchAny says whether, for every key, one of the values the object has
// under it (its id, its names, its state) matches one of the filter's.
func (f filters) matchAny(has map[string][]string) bool {
	for key, values := range f {
		if !slices.ContainsFunc(values, func(v string) bool {
			return slices.ContainsFunc(has[key], func(h string) bool { return matches(key, v, h) })
		}) {
			return false
		}
	}
	return true
}

// matches: an id by prefix, a name by substring (as dockerd), else equal.
func matches(key, want, have string) bool {
	switch key {
	case "id":
		return strings.HasPrefix(have, want)
	case "name":
		return strings.Contains(have, want)
	}
	return have == want
}
