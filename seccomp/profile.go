package seccomp

// Profiles in Docker's format — what `docker run --security-opt
// seccomp=FILE` and podman read, and what glassbox's own default profile
// (default.json) is written in. A profile is more than a linux.seccomp: its
// rules may apply only with some capabilities, only without them, only on
// some CPUs or from some kernel version on; and its archMap says which other
// ABIs go with the native one. ForContainer resolves all that for one
// container, the way Docker does when it writes config.json.

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Profile is a seccomp profile in Docker's format.
type Profile struct {
	DefaultAction   specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet *uint                    `json:"defaultErrnoRet,omitempty"`
	Architectures   []specs.Arch             `json:"architectures,omitempty"`
	ArchMap         []struct {
		Arch    specs.Arch   `json:"architecture"`
		SubArch []specs.Arch `json:"subArchitectures"`
	} `json:"archMap,omitempty"`
	Flags        []specs.LinuxSeccompFlag `json:"flags,omitempty"`
	ListenerPath string                   `json:"listenerPath,omitempty"`
	Syscalls     []ProfileRule            `json:"syscalls"`
}

// ProfileRule is one of a profile's rules, with the conditions under which
// it applies.
type ProfileRule struct {
	specs.LinuxSyscall
	Name     string        `json:"name,omitempty"` // older profiles name one call
	Includes RuleCondition `json:"includes"`       // applies only if all of these hold
	Excludes RuleCondition `json:"excludes"`       // applies only if none of these holds
}

// RuleCondition: CPUs (Go's names: amd64, arm64), capabilities, a kernel
// version.
type RuleCondition struct {
	Arches    []string `json:"arches,omitempty"`
	Caps      []string `json:"caps,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

//go:embed default.json
var defaultJSON []byte

// DefaultProfileName is how the trace and inspect name default.json.
const DefaultProfileName = "builtin"

// DefaultProfile is glassbox's default profile (default.json), with Docker's
// semantics: for every Docker-style run and exec.
func DefaultProfile() *Profile {
	p, err := ParseProfile(defaultJSON)
	if err != nil {
		panic("seccomp/default.json: " + err.Error()) // TestDefaultProfile keeps it valid
	}
	return p
}

// ParseProfile reads a profile in Docker's format; errors name the field.
func ParseProfile(data []byte) (*Profile, error) {
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("not a seccomp profile in Docker's format: %w", err)
	}
	if p.DefaultAction == "" {
		return nil, fmt.Errorf("defaultAction: missing (SCMP_ACT_ERRNO, SCMP_ACT_ALLOW, …)")
	}
	if _, err := action(p.DefaultAction, p.DefaultErrnoRet, 1); err != nil {
		return nil, fmt.Errorf("defaultAction: %w", err)
	}
	// Checked here, where the index is the file's: a container's
	// linux.seccomp has only the rules that hold for it.
	for i, r := range p.Syscalls {
		if _, err := checkRule(r.LinuxSyscall); err != nil {
			return nil, fmt.Errorf("syscalls[%d]%w", i, err)
		}
		if r.Name != "" && len(r.Names) > 0 {
			return nil, fmt.Errorf("syscalls[%d]: both name and names", i)
		}
		if r.Name == "" && len(r.Names) == 0 {
			return nil, fmt.Errorf("syscalls[%d]: no names", i)
		}
		if v := r.Includes.MinKernel; v != "" {
			if _, err := parseKernel(v); err != nil {
				return nil, fmt.Errorf("syscalls[%d].includes.minKernel %q: %w", i, v, err)
			}
		}
	}
	return &p, nil
}

// ForContainer resolves the profile for a container with these capabilities
// (CAP_ names) on this machine: the rules whose conditions hold, and the
// ABIs its archMap gives this CPU. Compile (spec.Validate) checks the result.
func (p *Profile) ForContainer(caps []string) *specs.LinuxSeccomp {
	s := &specs.LinuxSeccomp{
		DefaultAction: p.DefaultAction, DefaultErrnoRet: p.DefaultErrnoRet,
		Architectures: p.Architectures, Flags: p.Flags, ListenerPath: p.ListenerPath,
	}
	if len(abis) > 0 {
		for _, m := range p.ArchMap {
			if m.Arch == abis[0].arch {
				s.Architectures = append([]specs.Arch{m.Arch}, m.SubArch...)
			}
		}
	}
	kernel := kernelVersion()
	for _, r := range p.Syscalls {
		if !r.holds(caps, kernel) {
			continue
		}
		rule := r.LinuxSyscall
		if r.Name != "" {
			rule.Names = []string{r.Name}
		}
		s.Syscalls = append(s.Syscalls, rule)
	}
	return s
}

func (r *ProfileRule) holds(caps []string, kernel [2]int) bool {
	in, out := r.Includes, r.Excludes
	if len(in.Arches) > 0 && !slices.Contains(in.Arches, runtime.GOARCH) || slices.Contains(out.Arches, runtime.GOARCH) {
		return false
	}
	for _, c := range in.Caps {
		if !slices.Contains(caps, c) {
			return false
		}
	}
	for _, c := range out.Caps {
		if slices.Contains(caps, c) {
			return false
		}
	}
	if in.MinKernel != "" {
		min, _ := parseKernel(in.MinKernel)
		if kernel[0] < min[0] || kernel[0] == min[0] && kernel[1] < min[1] {
			return false
		}
	}
	return true
}

// parseKernel reads "4.8" (and "4.8.0", "6.1.0-57-amd64") as major, minor.
func parseKernel(v string) ([2]int, error) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return [2]int{}, fmt.Errorf("expected major.minor")
	}
	digits := parts[1] // "19-rc1": the minor version's leading digits
	if i := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		digits = digits[:i]
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(digits)
	if err1 != nil || err2 != nil {
		return [2]int{}, fmt.Errorf("expected major.minor")
	}
	return [2]int{major, minor}, nil
}

func kernelVersion() [2]int {
	var u unix.Utsname
	unix.Uname(&u)
	v, _ := parseKernel(unix.ByteSliceToString(u.Release[:]))
	return v
}
