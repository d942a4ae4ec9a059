// Package buildinfo says which glassbox this is: glassbox --version, and the
// service.version of its traces.
package buildinfo

import "runtime/debug"

// Version is the module's version, which names the commit it was built from
// (a pseudo-version), or that commit when there is no version.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	v, dirty := "(devel)", ""
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision":
			v = s.Value[:min(12, len(s.Value))]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "+dirty"
		}
	}
	return v + dirty
}
