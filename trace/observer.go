package trace

//go:generate go tool bpf2go -go-package trace -target bpfel -cc clang observer bpf/observer.bpf.c -- -I/usr/include -Ibpf -D__TARGET_ARCH_x86 -O2 -g -Wall

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// The observer is glassbox's view of the kernel during a run: BPF programs on
// tracepoints report the system calls and kernel events of glassbox and of
// everything in the container's cgroup (see bpf/observer.bpf.c). Each event
// lands in the trace under the step or stage that was running at that moment.

// TracingDir is where tracefs is mounted on current kernels.
const TracingDir = "/sys/kernel/tracing"

// KernelEvent is one observation: a system call (with its duration, from entry
// to exit) or a kernel event such as a cgroup being created.
type KernelEvent struct {
	Start, End time.Time
	Pid, Tid   int    // host ids
	Name       string // "mount", "cgroup_mkdir", "sched_process_exec", …
	Call       string // decoded: mount("proc", "/…/rootfs/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, "") = 0
	Err        string // errno name when a system call failed
	Source     string // the probe that saw it: "tracepoint raw_syscalls", "kprobe register_netdevice", …
}

// tracepoint mirrors enum tracepoint in observer.bpf.c: the kind of an event,
// and the index of a tracepoint program's entry in the layouts map.
type tracepoint uint32

const (
	tpSysEnter tracepoint = iota
	tpSysExit
	tpCgroupMkdir
	tpCgroupRmdir
	tpCgroupAttach
	tpExec
	tpExit
	tpOOM
	kpNetdevRegister
	kpNetdevMove
	kpCgroupWrite
)

// probe is one place the observer watches: a tracepoint (group/name), whose
// record fields (by name, as tracefs lists them) fill the event's num, val
// and str; or a kernel function (fn), attached as a kprobe where the kernel
// has kprobes, else with fentry. prog names the program in observer.bpf.c
// (for a kernel function: after its "kprobe_" or "fentry_" prefix).
type probe struct {
	tp            tracepoint
	group, name   string
	num, val, str string
	fn            string
	prog          string
}

// Target is what the probe is attached to: "raw_syscalls/sys_enter", "register_netdevice".
func (p probe) Target() string {
	if p.fn != "" {
		return p.fn
	}
	return p.group + "/" + p.name
}

var probes = []probe{
	{tp: tpSysEnter, group: "raw_syscalls", name: "sys_enter", num: "id", val: "args", prog: "sys_enter"},
	{tp: tpSysExit, group: "raw_syscalls", name: "sys_exit", num: "id", val: "ret", prog: "sys_exit"},
	{tp: tpCgroupMkdir, group: "cgroup", name: "cgroup_mkdir", num: "id", val: "level", str: "path", prog: "cgroup_mkdir"},
	{tp: tpCgroupRmdir, group: "cgroup", name: "cgroup_rmdir", num: "id", val: "level", str: "path", prog: "cgroup_rmdir"},
	{tp: tpCgroupAttach, group: "cgroup", name: "cgroup_attach_task", num: "dst_id", val: "pid", str: "dst_path", prog: "cgroup_attach_task"},
	{tp: tpExec, group: "sched", name: "sched_process_exec", val: "pid", str: "filename", prog: "sched_process_exec"},
	{tp: tpExit, group: "sched", name: "sched_process_exit", val: "pid", prog: "sched_process_exit"},
	{tp: tpOOM, group: "oom", name: "mark_victim", val: "pid", str: "comm", prog: "mark_victim"},
	{tp: kpNetdevRegister, fn: "register_netdevice", prog: "register_netdevice"},
	{tp: kpNetdevMove, fn: "__dev_change_net_namespace", prog: "dev_change_net_namespace"},
	{tp: kpCgroupWrite, fn: "cgroup_file_write", prog: "cgroup_file_write"},
}

// Observer is one run's subscription to the kernel probes. Its reader
// goroutine owns calls, records and pending until Stop has waited for it.
type Observer struct {
	runs, tgids, cgroups, slots *ebpf.Map // the shared, pinned maps
	ring                        *ebpf.Map // the ring buffer of this run's slot
	rd                          *ringbuf.Reader
	slot                        uint32   // the slot this run holds
	lock                        *os.File // the slot's lock, held until Stop
	id                          uint32   // this run's id in the maps; its low bits are the slot
	pid                         uint32
	cgroup                      uint64        // the watched container cgroup, once known
	offset                      time.Duration // wall clock minus CLOCK_MONOTONIC
	done                        chan struct{}
	calls                       []rawCall          // completed system calls, decoded only in Stop
	records                     []KernelEvent      // other kernel events (rare), decoded as they come
	pending                     map[uint32]rawCall // system calls entered and not yet exited, by thread
	Probes                      []ProbeMode        // how each probe is attached, or why it is not
}

// rawCall is a system call as the ring buffer gave it: cheap to keep, so the
// reader keeps up with a storm; formatting waits until the run is over.
type rawCall struct {
	start, end uint64 // CLOCK_MONOTONIC ns
	tgid, tid  uint32
	nr         int
	ret        int64
	args       [6]uint64
	strs       []string
	exitOnly   bool // seen only as it returned: its arguments are unknown
}

// ringSize is each slot's ring buffer; it must match the `runs` map's
// template. slotCount is how many runs can be traced at once (SLOTS).
const (
	ringSize  = 1 << 20
	slotCount = 128
)

// StartObserver subscribes a run, watching pid (glassbox), attaching the
// probes first if no earlier run did.
func StartObserver(pid int) (*Observer, error) {
	if _, err := EnsureTracefs(); err != nil {
		return nil, err
	}
	dir := PinDir()
	modes, err := attachOnce(dir)
	if err != nil {
		return nil, err
	}
	o := &Observer{done: make(chan struct{}), pending: map[uint32]rawCall{}, Probes: modes, pid: uint32(pid)}
	ok := false
	defer func() {
		if !ok {
			o.release()
		}
	}()
	if err := o.openPinned(dir); err != nil {
		return nil, err
	}
	if o.slot, o.lock, err = claimSlot(dir); err != nil {
		return nil, err
	}
	// A run killed in this slot left its id as the owner, and maybe entries
	// routing to it: disown it, then clear them.
	var prev observerSlot
	if o.slots.Lookup(o.slot, &prev) == nil && prev.Run != 0 {
		o.slots.Put(o.slot, observerSlot{})
		o.purge()
	}
	if err := o.openRing(); err != nil {
		return nil, err
	}
	if o.rd, err = ringbuf.NewReader(o.ring); err != nil {
		return nil, fmt.Errorf("BPF ring buffer: %w", err)
	}
	// A random id (runs come and go concurrently, and nothing ties ids to
	// pids), ending in the slot's number.
	for o.id == 0 {
		var b [4]byte
		rand.Read(b[:])
		o.id = binary.LittleEndian.Uint32(b[:])&^(slotCount-1) | o.slot
	}
	// Owner first, so that the kernel takes the events the routes send.
	if err := o.slots.Put(o.slot, observerSlot{Run: o.id}); err != nil {
		return nil, fmt.Errorf("BPF map slots: %w", err)
	}
	if err := o.tgids.Put(o.pid, o.id); err != nil {
		return nil, fmt.Errorf("BPF map tgids: %w", err)
	}
	o.offset = wallMinusMonotonic()
	go o.read()
	ok = true
	return o, nil
}

// claimSlot locks the first free slot: a directory beside the pins, locked
// with flock(2), which the kernel releases when its holder ends however it
// ends, so a killed run never keeps a slot.
func claimSlot(dir string) (uint32, *os.File, error) {
	for slot := range uint32(slotCount) {
		f, err := openSlotLock(dir, slot)
		if err != nil {
			return 0, nil, err
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			return slot, f, nil
		}
		f.Close()
	}
	return 0, nil, fmt.Errorf("all %d observer slots are in use by traced runs (run more with --trace=false)", slotCount)
}

func openSlotLock(dir string, slot uint32) (*os.File, error) {
	path := filepath.Join(dir, "slot-"+strconv.Itoa(int(slot)))
	if err := os.Mkdir(path, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("observer slot: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("observer slot: %w", err)
	}
	return f, nil
}

// openRing opens the slot's ring buffer, making it if this is the slot's
// first run: the one time a run puts a map into the map of maps and waits
// for the grace period that costs.
func (o *Observer) openRing() error {
	var id ebpf.MapID
	if o.runs.Lookup(o.slot, &id) == nil {
		if ring, err := ebpf.NewMapFromID(id); err == nil {
			o.ring = ring
			return nil
		}
	}
	ring, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: ringSize})
	if err != nil {
		return fmt.Errorf("BPF ring buffer: %w", err)
	}
	o.ring = ring
	if err := o.runs.Put(o.slot, ring); err != nil {
		return fmt.Errorf("BPF map runs: %w", err)
	}
	return nil
}

// WatchCgroup adds the container's cgroup (its cgroup2 id) to the filter.
func (o *Observer) WatchCgroup(id uint64) error {
	o.cgroup = id
	return o.cgroups.Put(id, o.id)
}

// Stop unsubscribes the run, drains its ring buffer and returns the events in
// time order, and how many did not fit in the ring buffer. The probes stay.
func (o *Observer) Stop() ([]KernelEvent, uint64) {
	// Routes out first, so nothing new is sent; Flush then makes Read return
	// what is left in the ring buffer, followed by ErrFlushed. An event a
	// program was writing meanwhile on another CPU stays in the ring, and the
	// slot's next run skips it (it carries this run's id).
	o.unroute()
	o.rd.Flush()
	<-o.done
	var slot observerSlot
	o.slots.Lookup(o.slot, &slot)
	o.slots.Put(o.slot, observerSlot{})
	o.release()
	events := o.records
	for _, c := range o.calls {
		sc := syscallTable[c.nr]
		ev := KernelEvent{Start: o.wall(c.start), End: o.wall(c.end), Pid: int(c.tgid), Tid: int(c.tid), Name: sc.name, Source: "tracepoint raw_syscalls"}
		call := sc.decode(c.args, c.strs)
		if c.exitOnly {
			call = sc.name + "(…)"
			ev.Source = "tracepoint raw_syscalls, exit only (refused before entry, as seccomp does)"
		}
		ev.Call = call + " = " + strconv.FormatInt(c.ret, 10)
		if c.ret < 0 && c.ret > -4096 {
			errno := unix.Errno(-c.ret)
			ev.Err = unix.ErrnoName(errno) + " (" + errno.Error() + ")"
			ev.Call = call + " = -1 " + unix.ErrnoName(errno)
		}
		events = append(events, ev)
	}
	sort.Slice(events, func(i, j int) bool { return events[i].Start.Before(events[j].Start) })
	return events, slot.Lost
}

// purge removes the routes (watched pids and cgroups) of runs that no
// longer own their slot: what a killed run left. The kernel already ignores
// them; purging keeps the maps from filling up.
func (o *Observer) purge() {
	owner := func(run uint32) bool {
		var s observerSlot
		return o.slots.Lookup(run&(slotCount-1), &s) == nil && s.Run == run
	}
	var pid, run uint32
	var gone []uint32
	for it := o.tgids.Iterate(); it.Next(&pid, &run); {
		if !owner(run) {
			gone = append(gone, pid)
		}
	}
	for _, p := range gone {
		o.tgids.Delete(p)
	}
	var cg uint64
	var stale []uint64
	for it := o.cgroups.Iterate(); it.Next(&cg, &run); {
		if !owner(run) {
			stale = append(stale, cg)
		}
	}
	for _, c := range stale {
		o.cgroups.Delete(c)
	}
}

// sweep disowns the slots whose runs ended without saying so (killed: their
// lock is free, their id still the owner), then purges their routes. Slots
// held by live runs are not touched.
func (o *Observer) sweep(dir string) {
	for slot := range uint32(slotCount) {
		var s observerSlot
		if o.slots.Lookup(slot, &s) != nil || s.Run == 0 {
			continue
		}
		f, err := openSlotLock(dir, slot)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			o.slots.Put(slot, observerSlot{})
		}
		f.Close()
	}
	o.purge()
}

// SweepObserver removes what killed runs left in the pinned maps (glassbox gc).
func SweepObserver() error {
	if _, err := os.Stat(filepath.Join(PinDir(), "runs")); err != nil {
		return nil // not attached: nothing to sweep
	}
	o := &Observer{}
	defer o.release()
	if err := o.openPinned(PinDir()); err != nil {
		return err
	}
	o.sweep(PinDir())
	return nil
}

// WatchingRuns counts the traced runs subscribed to the probes now, from
// every state root and user (killed runs' subscriptions swept first).
func WatchingRuns() (int, error) {
	if _, err := os.Stat(filepath.Join(PinDir(), "runs")); err != nil {
		return 0, nil
	}
	o := &Observer{}
	defer o.release()
	if err := o.openPinned(PinDir()); err != nil {
		return 0, err
	}
	o.sweep(PinDir())
	n := 0
	var slot uint32
	var s observerSlot
	for it := o.slots.Iterate(); it.Next(&slot, &s); {
		if s.Run != 0 {
			n++
		}
	}
	return n, nil
}

// openPinned opens the shared maps a run subscribes through.
func (o *Observer) openPinned(dir string) error {
	for _, m := range []struct {
		name string
		dst  **ebpf.Map
	}{{"runs", &o.runs}, {"tgids", &o.tgids}, {"cgroups", &o.cgroups}, {"slots", &o.slots}} {
		var err error
		if *m.dst, err = ebpf.LoadPinnedMap(filepath.Join(dir, m.name), nil); err != nil {
			return fmt.Errorf("pinned BPF map %s: %w (glassbox trace off resets the kernel probes)", m.name, err)
		}
	}
	return nil
}

// unroute takes the run out of the maps the BPF programs route events by.
func (o *Observer) unroute() {
	if o.cgroup != 0 {
		o.cgroups.Delete(o.cgroup)
	}
	o.tgids.Delete(o.pid)
}

func (o *Observer) release() {
	if o.rd == nil && o.id != 0 {
		o.unroute() // StartObserver failed half-way
		o.slots.Put(o.slot, observerSlot{})
	}
	if o.rd != nil {
		o.rd.Close()
	}
	for _, m := range []*ebpf.Map{o.ring, o.runs, o.tgids, o.cgroups, o.slots} {
		if m != nil {
			m.Close()
		}
	}
	if o.lock != nil {
		o.lock.Close() // the slot is free
	}
}

// wallMinusMonotonic is the wall clock's lead over CLOCK_MONOTONIC, the
// clock the BPF programs stamp events with. The wall clock is read between
// two monotonic readings, and the offset taken from their midpoint, in the
// tightest of a few tries: reading one clock after the other would put every
// kernel event late by the time between the reads (on a loaded VM, enough to
// place an event at a stage's end in the next stage).
func wallMinusMonotonic() time.Duration {
	best, offset := time.Duration(math.MaxInt64), time.Duration(0)
	for range 5 {
		var before, after unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &before)
		wall := time.Now().UnixNano()
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &after)
		if gap := time.Duration(after.Nano() - before.Nano()); gap < best {
			best, offset = gap, time.Duration(wall-(before.Nano()+after.Nano())/2)
		}
	}
	return offset
}

func (o *Observer) wall(mono uint64) time.Time { return time.Unix(0, int64(mono)).Add(o.offset) }

// The records in the ring buffer mirror struct event in observer.bpf.c: a
// 104-byte header, followed, in the larger records, by three 120-byte strings.
const (
	headerSize = 104
	strLen     = 120
)

func (o *Observer) read() {
	defer close(o.done)
	var rec ringbuf.Record // reused: no allocation per record
	for {
		if err := o.rd.ReadInto(&rec); err != nil {
			return // flushed after the last record, or closed
		}
		if len(rec.RawSample) >= headerSize {
			o.handle(rec.RawSample)
		}
	}
}

func (o *Observer) handle(b []byte) {
	le := binary.LittleEndian
	ts, tgid, tid := le.Uint64(b[0:]), le.Uint32(b[8:]), le.Uint32(b[12:])
	tp, nstr := tracepoint(le.Uint32(b[16:])), int(le.Uint32(b[20:]))
	num, val := int64(le.Uint64(b[24:])), int64(le.Uint64(b[32:]))
	if le.Uint32(b[96:]) != o.id {
		return // left in the slot's ring by the run before
	}
	var strs []string
	for i := 0; i < nstr && headerSize+(i+1)*strLen <= len(b); i++ {
		strs = append(strs, cString(b[headerSize+i*strLen:headerSize+(i+1)*strLen]))
	}
	switch tp {
	case tpSysEnter:
		c := rawCall{start: ts, tgid: tgid, tid: tid, nr: int(num), strs: strs}
		for i := range c.args {
			c.args[i] = le.Uint64(b[40+8*i:])
		}
		o.pending[tid] = c
		return
	case tpSysExit:
		c, ok := o.pending[tid]
		if !ok || c.nr != int(num) {
			// No entry: entered before the observer started, or never
			// entered — a call seccomp refuses fails before the sys_enter
			// tracepoint, and only its exit is seen. Failed ones are kept.
			if val < 0 {
				o.calls = append(o.calls, rawCall{start: ts, end: ts, tgid: tgid, tid: tid, nr: int(num), ret: val, exitOnly: true})
			}
			return
		}
		delete(o.pending, tid)
		c.end, c.ret = ts, val
		o.calls = append(o.calls, c)
		return
	}
	at := o.wall(ts)
	ev := KernelEvent{Start: at, End: at, Pid: int(tgid), Tid: int(tid), Source: o.source(tp)}
	switch tp {
	case tpCgroupMkdir, tpCgroupRmdir:
		ev.Name = map[tracepoint]string{tpCgroupMkdir: "cgroup_mkdir", tpCgroupRmdir: "cgroup_rmdir"}[tp]
		ev.Call = fmt.Sprintf("%s %s (id %d, level %d)", ev.Name, first(strs), num, val)
	case tpCgroupAttach:
		ev.Name = "cgroup_attach_task"
		ev.Call = fmt.Sprintf("cgroup_attach_task pid %d → %s (id %d)", val, first(strs), num)
	case tpExec:
		ev.Name = "sched_process_exec"
		ev.Call = fmt.Sprintf("sched_process_exec %s (pid %d)", first(strs), val)
	case tpExit:
		ev.Name = "sched_process_exit"
		ev.Call = fmt.Sprintf("sched_process_exit pid %d", val)
	case tpOOM:
		ev.Name = "oom_kill"
		ev.Call = fmt.Sprintf("OOM killer: mark_victim pid %d (%s)", val, first(strs))
	case kpNetdevRegister:
		ev.Name = "register_netdevice"
		ev.Call = "register_netdevice " + first(strs)
	case kpNetdevMove:
		ev.Name = "dev_change_net_namespace"
		ev.Call = "dev_change_net_namespace " + first(strs)
	case kpCgroupWrite:
		if len(strs) < 3 {
			return
		}
		ev.Name = "cgroup_file_write"
		ev.Call = fmt.Sprintf("cgroup_file_write %s/%s ← %q", strs[0], strs[1], strings.TrimRight(strs[2], "\n"))
	default:
		return
	}
	o.records = append(o.records, ev)
}

// source names the probe behind an event kind, and how it is attached.
func (o *Observer) source(tp tracepoint) string {
	for i, p := range probes {
		if p.tp == tp && i < len(o.Probes) {
			return o.Probes[i].Mode + " " + p.Target()
		}
	}
	return ""
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// layout mirrors struct layout in observer.bpf.c.
type layout struct {
	NumOff, NumSize uint16
	ValOff, ValSize uint16
	StrOff, Pad     uint16
}

// readLayout finds the fields' offsets and sizes in the tracepoint's format
// file, the kernel's own description of the record it writes.
func readLayout(group, name, num, val, str string) (layout, error) {
	f, err := os.Open(filepath.Join(TracingDir, "events", group, name, "format"))
	if err != nil {
		return layout{}, errors.New("no such tracepoint in this kernel")
	}
	defer f.Close()
	fields := map[string][2]uint16{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "field:long id;	offset:8;	size:8;	signed:1;"
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "field:") {
			continue
		}
		parts := strings.Split(line, ";")
		if len(parts) < 3 {
			continue
		}
		decl := strings.Fields(strings.TrimPrefix(parts[0], "field:"))
		fname := decl[len(decl)-1]
		if i := strings.IndexByte(fname, '['); i >= 0 {
			fname = fname[:i]
		}
		off, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(parts[1]), "offset:"))
		size, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(parts[2]), "size:"))
		fields[fname] = [2]uint16{uint16(off), uint16(size)}
	}
	var l layout
	get := func(field string) (uint16, uint16, error) {
		if field == "" {
			return 0, 0, nil
		}
		v, ok := fields[field]
		if !ok {
			return 0, 0, fmt.Errorf("its record has no field %q", field)
		}
		return v[0], v[1], nil
	}
	if l.NumOff, l.NumSize, err = get(num); err != nil {
		return l, err
	}
	if l.ValOff, l.ValSize, err = get(val); err != nil {
		return l, err
	}
	if l.StrOff, _, err = get(str); err != nil {
		return l, err
	}
	return l, sc.Err()
}

// EnsureTracefs mounts tracefs when the system has not; mounted says it did.
func EnsureTracefs() (mounted bool, err error) {
	if _, err := os.Stat(filepath.Join(TracingDir, "events")); err == nil {
		return false, nil
	}
	if err := unix.Mount("tracefs", TracingDir, "tracefs", 0, ""); err != nil {
		return false, fmt.Errorf("mount(tracefs, %s): %w", TracingDir, err)
	}
	return true, nil
}
