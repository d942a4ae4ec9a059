package daemon

import "testing"

func TestVersionPrefix(t *testing.T) {
	for path, want := range map[string][2]string{
		"/v1.50/containers/json": {"1.50", "/containers/json"},
		"/v1.24/_ping":           {"1.24", "/_ping"},
		"/_ping":                 {"", "/_ping"},
		"/v1.50":                 {"", "/v1.50"},
		"/v1/x":                  {"", "/v1/x"},
		"/v1.5a/x":               {"", "/v1.5a/x"},
		"/v.5/x":                 {"", "/v.5/x"},
		"/volumes/x":             {"", "/volumes/x"},
		"/v1.50//x":              {"1.50", "//x"},
	} {
		if v, rest := versionPrefix(path); v != want[0] || rest != want[1] {
			t.Errorf("versionPrefix(%q) = %q, %q; want %q, %q", path, v, rest, want[0], want[1])
		}
	}
	for _, c := range []struct {
		a, b string
		less bool
	}{
		{"1.9", "1.10", true}, {"1.50", "1.50", false}, {"1.51", "1.50", false}, {"0.99", "1.0", true},
		{"99999999999999999999.1", "1.50", false}, // too new: Atoi clamps at the largest int
	} {
		if versionLess(c.a, c.b) != c.less {
			t.Errorf("versionLess(%s, %s) != %v", c.a, c.b, c.less)
		}
	}
}
