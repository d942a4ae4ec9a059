// SPDX-License-Identifier: GPL-2.0
/* observer.bpf.c — what the kernel does for a glassbox run, seen from inside it.
 *
 * Programs on tracepoints (stable kernel events, present where kprobes are not):
 *   raw_syscalls/sys_enter, sys_exit  the system calls that build a container
 *   cgroup/cgroup_mkdir, cgroup_rmdir, cgroup_attach_task
 *   sched/sched_process_exec, sched_process_exit
 *   oom/mark_victim                   the OOM killer chose a process
 * and, inside kernel functions no tracepoint shows, each as a kprobe where the
 * kernel has kprobes, else as fentry (BPF trampoline, needs BTF and a kernel
 * that allows it):
 *   register_netdevice                a network device is created (lo of a new
 *                                     netns, a veth, a bridge)
 *   __dev_change_net_namespace        a device moves into another netns
 *   cgroup_file_write                 a cgroup control file is written (a limit,
 *                                     cgroup.procs, cpuset.cpus …)
 * A kernel without either (this project's CI host) still gets the tracepoints.
 *
 * The programs stay attached between runs (pinned in bpffs: detaching costs
 * the kernel an RCU grace period per tracepoint), and each run subscribes:
 *
 * Filter, in the kernel: the event's process is a glassbox process (its tgid
 * is in `tgids`) or runs in a container's cgroup (its cgroup2 id is in
 * `cgroups`; children inherit their cgroup, so everything a container forks is
 * followed). Both maps give the run the event belongs to; events of processes
 * no run watches cost two map lookups and go nowhere. Only the syscalls
 * glassbox asks for (`syscalls`) are reported.
 *
 * Tracepoint records are read at offsets glassbox takes from each tracepoint's
 * tracefs format file (`layouts`), so the tracepoint programs need no kernel
 * BTF; the cgroup-file programs read kernfs structures with CO-RE.
 * Each run has a ring buffer of its own while it runs: it claims one of the
 * SLOTS slots (a lock on a directory beside the pins, so a killed run frees
 * its slot), each with a ring buffer (`runs`, a map of maps) that stays for
 * the next run. A run's id carries its slot in its low bits; `slots` says
 * which run owns each slot now, and counts the events that did not fit.
 * Putting a map into a map of maps, or taking it out, waits for an RCU grace
 * period (maybe_wait_bpf_programs in kernel/bpf/syscall.c, ~10 ms here), so
 * a ring per run cost every traced run two of them; a slot costs its first
 * run one.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define STR_LEN 120
#define NSTR 3

enum tracepoint {
	TP_SYS_ENTER, TP_SYS_EXIT, TP_CGROUP_MKDIR, TP_CGROUP_RMDIR, TP_CGROUP_ATTACH,
	TP_EXEC, TP_EXIT, TP_OOM, KP_NETDEV_REGISTER, KP_NETDEV_MOVE, KP_CGROUP_WRITE,
	TP_COUNT,
};

/* Where the fields of one tracepoint's record are (0 size: absent). */
struct layout {
	__u16 num_off, num_size; /* syscall nr (raw_syscalls), cgroup id (cgroup_*) */
	__u16 val_off, val_size; /* args[6] (sys_enter), ret (sys_exit), pid (others) */
	__u16 str_off;           /* a __data_loc string: cgroup path, exec filename */
	__u16 pad;
};

/* Every record starts with this; one with strings (a path, a filename) has
 * them after it. Most records (every sys_exit) have none and stay small, so
 * the ring buffer holds more of them: user space tells them apart by size. */
struct event {
	__u64 ts;      /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 tgid, tid;
	__u32 tp;      /* enum tracepoint */
	__u32 nstr;
	__s64 num;     /* syscall nr, cgroup id */
	__s64 val;     /* return value, pid */
	__u64 args[6];
	__u64 cgroup;  /* the task's cgroup2 id */
	__u32 run;     /* the run it was routed to: a slot's next run skips the
	                * events a killed or finished run left behind */
	__u32 _pad;
};

struct event_str {
	struct event h;
	char str[NSTR][STR_LEN];
};

#define RING_SIZE (1 << 20)
#define SLOTS 128 /* runs traced at once; a power of two: a run id's low bits */

struct ringbuf {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RING_SIZE);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SLOTS);
	__type(key, __u32); /* slot */
	__array(values, struct ringbuf);
} runs SEC(".maps");

/* Who owns a slot's ring buffer now (0: nobody), and how many of its events
 * did not fit. */
struct slot {
	__u32 run;
	__u32 _pad;
	__u64 lost;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, struct slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TP_COUNT);
	__type(key, __u32);
	__type(value, struct layout);
} layouts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* tgid of a watched glassbox process */
	__type(value, __u32); /* run id */
} tgids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);   /* cgroup2 id */
	__type(value, __u32); /* run id */
} cgroups SEC(".maps");

/* syscalls[nr]: 0 not reported; otherwise 1 + a bitmask (<< 1) of the
 * arguments that are user-space strings to copy, + CLONE_ARGS when argument 0
 * points to a struct clone_args (clone3), whose flags and cgroup fd are copied
 * into args[2] and args[3] (clone3 has two arguments). */
#define CLONE_ARGS 0x80
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, __u8);
} syscalls SEC(".maps");

/* run returns the id of the run watching the current task, 0 for none. */
static __always_inline __u32 run(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 *w = bpf_map_lookup_elem(&tgids, &tgid);
	if (w)
		return *w;
	__u64 cg = bpf_get_current_cgroup_id();
	__u32 *r = bpf_map_lookup_elem(&cgroups, &cg);
	return r ? *r : 0;
}

static __always_inline __s64 read_int(void *ctx, __u16 off, __u16 size)
{
	__s64 v = 0;
	if (size == 8)
		bpf_probe_read_kernel(&v, 8, ctx + off);
	else if (size == 4) {
		__s32 v32 = 0;
		bpf_probe_read_kernel(&v32, 4, ctx + off);
		v = v32;
	}
	return v;
}

/* submit hands an event over without waking the reader, unless a quarter of
 * the ring is waiting: a run's few hundred events are read when it ends, and
 * only a storm wakes the reader early. (A wake-up per event would make the
 * reader compete with the container for the CPU during every run.) */
/* submit hands an event over without waking the reader, unless a quarter of
 * the ring is waiting: a run's few hundred events are read when it ends, and
 * only a storm wakes the reader early. (A wake-up per event would make the
 * reader compete with the container for the CPU during every run.) */
static __always_inline void submit(void *rb, void *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) > RING_SIZE / 4)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

/* reserve makes room for an event of run r in its slot's ring buffer, and
 * returns the event and the ring (in *rb). An entry a killed run left in
 * tgids or cgroups names a run that no longer owns its slot: dropped. */
static __always_inline void *reserve(__u32 r, enum tracepoint tp, __u64 size, void **rb)
{
	__u32 slot = r & (SLOTS - 1);
	struct slot *s = bpf_map_lookup_elem(&slots, &slot);
	if (!s || s->run != r)
		return 0;
	*rb = bpf_map_lookup_elem(&runs, &slot);
	if (!*rb)
		return 0;
	struct event *e = bpf_ringbuf_reserve(*rb, size, 0);
	if (!e) {
		__sync_fetch_and_add(&s->lost, 1);
		return 0;
	}
	__u64 id = bpf_get_current_pid_tgid();
	e->ts = bpf_ktime_get_ns();
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->tp = tp;
	e->nstr = 0;
	e->cgroup = bpf_get_current_cgroup_id();
	e->run = r;
	return e;
}

#define new_event(r, tp, rb) ((struct event *)reserve(r, tp, sizeof(struct event), rb))
#define new_event_str(r, tp, rb) ((struct event_str *)reserve(r, tp, sizeof(struct event_str), rb))

static __always_inline int on_syscall(void *ctx, enum tracepoint tp)
{
	__u32 key = tp;
	struct layout *l = bpf_map_lookup_elem(&layouts, &key);
	if (!l)
		return 0;
	__u32 nr = read_int(ctx, l->num_off, l->num_size);
	__u8 *want = bpf_map_lookup_elem(&syscalls, &nr);
	if (!want || !*want)
		return 0;
	__u32 r = run();
	if (!r)
		return 0;
	__u8 strings = (*want >> 1) & 0x3f;
	if (tp == TP_SYS_EXIT || !strings) {
		void *rb;
		struct event *e = new_event(r, tp, &rb);
		if (!e)
			return 0;
		e->num = nr;
		if (tp == TP_SYS_EXIT) {
			e->val = read_int(ctx, l->val_off, l->val_size);
		} else {
			bpf_probe_read_kernel(e->args, sizeof(e->args), ctx + l->val_off);
			if (*want & CLONE_ARGS) {
				/* struct clone_args: flags at 0, cgroup at 80 */
				bpf_probe_read_user(&e->args[2], 8, (void *)e->args[0]);
				bpf_probe_read_user(&e->args[3], 8, (void *)(e->args[0] + 80));
			}
		}
		submit(rb, e);
		return 0;
	}
	void *rb;
	struct event_str *es = new_event_str(r, tp, &rb);
	if (!es)
		return 0;
	es->h.num = nr;
	bpf_probe_read_kernel(es->h.args, sizeof(es->h.args), ctx + l->val_off);
	for (int i = 0; i < 6; i++) {
		if (!(strings & (1 << i)) || es->h.nstr >= NSTR)
			continue;
		__u32 s = es->h.nstr;
		if (s < NSTR)
			bpf_probe_read_user_str(es->str[s], STR_LEN, (void *)es->h.args[i]);
		es->h.nstr++;
	}
	submit(rb, es);
	return 0;
}

/* on_record reports a non-syscall tracepoint: its number, value and string. */
static __always_inline int on_record(void *ctx, enum tracepoint tp)
{
	__u32 key = tp;
	struct layout *l = bpf_map_lookup_elem(&layouts, &key);
	if (!l)
		return 0;
	__u32 r = run();
	if (!r)
		return 0;
	void *rb;
	struct event_str *es = new_event_str(r, tp, &rb);
	if (!es)
		return 0;
	es->h.num = read_int(ctx, l->num_off, l->num_size);
	es->h.val = read_int(ctx, l->val_off, l->val_size);
	if (l->str_off) {
		__u32 loc = 0; /* __data_loc: offset in the low 16 bits, length above */
		bpf_probe_read_kernel(&loc, 4, ctx + l->str_off);
		bpf_probe_read_kernel_str(es->str[0], STR_LEN, ctx + (loc & 0xffff));
		es->h.nstr = 1;
	}
	submit(rb, es);
	return 0;
}

/* on_netdev reports a network device by name: the first field of struct
 * net_device on every kernel, so no kernel BTF is needed to find it. */
static __always_inline int on_netdev(void *dev, enum tracepoint tp)
{
	__u32 r = run();
	if (!r)
		return 0;
	void *rb;
	struct event_str *es = new_event_str(r, tp, &rb);
	if (!es)
		return 0;
	es->h.num = 0;
	es->h.val = 0;
	bpf_probe_read_kernel_str(es->str[0], 16, dev);
	es->h.nstr = 1;
	submit(rb, es);
	return 0;
}

/* on_cgroup_write reports a write to a cgroup control file: the cgroup's
 * directory, the file and the value (kernfs hands cgroup_file_write a
 * NUL-terminated kernel copy of what was written). */
static __always_inline int on_cgroup_write(struct kernfs_open_file *of, const char *buf)
{
	__u32 r = run();
	if (!r)
		return 0;
	void *rb;
	struct event_str *es = new_event_str(r, KP_CGROUP_WRITE, &rb);
	if (!es)
		return 0;
	es->h.num = 0;
	es->h.val = 0;
	struct kernfs_node *kn = BPF_CORE_READ(of, kn);
	struct kernfs_node *dir;
	/* Linux 6.15 renamed kernfs_node.parent to __parent (now RCU-protected):
	 * CO-RE resolves which one this kernel has when the program loads. */
	struct kernfs_node___v615 *kn615 = (void *)kn;
	if (bpf_core_field_exists(kn615->__parent))
		dir = BPF_CORE_READ(kn615, __parent);
	else
		dir = BPF_CORE_READ(kn, parent);
	bpf_probe_read_kernel_str(es->str[0], STR_LEN, BPF_CORE_READ(dir, name));
	bpf_probe_read_kernel_str(es->str[1], STR_LEN, BPF_CORE_READ(kn, name));
	bpf_probe_read_kernel_str(es->str[2], STR_LEN, buf);
	es->h.nstr = 3;
	submit(rb, es);
	return 0;
}

/* Each kernel function has two programs: glassbox attaches the first one the
 * kernel accepts. A kprobe reads the arguments from the registers; an fentry
 * program gets them as an array of u64. */
SEC("kprobe/register_netdevice")
int kprobe_register_netdevice(struct pt_regs *ctx)
{
	return on_netdev((void *)PT_REGS_PARM1(ctx), KP_NETDEV_REGISTER);
}

SEC("fentry/register_netdevice")
int fentry_register_netdevice(__u64 *ctx)
{
	return on_netdev((void *)ctx[0], KP_NETDEV_REGISTER);
}

SEC("kprobe/__dev_change_net_namespace")
int kprobe_dev_change_net_namespace(struct pt_regs *ctx)
{
	return on_netdev((void *)PT_REGS_PARM1(ctx), KP_NETDEV_MOVE);
}

SEC("fentry/__dev_change_net_namespace")
int fentry_dev_change_net_namespace(__u64 *ctx)
{
	return on_netdev((void *)ctx[0], KP_NETDEV_MOVE);
}

SEC("kprobe/cgroup_file_write")
int kprobe_cgroup_file_write(struct pt_regs *ctx)
{
	return on_cgroup_write((void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx));
}

SEC("fentry/cgroup_file_write")
int fentry_cgroup_file_write(__u64 *ctx)
{
	return on_cgroup_write((void *)ctx[0], (void *)ctx[1]);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(void *ctx) { return on_syscall(ctx, TP_SYS_ENTER); }

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit(void *ctx) { return on_syscall(ctx, TP_SYS_EXIT); }

SEC("tracepoint/cgroup/cgroup_mkdir")
int cgroup_mkdir(void *ctx) { return on_record(ctx, TP_CGROUP_MKDIR); }

SEC("tracepoint/cgroup/cgroup_rmdir")
int cgroup_rmdir(void *ctx) { return on_record(ctx, TP_CGROUP_RMDIR); }

SEC("tracepoint/cgroup/cgroup_attach_task")
int cgroup_attach_task(void *ctx) { return on_record(ctx, TP_CGROUP_ATTACH); }

SEC("tracepoint/sched/sched_process_exec")
int sched_process_exec(void *ctx) { return on_record(ctx, TP_EXEC); }

SEC("tracepoint/sched/sched_process_exit")
int sched_process_exit(void *ctx) { return on_record(ctx, TP_EXIT); }

SEC("tracepoint/oom/mark_victim")
int mark_victim(void *ctx) { return on_record(ctx, TP_OOM); }
