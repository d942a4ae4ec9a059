/* The few kernel types and constants observer.bpf.c needs, instead of a
 * multi-megabyte dump of the running kernel's BTF: the tracepoint programs read
 * records at offsets that glassbox takes from tracefs, so they need no kernel
 * structure layouts. The kernfs structures below are the exception: only the
 * fields the cgroup-file programs read, marked preserve_access_index so that
 * their offsets are CO-RE relocations, resolved against the running kernel's
 * BTF when the programs load (once: the probes stay attached). */
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_ARRAY_OF_MAPS = 12,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum { BPF_ANY = 0 };

/* bpf_ringbuf_submit flags and bpf_ringbuf_query fields */
enum { BPF_RB_NO_WAKEUP = 1, BPF_RB_FORCE_WAKEUP = 2 };
enum { BPF_RB_AVAIL_DATA = 0 };

/* x86-64 registers at a kprobe (the kernel's ABI, stable): argument 1 is di. */
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
struct kernfs_node {
	struct kernfs_node *parent; /* before Linux 6.15 */
	const char *name;
};
struct kernfs_node___v615 {
	struct kernfs_node *__parent; /* Linux 6.15 and later */
};
struct kernfs_open_file {
	struct kernfs_node *kn;
};
#pragma clang attribute pop

#endif
