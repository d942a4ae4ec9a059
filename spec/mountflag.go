package spec

// --mount, Docker's long form of -v and --tmpfs:
//
//	--mount type=bind,source=/host/dir,target=/path[,readonly]
//	--mount type=volume,source=NAME,target=/path[,readonly]
//	--mount type=tmpfs,target=/path[,tmpfs-size=BYTES][,tmpfs-mode=OCTAL]
//
// Each becomes the -v or --tmpfs it stands for, so one path checks them.

import (
	"fmt"
	"strconv"
	"strings"
)

// Mount is one --mount, parsed.
type Mount struct {
	Type, Source, Target string
	ReadOnly             bool
	TmpfsSize            int64  // bytes; 0: the default
	TmpfsMode            uint32 // 0: the default
}

// ParseMountFlag reads --mount's KEY=VALUE list.
func ParseMountFlag(v string) (Mount, error) {
	m := Mount{Type: "volume"}
	for _, field := range strings.Split(v, ",") {
		key, value, hasValue := strings.Cut(field, "=")
		switch key {
		case "type":
			m.Type = value
		case "source", "src":
			m.Source = value
		case "target", "destination", "dst":
			m.Target = value
		case "readonly", "ro":
			m.ReadOnly = !hasValue || value == "true" || value == "1"
		case "tmpfs-size":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n <= 0 {
				return m, fmt.Errorf("--mount %s: tmpfs-size %q: a number of bytes", v, value)
			}
			m.TmpfsSize = n
		case "tmpfs-mode":
			n, err := strconv.ParseUint(value, 8, 32)
			if err != nil || n > 0o7777 {
				return m, fmt.Errorf("--mount %s: tmpfs-mode %q: an octal mode", v, value)
			}
			m.TmpfsMode = uint32(n)
		default:
			return m, fmt.Errorf("--mount %s: %q is not a key glassbox knows (type, source, target, readonly, tmpfs-size, tmpfs-mode)", v, key)
		}
	}
	return m, nil
}

// Apply adds the mount to o as the -v or --tmpfs it stands for.
func (m Mount) Apply(o *RunOptions) error {
	if m.Target == "" {
		return fmt.Errorf("--mount type=%s: target= is missing", m.Type)
	}
	if strings.ContainsAny(m.Source+m.Target, ":,") {
		return fmt.Errorf("--mount %s: a path with ':' or ',' cannot be mounted here", m.Target)
	}
	mode := "rw"
	if m.ReadOnly {
		mode = "ro"
	}
	switch m.Type {
	case "bind", "volume":
		if m.Source == "" {
			return fmt.Errorf("--mount type=%s: source= is missing", m.Type)
		}
		if m.Type == "bind" && !strings.HasPrefix(m.Source, "/") {
			return fmt.Errorf("--mount type=bind: source %q must be an absolute host path", m.Source)
		}
		if m.Type == "volume" && strings.HasPrefix(m.Source, "/") {
			return fmt.Errorf("--mount type=volume: source %q is a path; a volume has a name (type=bind mounts a path)", m.Source)
		}
		o.Volumes = append(o.Volumes, m.Source+":"+m.Target+":"+mode)
	case "tmpfs":
		if m.Source != "" {
			return fmt.Errorf("--mount type=tmpfs takes no source")
		}
		var opts []string
		if m.TmpfsSize > 0 {
			opts = append(opts, "size="+strconv.FormatInt(m.TmpfsSize, 10))
		}
		if m.TmpfsMode != 0 {
			opts = append(opts, "mode="+strconv.FormatUint(uint64(m.TmpfsMode), 8))
		}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		o.Tmpfs = append(o.Tmpfs, strings.TrimSuffix(m.Target+":"+strings.Join(opts, ","), ":"))
	default:
		return fmt.Errorf("--mount type=%s: bind, volume or tmpfs", m.Type)
	}
	return nil
}
