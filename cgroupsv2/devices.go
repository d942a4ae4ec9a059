package cgroupsv2

// Device access: which device nodes the container may open (read, write) and
// create (mknod). The kernel asks the cgroup on every open(2) and mknod(2) of a
// device node, whatever the file's permission bits say.
//
//	cgroup v1: the devices controller. devices.deny and devices.allow take one
//	  rule per write(2), "c 1:3 rwm" ("*" for any number, "a" for every device).
//	  Writing "a" to devices.deny empties the list and denies by default.
//	cgroup v2: no control file. A BPF program of type BPF_PROG_TYPE_CGROUP_DEVICE,
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
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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

// The context a BPF_PROG_TYPE_CGROUP_DEVICE program is given
// (struct bpf_cgroup_dev_ctx): access_type is access<<16 | type.
const (
	devCtxAccessType = 0
	devCtxMajor      = 4
	devCtxMinor      = 8

	bpfDevcgDevBlock = 1
	bpfDevcgDevChar  = 2
	bpfDevcgAccMknod = 1
	bpfDevcgAccRead  = 2
	bpfDevcgAccWrite = 4
)

// Program is the policy as a cgroup device program. It tries the exceptions
// from the last to the first, so that the first match it meets is the rule
// that comes last, and falls back to the default:
//
//	r2 = type, r3 = access asked, r4 = major, r5 = minor
//	for each exception, last first:
//	    if r2 != type || r3 not within the rule's access || r4 != major || r5 != minor: next
//	    return verdict
//	return default
//
// An allow rule matches when it covers every access asked; a deny rule when
// it covers any.
func (p DevicePolicy) Program() asm.Instructions {
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, devCtxAccessType, asm.Word),
		asm.Mov.Reg(asm.R3, asm.R2),
		asm.RSh.Imm(asm.R3, 16),
		asm.And.Imm(asm.R2, 0xffff),
		asm.LoadMem(asm.R4, asm.R1, devCtxMajor, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, devCtxMinor, asm.Word),
	}
	for i := len(p.Exceptions) - 1; i >= 0; i-- {
		r, next := p.Exceptions[i], fmt.Sprintf("rule%d", i-1)
		var rule asm.Instructions
		switch r.Type {
		case "c":
			rule = append(rule, asm.JNE.Imm(asm.R2, bpfDevcgDevChar, next))
		case "b":
			rule = append(rule, asm.JNE.Imm(asm.R2, bpfDevcgDevBlock, next))
		}
		if bits := accessBits(r.Access); bits != bpfDevcgAccMknod|bpfDevcgAccRead|bpfDevcgAccWrite {
			rule = append(rule, asm.Mov.Reg(asm.R6, asm.R3))
			if r.Allow {
				rule = append(rule, asm.And.Imm(asm.R6, ^bits), asm.JNE.Imm(asm.R6, 0, next))
			} else {
				rule = append(rule, asm.And.Imm(asm.R6, bits), asm.JEq.Imm(asm.R6, 0, next))
			}
		}
		if r.Major != nil && *r.Major >= 0 {
			rule = append(rule, asm.JNE.Imm(asm.R4, int32(*r.Major), next))
		}
		if r.Minor != nil && *r.Minor >= 0 {
			rule = append(rule, asm.JNE.Imm(asm.R5, int32(*r.Minor), next))
		}
		rule = append(rule, asm.Mov.Imm(asm.R0, verdict(r.Allow)), asm.Return())
		rule[0] = rule[0].WithSymbol(fmt.Sprintf("rule%d", i))
		insns = append(insns, rule...)
	}
	return append(insns, asm.Mov.Imm(asm.R0, verdict(p.AllowByDefault)).WithSymbol("rule-1"), asm.Return())
}

func accessBits(access string) int32 {
	var bits int32
	for _, c := range access {
		bits |= map[rune]int32{'r': bpfDevcgAccRead, 'w': bpfDevcgAccWrite, 'm': bpfDevcgAccMknod}[c]
	}
	return bits
}

func verdict(allow bool) int32 {
	if allow {
		return 1
	}
	return 0
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
	dir := c.Dirs[0]
	start := time.Now()
	err := attachDeviceProgram(dir, p.Program())
	c.trace("bpf", dir, fmt.Sprintf("BPF_CGROUP_DEVICE program, %d rule(s)", len(p.Exceptions)), start, err)
	return err
}

func attachDeviceProgram(dir string, insns asm.Instructions) error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.CGroupDevice, License: "Apache-2.0", Instructions: insns})
	if err != nil {
		return fmt.Errorf("load the BPF device program: %w", err)
	}
	defer prog.Close()
	cg, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer cg.Close()
	// BPF_F_ALLOW_MULTI: programs attached above (systemd's, a parent
	// runtime's) keep running too; a device must pass all of them.
	err = link.RawAttachProgram(link.RawAttachProgramOptions{
		Target: int(cg.Fd()), Program: prog, Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI,
	})
	if err != nil {
		return fmt.Errorf("attach the BPF device program to %s: %w", dir, err)
	}
	return nil
}
