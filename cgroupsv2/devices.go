package cgroupsv2

// Device access: which device nodes the container may open (read, write) and
// create (mknod). The kernel asks the cgroup on every open(2) and mknod(2) of a
// device node, whatever the file's permission bits say.
//
//	cgroup v1: the devices controller. devices.deny and devices.allow take one
//	  rule per write(2), "c 1:3 rwm" ("*" for any number, "a" for every device).
//	  Writing "a" to devices.deny empties the list and denies by default.
//	cgroup v2: no control file. A BPF program (package devicebpf) of type BPF_PROG_TYPE_CGROUP_DEVICE,
//	  attached to the cgroup with BPF_PROG_ATTACH (attach type
//	  BPF_CGROUP_DEVICE), gets the device type, major, minor and the access
//	  asked, and returns 1 to allow or 0 to refuse (EPERM). An attachment made
//	  with BPF_PROG_ATTACH lives as long as the cgroup: rmdir(2) ends it.
//
// The OCI rules (linux.resources.devices) are read in order and the last rule
// that matches decides; a rule for every device and every access resets the
// default. Both trees get the same normalised list: a default and, in order,
// the exceptions to it.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DevicePolicy is a device rule list reduced to a default and its exceptions.
type DevicePolicy struct {
	AllowByDefault bool
	Exceptions     []specs.LinuxDeviceCgroup // in order; the last match wins
}

// NewDevicePolicy reduces OCI device rules. With no rule at all every device is
// allowed, as with runc: callers that want isolation start with a deny-all.
func NewDevicePolicy(rules []specs.LinuxDeviceCgroup) (DevicePolicy, error) {
	p := DevicePolicy{AllowByDefault: true}
	for i, r := range rules {
		access, err := normaliseAccess(r.Access)
		if err != nil {
			return p, fmt.Errorf("linux.resources.devices[%d].access: %w", i, err)
		}
		r.Access = access
		switch r.Type {
		case "", "a":
			if r.Major != nil && *r.Major >= 0 || r.Minor != nil && *r.Minor >= 0 {
				return p, fmt.Errorf("linux.resources.devices[%d]: type \"a\" (every device) takes no major or minor", i)
			}
			if access == "rwm" {
				p = DevicePolicy{AllowByDefault: r.Allow}
				continue
			}
			r.Type = "a"
		case "c", "b":
		default:
			return p, fmt.Errorf("linux.resources.devices[%d].type %q: must be a, c or b", i, r.Type)
		}
		p.Exceptions = append(p.Exceptions, r)
	}
	return p, nil
}

// normaliseAccess checks a subset of "rwm" and writes it in that order; empty
// means all three.
func normaliseAccess(a string) (string, error) {
	if a == "" {
		return "rwm", nil
	}
	out := ""
	for _, c := range "rwm" {
		if strings.ContainsRune(a, c) {
			out += string(c)
		}
	}
	if len(out) != len(a) {
		return "", fmt.Errorf("%q: a combination of r, w and m", a)
	}
	return out, nil
}

// V1Lines are the writes that set the policy in a v1 devices cgroup: the file
// and the line, in order.
func (p DevicePolicy) V1Lines() [][2]string {
	lines := [][2]string{{"devices.deny", "a"}}
	if p.AllowByDefault {
		lines[0][0] = "devices.allow"
	}
	for _, r := range p.Exceptions {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		line := "a"
		if r.Type != "a" {
			line = fmt.Sprintf("%s %s:%s %s", r.Type, number(r.Major), number(r.Minor), r.Access)
		}
		lines = append(lines, [2]string{file, line})
	}
	return lines
}

func number(n *int64) string {
	if n == nil || *n < 0 {
		return "*"
	}
	return strconv.FormatInt(*n, 10)
}

// LimitDevices enforces the policy: v1 lines in the devices tree, or the
// program attached to the v2 cgroup.
func (c *Cgroup) LimitDevices(p DevicePolicy) error {
	if c.v1() {
		dir, err := c.dirFor("devices")
		if err != nil {
			return err
		}
		for _, l := range p.V1Lines() {
			if err := c.write(dir, l[0], l[1]); err != nil {
				return err
			}
		}
		return nil
	}
	if AttachDeviceProgram == nil {
		return errors.New("this binary cannot load BPF programs (cgroupsv2/devicebpf is not linked in)")
	}
	dir := c.Dirs[0]
	start := time.Now()
	err := AttachDeviceProgram(dir, p)
	c.trace("bpf", dir, fmt.Sprintf("BPF_CGROUP_DEVICE program, %d rule(s)", len(p.Exceptions)), start, err)
	return err
}

// AttachDeviceProgram compiles the policy into a BPF_CGROUP_DEVICE program
// and attaches it to a v2 cgroup directory. It is package devicebpf's, which
// only glassbox links in: the cgroup stage runs in glassbox, and keeping
// cilium/ebpf out of glassbox-init saves every container ~1.5 ms of start-up.
var AttachDeviceProgram func(dir string, p DevicePolicy) error
