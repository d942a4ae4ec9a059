package daemon

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/glassbox-dev/glassbox/engine"
)

// filters are a list request's ?filters=: {"name": {"web": true}}, or the
// older {"name": ["web"]} (engine.Filters).
type filters = engine.Filters

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
