package daemon

import (
	"encoding/json"
	"slices"
	"strings"

	apicontainer "github.com/moby/moby/api/types/container"
)

// filters are a list request's ?filters=: {"name": {"web": true}}, or the
// older {"name": ["web"]}. A container matches when, for every key, it
// matches one of that key's values.
type filters map[string][]string

// listFilters are the keys glassbox answers; any other is refused, not ignored.
var listFilters = []string{"id", "name", "status"}

func parseFilters(v string) (filters, error) {
	f := filters{}
	if v == "" {
		return f, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, badParam("filters: %v", err)
	}
	for key, values := range raw {
		if !slices.Contains(listFilters, key) {
			return nil, badParam("filters: %q is not a filter glassbox knows (%s)", key, strings.Join(listFilters, ", "))
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

func (f filters) match(c apicontainer.Summary) bool {
	for key, values := range f {
		if !slices.ContainsFunc(values, func(v string) bool { return matches(key, v, c) }) {
			return false
		}
	}
	return true
}

func matches(key, v string, c apicontainer.Summary) bool {
	switch key {
	case "id":
		return strings.HasPrefix(c.ID, v)
	case "name": // a substring, as dockerd matches it
		return slices.ContainsFunc(c.Names, func(n string) bool { return strings.Contains(n, v) })
	case "status":
		return string(c.State) == v
	}
	return false
}
