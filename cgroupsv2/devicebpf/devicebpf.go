// Package devicebpf is cgroup v2's device controller: a program of type
// BPF_PROG_TYPE_CGROUP_DEVICE that the kernel asks on every open(2) and
// mknod(2) of a device node by a process of the cgroup it is attached to
// (BPF_PROG_ATTACH, attach type BPF_CGROUP_DEVICE). Importing the package
// makes cgroupsv2.LimitDevices use it; only glassbox does, not glassbox-init.
package devicebpf

import (
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
)

func init() { cgroupsv2.AttachDeviceProgram = attach }

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
func Program(p cgroupsv2.DevicePolicy) asm.Instructions {
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

func attach(dir string, p cgroupsv2.DevicePolicy) error {
	insns := Program(p)
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
