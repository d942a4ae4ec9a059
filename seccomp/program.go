package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// program is a classic BPF program under construction, with named jump
// targets. Classic BPF jumps only forward, and a conditional jump by at most
// 255 instructions; assemble resolves the names and checks both.
type program struct {
	insns  []unix.SockFilter
	jumps  map[int][2]string // instruction → its jt/jf labels ("" = the next one)
	labels map[string]int
}

// The kernel's limit on a seccomp program (BPF_MAXINSNS).
const maxInstructions = 4096

func (p *program) load(offset uint32) {
	p.insns = append(p.insns, unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: offset})
}

func (p *program) and(mask uint32) {
	p.insns = append(p.insns, unix.SockFilter{Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: mask})
}

func (p *program) ret(v uint32) {
	p.insns = append(p.insns, unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: v})
}

// jump compares the accumulator with k (BPF_JEQ, BPF_JGT, BPF_JGE) and goes
// to label jt when true, jf when false; BPF_JA goes to jt always.
func (p *program) jump(op uint16, k uint32, jt, jf string) {
	if p.jumps == nil {
		p.jumps = map[int][2]string{}
	}
	p.jumps[len(p.insns)] = [2]string{jt, jf}
	p.insns = append(p.insns, unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k})
}

func (p *program) label(name string) {
	if p.labels == nil {
		p.labels = map[string]int{}
	}
	p.labels[name] = len(p.insns)
}

func (p *program) assemble() ([]unix.SockFilter, error) {
	if len(p.insns) > maxInstructions {
		return nil, fmt.Errorf("the filter needs %d instructions, more than the kernel's %d", len(p.insns), maxInstructions)
	}
	for i, targets := range p.jumps {
		var off [2]int
		for t, name := range targets {
			if name == "" {
				continue
			}
			at, ok := p.labels[name]
			if !ok {
				return nil, fmt.Errorf("internal: no label %q", name)
			}
			off[t] = at - i - 1
			if off[t] < 0 || off[t] > 255 && p.insns[i].Code != unix.BPF_JMP|unix.BPF_JA|unix.BPF_K {
				return nil, fmt.Errorf("internal: jump from %d to %q (%d) out of range", i, name, at)
			}
		}
		if p.insns[i].Code == unix.BPF_JMP|unix.BPF_JA|unix.BPF_K {
			p.insns[i].K = uint32(off[0])
		} else {
			p.insns[i].Jt, p.insns[i].Jf = uint8(off[0]), uint8(off[1])
		}
	}
	return p.insns, nil
}

// comparisons lists the runtime-spec's argument comparisons.
var comparisons = map[specs.LinuxSeccompOperator]bool{
	specs.OpEqualTo: true, specs.OpNotEqual: true, specs.OpMaskedEqual: true,
	specs.OpGreaterThan: true, specs.OpGreaterEqual: true, specs.OpLessThan: true, specs.OpLessEqual: true,
}

// argRule: if nr is the call and every condition holds, return ret;
// otherwise go on at label next.
func (p *program) argRule(nr uint32, args []specs.LinuxSeccompArg, ret uint32, next string) {
	p.load(dataNr)
	p.jump(unix.BPF_JEQ, nr, "", next)
	for i, a := range args {
		pass := fmt.Sprintf("%s.arg%d", next, i)
		p.compare(a, pass, next)
		p.label(pass)
	}
	p.ret(ret)
	p.label(next)
}

// compare goes to pass when argument a.Index compares as asked with a.Value,
// to fail otherwise. Each 64-bit argument is two 32-bit words, the low one
// first on the little-endian CPUs glassbox supports: the high words decide
// unless they are equal.
func (p *program) compare(a specs.LinuxSeccompArg, pass, fail string) {
	lo, hi := dataArgs+8*uint32(a.Index), dataArgs+8*uint32(a.Index)+4
	v := a.Value
	vlo, vhi := uint32(v), uint32(v>>32)
	switch a.Op {
	case specs.OpEqualTo:
		p.load(hi)
		p.jump(unix.BPF_JEQ, vhi, "", fail)
		p.load(lo)
		p.jump(unix.BPF_JEQ, vlo, pass, fail)
	case specs.OpNotEqual:
		p.load(hi)
		p.jump(unix.BPF_JEQ, vhi, "", pass)
		p.load(lo)
		p.jump(unix.BPF_JEQ, vlo, fail, pass)
	case specs.OpMaskedEqual: // (arg & value) == valueTwo
		w := a.ValueTwo
		p.load(hi)
		p.and(vhi)
		p.jump(unix.BPF_JEQ, uint32(w>>32), "", fail)
		p.load(lo)
		p.and(vlo)
		p.jump(unix.BPF_JEQ, uint32(w), pass, fail)
	case specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual:
		// < is the opposite of ≥, and ≤ of >: the same test, with the
		// outcomes swapped.
		op := map[specs.LinuxSeccompOperator]uint16{specs.OpGreaterThan: unix.BPF_JGT, specs.OpGreaterEqual: unix.BPF_JGE,
			specs.OpLessThan: unix.BPF_JGE, specs.OpLessEqual: unix.BPF_JGT}[a.Op]
		if a.Op == specs.OpLessThan || a.Op == specs.OpLessEqual {
			pass, fail = fail, pass
		}
		p.load(hi)
		p.jump(unix.BPF_JGT, vhi, pass, "")
		p.jump(unix.BPF_JEQ, vhi, "", fail)
		p.load(lo)
		p.jump(op, vlo, pass, fail)
	}
}
