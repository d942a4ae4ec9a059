package trace

// trace diff A B: two runs side by side — each stage's time in both, which
// stage failed and why, the kernel calls and steps one run made and the other
// did not (a working config.json against a broken one, --network bridge
// against none). Calls and steps are compared by their text with what
// differs between any two runs taken out: container ids, pids, addresses of
// the run's own files.

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// What makes two runs' texts differ for no reason: container ids (12 to 64
// hex digits) and long numbers; the run's own pids (normalize); what a read
// step measured. Compiled on first use: every run links this package, few
// diff.
var (
	runIDs   = lazyRegexp(`[0-9a-f]{12,64}|\b[0-9]{5,}\b`)
	measured = lazyRegexp(`[0-9]+`)
	childPid = lazyRegexp(`^(clone3?\(.*\)) = [0-9]+$`) // a clone returns the child's pid
	number   = lazyRegexp(`\b[0-9]+\b`)                 // one of them may be a pid of the run's
)

func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

func normalize(s string) string { return runIDs().ReplaceAllString(s, "…") }

// side is one run of a diff: its spans by stage.
type side struct {
	t      *tree
	stages map[string]Span
	order  []string
	// Kernel calls are compared over the whole run, and by whether a run
	// made one, not how often: which side of a stage boundary an event falls,
	// and how many threads the Go runtime ends at an execve, vary between two
	// runs of one config. Steps, per stage, counted.
	calls   map[string][]Span // normalized call -> the kernel events
	steps   map[string][]Span // stage + normalized step text -> the steps
	shown   map[string]string // key -> its text as a viewer prints it, normalized
	stageOf map[string]string // span id -> its stage
}

func newSide(f *File, v View) (*side, bool) {
	t, ok := newTree(f, v)
	if !ok {
		return nil, false
	}
	s := &side{t: t, stages: map[string]Span{}, calls: map[string][]Span{}, steps: map[string][]Span{}, shown: map[string]string{}, stageOf: map[string]string{}}
	// The run's processes and threads, whose ids another run does not share.
	ids := map[string]bool{}
	for _, sp := range f.Spans() {
		for _, key := range []string{"process.pid", "thread.id"} {
			if id := sp.Attr(key); id != "" {
				ids[id] = true
			}
		}
	}
	text := func(x string) string {
		x = number().ReplaceAllStringFunc(x, func(n string) string {
			if ids[n] {
				return "…"
			}
			return n
		})
		if strings.HasPrefix(x, "read ") {
			x = measured().ReplaceAllString(x, "…")
		}
		x = childPid().ReplaceAllString(x, "$1 = …")
		return normalize(x)
	}
	for _, st := range t.stages() {
		s.stages[st.Name] = st
		s.order = append(s.order, st.Name)
		t.walk(st, func(sp Span) {
			s.stageOf[sp.SpanID] = st.Name
			if spanKind(sp, t.root) == "kernel" {
				if call := sp.Attr("glassbox.kernel.call"); strings.HasPrefix(call, "clone") && strings.Contains(call, "CLONE_THREAD") {
					return // the Go runtime starting a thread, as and when it likes
				}
				k := text(sp.Attr("glassbox.kernel.call"))
				s.calls[k] = append(s.calls[k], sp)
				s.shown[k] = text(sp.Label())
			} else {
				k := st.Name + "\x00" + text(sp.Label())
				s.steps[k] = append(s.steps[k], sp)
				s.shown[k] = text(sp.Label())
			}
		})
	}
	return s, true
}

// tally is how only compares a key's spans on the two sides.
type tally int

const (
	byPresence tally = iota // whether there are any: kernel calls, whose counts vary between runs
	byCount                 // how many: steps
)

// only lists what one side has more of than the other, in the stages both
// ran (a stage only one reached is said once, whole): its text as a viewer
// prints it, with the stage in front, and how many more.
func only(mine, theirs *side, pick func(*side) map[string][]Span, keep func(Span) bool, by tally) []string {
	// ran counts a key's spans in the stages the other side ran too.
	ran := func(s, other *side, spans []Span) (n int, first Span) {
		for _, sp := range spans {
			if _, ok := other.stages[s.stageOf[sp.SpanID]]; ok {
				if n == 0 {
					first = sp
				}
				n++
			}
		}
		return n, first
	}
	var out []string
	for k, spans := range pick(mine) {
		n, first := ran(mine, theirs, spans)
		m, _ := ran(theirs, mine, pick(theirs)[k])
		if by == byPresence && n > 0 {
			n, m = 1, min(m, 1)
		}
		if extra := n - m; extra > 0 && (keep == nil || keep(first)) {
			line := mine.stageOf[first.SpanID] + ": " + mine.shown[k]
			if extra > 1 {
				line += fmt.Sprintf(" (×%d)", extra)
			}
			out = append(out, line)
		}
	}
	sort.Strings(out)
	return out
}

// Diff writes what differs between run a and run b.
func Diff(w io.Writer, a, b *File, v View) error {
	sa, okA := newSide(a, v)
	sb, okB := newSide(b, v)
	if !okA || !okB {
		return fmt.Errorf("an empty trace has nothing to compare")
	}
	t := sa.t // for its view
	name := func(s *side) string {
		r := s.t.root
		out := r.TraceID[:min(12, len(r.TraceID))] + " " + r.Name
		if code := r.Attr("process.exit.code"); code != "" {
			out += ", exit " + code
		}
		for _, st := range s.t.stages() {
			if failed(st) {
				out += ", failed at " + st.Name
			}
		}
		return out
	}
	t.line(w, bold, "A "+name(sa))
	t.line(w, bold, "B "+name(sb))

	// Stages: A's order, then any only B has.
	order := append([]string{}, sa.order...)
	for _, st := range sb.order {
		if _, ok := sa.stages[st]; !ok {
			order = append(order, st)
		}
	}
	const nameW, colW = 10, 9
	t.line(w, dim, "  "+pad("stage", nameW)+fmt.Sprintf("%*s%*s%*s", colW, "A ms", colW, "B ms", colW, "B−A"))
	msOf := func(s *side, st string) (string, time.Duration, bool) {
		sp, ok := s.stages[st]
		if !ok {
			return "-", 0, false
		}
		return fmt.Sprintf("%.2f", float64(sp.Duration())/float64(time.Millisecond)), sp.Duration(), true
	}
	for _, st := range order {
		aText, aDur, inA := msOf(sa, st)
		bText, bDur, inB := msOf(sb, st)
		delta, note, code := "", "", cyan
		if inA && inB {
			d := bDur - aDur
			delta = fmt.Sprintf("%+.2f", float64(d)/float64(time.Millisecond))
			// Worth a word: half a millisecond and a quarter of the time.
			if d.Abs() >= 500*time.Microsecond && d.Abs()*4 >= min(aDur, bDur) {
				note = map[bool]string{true: "slower in B", false: "faster in B"}[d > 0]
			}
		}
		for _, s := range []struct {
			side   *side
			letter string
		}{{sa, "A"}, {sb, "B"}} {
			if sp, ok := s.side.stages[st]; ok && failed(sp) {
				note, code = "✗ failed in "+s.letter, red
			}
		}
		t.line(w, code, "  "+pad(st, nameW)+fmt.Sprintf("%*s%*s%*s", colW, aText, colW, bText, colW, delta)+"  "+note)
	}
	for _, s := range []struct {
		side   *side
		letter string
	}{{sa, "A"}, {sb, "B"}} {
		for _, st := range s.side.t.stages() {
			if failed(st) {
				for _, l := range wrap(s.letter+": "+st.Status.Message, t.v.Width-1-2) {
					t.line(w, red, "  "+l)
				}
			}
		}
	}

	section := func(title string, lines []string, code string) {
		if len(lines) == 0 {
			return
		}
		t.line(w, dim, fmt.Sprintf("  %s: %d", title, len(lines)))
		for i, l := range lines {
			if i == 8 {
				t.line(w, dim, fmt.Sprintf("    … %d more", len(lines)-i))
				break
			}
			t.line(w, code, "    "+l)
		}
	}
	// A stage one run never reached: once, with what it held.
	for _, s := range []struct {
		side, other *side
		letter      string
	}{{sa, sb, "B"}, {sb, sa, "A"}} {
		var missing []string
		calls, steps := 0, 0
		for _, st := range s.side.order {
			if _, ran := s.other.stages[st]; !ran {
				missing = append(missing, st)
				s.side.t.walk(s.side.stages[st], func(sp Span) {
					if spanKind(sp, s.side.t.root) == "kernel" {
						calls++
					} else {
						steps++
					}
				})
			}
		}
		if len(missing) > 0 {
			t.line(w, dim, fmt.Sprintf("  not run in %s: %s (%d steps, %d kernel calls)", s.letter, strings.Join(missing, ", "), steps, calls))
		}
	}
	callsOf := func(s *side) map[string][]Span { return s.calls }
	stepsOf := func(s *side) map[string][]Span { return s.steps }
	isFailed := func(s Span) bool { return failed(s) }
	section("kernel calls that failed in B only", only(sb, sa, callsOf, isFailed, byPresence), red)
	section("kernel calls that failed in A only", only(sa, sb, callsOf, isFailed, byPresence), red)
	notFailed := func(s Span) bool { return !failed(s) }
	section("kernel calls in B only", only(sb, sa, callsOf, notFailed, byPresence), yellow)
	section("kernel calls in A only", only(sa, sb, callsOf, notFailed, byPresence), yellow)
	section("steps in B only", only(sb, sa, stepsOf, nil, byCount), "")
	section("steps in A only", only(sa, sb, stepsOf, nil, byCount), "")
	return nil
}
