#!/usr/bin/env bash
# vmtest.sh — run glassbox's test suites inside a QEMU VM booted from Debian 12's
# stock kernel (6.1: pure cgroup v2 with every controller, kprobes, fentry), the
# kind of kernel most users have and this CI host does not.
#
#   hack/vmtest.sh [go test flags, e.g. -run TestMountTable -v]
#
# What it does:
#   1. installs qemu-system-x86, busybox-static and xz-utils when missing;
#   2. fetches Debian's linux-image package once (apt-get download + dpkg -x; it
#      is never installed into /boot) into $VMTEST_CACHE;
#   3. builds glassbox, the busybox rootfs and one test binary per package;
#   4. builds (once, cached) an initramfs: static busybox, the kernel modules the
#      tests need, and an init that sets the VM up like a distribution would;
#   5. boots it (KVM when /dev/kvm is usable, software emulation otherwise), runs
#      every test binary as root, and exits with their status.
# The guest reads the payload and writes its output through a 9p share; the
# serial console is left to the kernel (under emulation it is slow).
#
# Env: VMTEST_CACHE (default ~/.cache/glassbox-vmtest), VMTEST_TIMEOUT seconds
# (default 900), VMTEST_MEM (default 2G), VMTEST_VERBOSE=1 for the console.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache=${VMTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glassbox-vmtest}
timeout=${VMTEST_TIMEOUT:-900}
export PATH=$PATH:/usr/local/go/bin CGO_ENABLED=0

say() { echo "vmtest: $*" >&2; }
die() { say "$*"; exit 125; }

# ---- 1. tools ------------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v xz >/dev/null || need+=(xz-utils)
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]}"
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
busybox=/bin/busybox

# ---- 2. kernel -----------------------------------------------------------------
mkdir -p "$cache"
kdir=$cache/kernel
if ! ls "$kdir"/boot/vmlinuz-* >/dev/null 2>&1; then
	pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$pkg" ] || { apt-get update -q >/dev/null; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'); }
	[ -n "$pkg" ] || die "no linux-image package for this Debian release (apt-cache depends linux-image-amd64)"
	say "fetching $pkg"
	dl=$(mktemp -d)
	(cd "$dl" && apt-get download "$pkg" 2>/dev/null) || die "apt-get download $pkg failed"
	rm -rf "$kdir.tmp" && mkdir -p "$kdir.tmp" && dpkg -x "$dl"/*.deb "$kdir.tmp"
	rm -rf "$dl" "$kdir" && mv "$kdir.tmp" "$kdir"
fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | sort -V | tail -1)
kver=${vmlinuz##*/vmlinuz-}
moddir=$kdir/lib/modules/$kver
[ -f "$moddir/modules.dep" ] || "$busybox" depmod -b "$kdir" "$kver" # the .deb's postinst would make it

# The uncompressed vmlinux boots through QEMU's PVH entry point, skipping the
# guest's own decompression (seconds under emulation).
vmlinux=$cache/vmlinux-$kver
if [ ! -f "$vmlinux" ] && grep -q '^CONFIG_PVH=y' "$kdir/boot/config-$kver"; then
	off=$(LC_ALL=C grep -abo $'\xfd7zXZ\x00' "$vmlinuz" | head -1 | cut -d: -f1 || true)
	if [ -n "$off" ] && tail -c +$((off + 1)) "$vmlinuz" | xz -dcq > "$vmlinux.tmp" 2>/dev/null; then :; fi
	if [ "$(head -c 4 "$vmlinux.tmp" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; then mv "$vmlinux.tmp" "$vmlinux"; else rm -f "$vmlinux.tmp"; fi
fi
kernel=$vmlinuz
[ -f "$vmlinux" ] && kernel=$vmlinux

# ---- 3. payload: glassbox, rootfs, test binaries ---------------------------------
work=$(mktemp -d /tmp/glassbox-vmtest.XXXXXX)
qpid=
trap '[ -n "$qpid" ] && kill "$qpid" 2>/dev/null; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
t0=$(date +%s)
mkdir -p "$work/tests"
go build -o "$work/glassbox" ./cmd/glassbox
go build -o "$work/glassbox-init" ./cmd/glassbox-init
go build -o "$work/glassbox-shim" ./cmd/glassbox-shim
hack/mkrootfs.sh "$work/rootfs" >/dev/null
: > "$work/packages"
for pkg in $(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...); do
	name=$(echo "${pkg#github.com/glassbox-dev/glassbox/}" | tr / _)
	go test -c -o "$work/tests/$name.test" "$pkg"
	printf '%s %s\n' "$name" "$(go list -f '{{.Dir}}' "$pkg")" >> "$work/packages"
done
{
	printf 'repo=%q\n' "$repo"
	printf 'set --'; for a in "$@"; do
		case $a in -test.*) ;; -*) a=-test.${a#-} ;; esac
		printf ' %q' "$a"
	done; echo
} > "$work/run.conf"

# ---- 4. initramfs (cached on kernel, modules, busybox and this script) ------------
modules="virtio_pci virtio_rng 9pnet_virtio 9p crc32c_generic overlay veth bridge br_netfilter
	nf_conntrack nf_nat nf_tables nft_chain_nat nft_masq nft_nat nft_ct nft_fib nft_fib_ipv4 nf_conntrack_netlink
	tun dummy loop"
# Host programs some tests need that busybox lacks (or has a smaller ip of),
# copied in with their libraries; bash runs the docs' examples as readers would.
tools="script ip nsenter bash"
key=$( { echo "$kver $modules $tools"; sha1sum "$busybox" "$0" | cut -c1-40; for t in $tools; do sha1sum "$(command -v "$t")"; done; } | sha1sum | cut -c1-12)
initrd=$cache/initrd-$kver-$key.cpio
if [ ! -f "$initrd" ]; then
	say "building the initramfs for $kver"
	st=$work/initrd
	mkdir -p "$st"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,newroot,vmtest,"lib/modules/$kver"}
	cp "$busybox" "$st/bin/busybox"
	# Each module with everything modules.dep says it needs. (busybox modprobe
	# ignores softdeps: crc32c_generic is listed for libcrc32c, which nf_tables needs.)
	for m in $modules; do
		line=$(awk -v m="$m" '{n=$1; sub(/:$/,"",n); sub(/.*\//,"",n); sub(/\.ko(\.[a-z]+)?$/,"",n); gsub(/-/,"_",n); if (n==m) {print; exit}}' "$moddir/modules.dep")
		[ -n "$line" ] || continue # built into this kernel
		for f in ${line%%:*} ${line#*:}; do
			mkdir -p "$st/lib/modules/$kver/$(dirname "$f")"
			cp -n "$moddir/$f" "$st/lib/modules/$kver/$f"
		done
	done
	cp "$moddir"/modules.builtin* "$moddir"/modules.order "$st/lib/modules/$kver/" 2>/dev/null || true
	"$busybox" depmod -b "$st" "$kver"
	for t in $tools; do
		p=$(command -v "$t") || die "$t is needed inside the VM and missing here"
		mkdir -p "$st/usr/bin" && cp -L "$p" "$st/usr/bin/$t"
		for lib in $(ldd "$p" | grep -o '/[^ ]*'); do
			mkdir -p "$st$(dirname "$lib")" && cp -Ln "$lib" "$st$lib"
		done
	done
	echo "modules=\"$modules\"" > "$st/etc/vmtest.conf"
	printf 'root:x:0:0:root:/root:/bin/sh\n' > "$st/etc/passwd"
	printf 'root:x:0:\n' > "$st/etc/group"
	# Stage 1: the initramfs root cannot be pivot_root(2)ed away from, and
	# containers need that, so copy everything into a tmpfs and switch_root.
	cat > "$st/init" <<-'EOF'
	#!/bin/busybox sh
	/bin/busybox mount -t tmpfs -o mode=0755 tmpfs /newroot
	for d in /*; do case $d in /newroot|/proc|/sys|/dev) ;; *) /bin/busybox cp -a "$d" /newroot/ ;; esac; done
	/bin/busybox mkdir -p /newroot/proc /newroot/sys /newroot/dev
	exec /bin/busybox switch_root /newroot /init2
	EOF
	# Stage 2: a system laid out like a distribution's: cgroup2 alone at
	# /sys/fs/cgroup, tracefs, bpffs, a shared root mount.
	cat > "$st/init2" <<-'EOF'
	#!/bin/busybox sh
	/bin/busybox --install -s /bin
	# /bin/sh as on a distribution: busybox's sh runs its own applets (its
	# small ip) before the programs on PATH.
	ln -sf /usr/bin/bash /bin/sh
	export PATH=/usr/bin:/bin:/sbin HOME=/root TMPDIR=/tmp
	mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
	mkdir -p /dev/pts /dev/shm; mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
	mount -t tmpfs tmpfs /tmp; mount -t tmpfs tmpfs /run
	mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
	mount -t tracefs tracefs /sys/kernel/tracing; mount -t bpf bpf /sys/fs/bpf
	mount --make-rshared /
	hostname vmtest; ip link set lo up
	. /etc/vmtest.conf
	for m in $modules; do modprobe "$m" 2>/dev/null; done
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none vmtest /vmtest
	. /vmtest/run.conf
	mkdir -p "$repo" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro repo "$repo"
	exec >>/vmtest/out 2>&1
	echo "vm: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
	# The payload is copied off 9p: overlayfs wants a real filesystem below it.
	cp /vmtest/glassbox /vmtest/glassbox-init /vmtest/glassbox-shim /bin/ && cp -a /vmtest/rootfs /tmp/rootfs
	# GLASSBOX_VMTEST tells the tests this is the stock kernel: what most users
	# have (kprobes, fentry, cgroup v2 controllers) must work here, not be skipped.
	export GLASSBOX_BIN=/bin/glassbox GLASSBOX_TEST_ROOTFS=/tmp/rootfs GLASSBOX_VMTEST=1
	glassbox doctor | sed 's/^/vm: doctor: /'
	rc=0
	while read -r name dir; do
		cd "$dir"
		echo "vm: package $name"
		{ /vmtest/tests/$name.test -test.v "$@" </dev/null; echo $? > /tmp/rc; } 2>&1 | cat
		r=$(cat /tmp/rc); [ "$r" = 0 ] || rc=$r
	done < /vmtest/packages
	echo $rc > /vmtest/rc
	sync; poweroff -f
	EOF
	chmod +x "$st/init" "$st/init2"
	(cd "$st" && find . | "$busybox" cpio -o -H newc 2>/dev/null) > "$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
fi

# ---- 5. boot ---------------------------------------------------------------------
accel=tcg cpu=max
if [ -w /dev/kvm ]; then accel=kvm cpu=host; fi
t1=$(date +%s)
# A soft lockup panics the guest at once, with the stuck CPUs' backtraces on
# the console (loglevel 4 shows them), instead of hanging until the timeout.
# Under TCG emulation the guest has hit one, rarely, right after glassbox
# attached its kernel probes; such a run is told loudly and run once more.
for attempt in 1 2; do
	: > "$work/out"
	rm -f "$work/rc"
	set +e
	timeout -k 5 "$timeout" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -m "${VMTEST_MEM:-2G}" -smp 2 \
		-nodefaults -no-user-config -display none -no-reboot -serial file:"$work/console.log" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 mitigations=off softlockup_panic=1 softlockup_all_cpu_backtrace=1" \
		-fsdev local,id=w,path="$work",security_model=none,multidevs=remap -device virtio-9p-pci,fsdev=w,mount_tag=vmtest \
		-fsdev local,id=r,path="$repo",security_model=none,multidevs=remap,readonly=on -device virtio-9p-pci,fsdev=r,mount_tag=repo \
		-device virtio-rng-pci </dev/null >"$work/qemu.log" 2>&1 &
	qpid=$!
	[ "${VMTEST_VERBOSE:-}" = 1 ] && tail -n +1 -s 0.2 -f --pid=$qpid "$work/console.log" >&2 &
	tail -n +1 -s 0.2 -f --pid=$qpid "$work/out" | hack/summarize.sh vm &
	wait $qpid
	qrc=$?
	qpid=
	wait
	set -e
	if [ ! -f "$work/rc" ] && [ "$attempt" = 1 ] && grep -q "soft lockup" "$work/console.log"; then
		cp "$work/console.log" "${TMPDIR:-/tmp}/glassbox-vmtest-softlockup-$(date +%s).log"
		say "THE GUEST KERNEL HIT A SOFT LOCKUP (console kept in ${TMPDIR:-/tmp}/glassbox-vmtest-softlockup-*.log):"
		grep -m 20 -A 12 "soft lockup" "$work/console.log" >&2 || true
		say "running the VM once more"
		continue
	fi
	break
done
t2=$(date +%s)
if [ -f "$work/rc" ]; then
	rc=$(cat "$work/rc")
else
	say "no result from the VM (qemu exit $qrc; 124 = timed out after ${timeout}s); last console lines:"
	tail -n 25 "$work/console.log" "$work/qemu.log" >&2
	rc=125
fi
say "accel=$accel kernel=$kver build=$((t1 - t0))s vm=$((t2 - t1))s rc=$rc"
exit "$rc"
