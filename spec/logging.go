package spec

// --log-driver and --log-opt: where a detached container's output goes.
// json-file (the default) is the log in its state directory, one JSON object
// per line, as Docker's driver of that name; with max-size it is rotated when
// it would grow past it, keeping max-file files in all (the live one and the
// rotated ones, container-log.json.1 the newest). none keeps nothing: logs
// has nothing to read. Kept in the Spec as LogDriverAnnotation and
// LogOptAnnotationPrefix+KEY.

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const (
	LogDriverAnnotation    = "org.glassbox.log-driver"
	LogOptAnnotationPrefix = "org.glassbox.log-opt."
)

// LogConfig is a container's parsed log driver and options.
type LogConfig struct {
	Driver   string            // json-file or none
	MaxSize  int64             // bytes a log file grows to before rotation; 0: no limit
	MaxFiles int               // files kept, the live one included (≥ 1)
	Opts     map[string]string // as given: max-size=10m
}

// ParseLogConfig checks --log-driver and its --log-opt KEY=VALUE pairs, as
// Docker does: an option the driver does not know is refused, not ignored.
func ParseLogConfig(driver string, opts map[string]string) (LogConfig, error) {
	c := LogConfig{Driver: driver, MaxFiles: 1, Opts: opts}
	switch driver {
	case "", "json-file":
		c.Driver = "json-file"
	case "none":
		for k := range opts {
			return c, fmt.Errorf("--log-opt %s: the none log driver takes no options", k)
		}
		return c, nil
	default:
		return c, fmt.Errorf("--log-driver %q: json-file or none (glassbox keeps no other driver)", driver)
	}
	for k, v := range opts {
		switch k {
		case "max-size":
			n, err := ParseSize(v)
			if err != nil || n <= 0 {
				return c, fmt.Errorf("--log-opt max-size=%s: a size above 0, like 10m or 512k", v)
			}
			c.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return c, fmt.Errorf("--log-opt max-file=%s: a count of files from 1 to 1000", v)
			}
			c.MaxFiles = n
		default:
			return c, fmt.Errorf("--log-opt %s: json-file takes max-size and max-file", k)
		}
	}
	if c.MaxFiles > 1 && c.MaxSize == 0 {
		return c, fmt.Errorf("--log-opt max-file needs max-size: only a log with a size limit is rotated")
	}
	return c, nil
}

// ParseLogOpts reads --log-opt KEY=VALUE flags.
func ParseLogOpts(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--log-opt %q: expected KEY=VALUE", f)
		}
		out[k] = v
	}
	return out, nil
}

// apply records the configuration in the Spec, options as given (the
// default, an unlimited json-file, as nothing).
func (c LogConfig) apply(s *specs.Spec) {
	if c.Driver != "json-file" {
		setAnnotation(s, LogDriverAnnotation, c.Driver)
	}
	for k, v := range c.Opts {
		setAnnotation(s, LogOptAnnotationPrefix+k, v)
	}
}

// LogConfigOf is the log configuration a Spec holds (checked again: the Spec
// may come from a bundle's config.json).
func LogConfigOf(s *specs.Spec) (LogConfig, error) {
	if s == nil {
		return LogConfig{Driver: "json-file", MaxFiles: 1}, nil
	}
	opts := map[string]string{}
	for k, v := range s.Annotations {
		if key, ok := strings.CutPrefix(k, LogOptAnnotationPrefix); ok {
			opts[key] = v
		}
	}
	return ParseLogConfig(s.Annotations[LogDriverAnnotation], opts)
}
