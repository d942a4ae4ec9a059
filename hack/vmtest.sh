#!/usr/bin/env bash
# vmtest.sh — run glassbox's test suites inside a QEMU VM booted from Debian 12's
# stock kernel (6.1: pure cgroup v2 with every controller, kprobes, fentry), the
# kind of kernel most users have and this CI host does not.
#
#   hack/vmtest.sh [go test flags, e.g. -run TestMountTable -v]
#   hack/vmtest.sh --probe     only choose the accelerator, say which and why
#
# What it does:
#   1. installs qemu-system-x86, busybox-static and xz-utils when missing;
#   2. fetches Debian's linux-image package once (apt-get download + dpkg -x; it
#      is never installed into /boot) into $VMTEST_CACHE;
#   3. builds (once, cached) an initramfs: static busybox, the kernel modules the
#      tests need, and an init that sets the VM up like a distribution would;
#   4. chooses the accelerator by trying it (below);
#   5. builds glassbox, the busybox rootfs and one test binary per package;
#   6. boots the VM, runs every test binary as root, and exits with their status.
#
# The guest's userland is this host's Debian: its /usr is shared read-only over
# 9p (with a few files of its /etc copied), so what the host has installed —
# podman, conmon, the CNI plugins, containerd, docker-registry, tmux, iptables —
# runs in the guest on the stock kernel, as it would on a Debian machine with
# that kernel. The guest reads the payload and writes its output through
# another 9p share; the serial console is left to the kernel.
#
# The accelerator: a /dev/kvm can exist, be writable, and still not run this
# guest — QEMU aborts ("failed to set MSR 0x10a") or the guest never prints a
# word. So KVM is used only after a probe boot of the same kernel printed a
# marker on the serial console within VMTEST_PROBE_TIMEOUT seconds (default
# 10; a KVM boot takes about one); otherwise software emulation (TCG).
#
# Env: VMTEST_CACHE (default ~/.cache/glassbox-vmtest), VMTEST_TIMEOUT seconds
# (default 1500), VMTEST_MEM (default 3G), VMTEST_VERBOSE=1 for the console,
# VMTEST_ACCEL=kvm|tcg to force one, VMTEST_QEMU (the QEMU binary; default
# qemu-system-x86_64), VMTEST_KVM (the KVM device; default /dev/kvm),
# VMTEST_EXEC='bash command' to run that in the VM instead of the suites, with
# the same payload (glassbox is /opt/glassbox/glassbox; the test binaries are
# in /vmtest/tests), its output shown as theirs would be;
# VMTEST_OCI_VALIDATION=1 also runs runtime-tools' validation suite against
# glassbox-runc there (hack/oci-validation.sh, with the suite the host built).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache=${VMTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glassbox-vmtest}
timeout=${VMTEST_TIMEOUT:-1500}
qemu=${VMTEST_QEMU:-qemu-system-x86_64}
kvmdev=${VMTEST_KVM:-/dev/kvm}
export PATH=$PATH:/usr/local/go/bin CGO_ENABLED=0

say() { echo "vmtest: $*" >&2; }
die() { say "$*"; exit 125; }

probe_only=
if [ "${1:-}" = --probe ]; then probe_only=1; shift; fi
case ${VMTEST_ACCEL:-auto} in
auto | kvm | tcg) ;;
*) die "VMTEST_ACCEL=${VMTEST_ACCEL}: use kvm or tcg (or leave it unset to probe)" ;;
esac

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

work=$(mktemp -d /tmp/glassbox-vmtest.XXXXXX)
qpid=
trap '[ -n "$qpid" ] && kill "$qpid" 2>/dev/null; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# ---- 3. initramfs (cached on kernel, modules, busybox and this script) ------------
# nft_compat and the xt_ modules are what iptables-nft (the CNI plugins' iptables)
# asks for; the rest are glassbox's own: overlay, veth, bridge, nftables NAT.
modules="virtio_pci virtio_rng 9pnet_virtio 9p crc32c_generic overlay veth bridge br_netfilter
	nf_conntrack nf_nat nf_tables nft_chain_nat nft_masq nft_nat nft_ct nft_fib nft_fib_ipv4 nf_conntrack_netlink
	nft_compat xt_comment xt_conntrack xt_MASQUERADE xt_addrtype xt_mark xt_multiport xt_nat nft_reject_inet
	tun dummy loop"
key=$( { echo "$kver $modules"; sha1sum "$busybox" "$0" | cut -c1-40; } | sha1sum | cut -c1-12)
initrd=$cache/initrd-$kver-$key.cpio
if [ ! -f "$initrd" ]; then
	say "building the initramfs for $kver"
	st=$work/initrd
	mkdir -p "$st"/{busybox,etc,proc,sys,dev,tmp,run,root,newroot,var/tmp,vmtest,"lib/modules/$kver"}
	cp "$busybox" "$st/busybox/busybox"
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
	echo "modules=\"$modules\"" > "$st/etc/vmtest.conf"
	printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$st/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' > "$st/etc/group"
	# A host's own names, and no resolver (the VM has no network beyond
	# loopback): containerd's CRI copies both files into each pod.
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' > "$st/etc/hosts"
	printf '# no network beyond loopback\n' > "$st/etc/resolv.conf"
	echo vmtest > "$st/etc/hostname" # the host's name, as lab 20 reads it from a chroot
	# The accelerator probe (rdinit=/probe): one word on the serial console.
	cat > "$st/probe" <<-'EOF'
	#!/busybox/busybox sh
	/busybox/busybox mount -t devtmpfs devtmpfs /dev
	echo vmtest-probe-ok > /dev/ttyS0
	/busybox/busybox poweroff -f
	EOF
	# Stage 1: the initramfs root cannot be pivot_root(2)ed away from, and
	# containers need that, so copy everything into a tmpfs and switch_root.
	# /bin, /sbin and /lib64 lead into /usr, as on a merged-/usr Debian.
	cat > "$st/init" <<-'EOF'
	#!/busybox/busybox sh
	bb=/busybox/busybox
	$bb mount -t tmpfs -o mode=0755 tmpfs /newroot
	for d in /*; do case $d in /newroot|/proc|/sys|/dev) ;; *) $bb cp -a "$d" /newroot/ ;; esac; done
	$bb mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/usr
	$bb ln -s usr/bin /newroot/bin; $bb ln -s usr/sbin /newroot/sbin; $bb ln -s usr/lib64 /newroot/lib64
	exec $bb switch_root /newroot /init2
	EOF
	# Stage 2: a system laid out like a distribution's: the host's /usr,
	# cgroup2 alone at /sys/fs/cgroup, tracefs, bpffs, a shared root mount.
	cat > "$st/init2" <<-'EOF'
	#!/busybox/busybox sh
	/busybox/busybox mkdir -p /busybox/bin && /busybox/busybox --install -s /busybox/bin
	export PATH=/busybox/bin HOME=/root TMPDIR=/tmp
	mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
	ln -s /proc/self/fd /dev/fd # as udev makes them (bash's <(…) needs it)
	for i in 0 1 2; do ln -s /proc/self/fd/$i /dev/$(echo stdin stdout stderr | cut -d' ' -f$((i + 1))); done
	. /etc/vmtest.conf
	for m in $modules; do modprobe "$m" 2>/dev/null; done
	# Modules the kernel asks for later come from the same place.
	echo /busybox/bin/modprobe > /proc/sys/kernel/modprobe
	p9="trans=virtio,version=9p2000.L,msize=512000"
	mount -t 9p -o $p9,cache=loose,ro usr /usr
	# /lib: the guest kernel's modules, and the host's libraries beside them.
	for d in /usr/lib/*; do [ "${d##*/}" = modules ] || ln -s "$d" /lib/; done
	mkdir -p /run/host-etc && mount -t 9p -o $p9,cache=none,ro etc /run/host-etc
	for f in ld.so.cache ld.so.conf ld.so.conf.d alternatives nsswitch.conf protocols services \
		ethertypes iproute2 containers cni docker subuid subgid; do
		[ -e "/run/host-etc/$f" ] && cp -a "/run/host-etc/$f" /etc/
	done
	umount /run/host-etc
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/busybox/bin
	mkdir -p /dev/pts /dev/shm; mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
	mount -t tmpfs tmpfs /tmp; mount -t tmpfs tmpfs /run; ln -s /run /var/run
	mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
	mount -t tracefs tracefs /sys/kernel/tracing; mount -t bpf bpf /sys/fs/bpf
	mount --make-rshared /
	hostname vmtest; ip link set lo up
	mount -t 9p -o $p9,cache=none vmtest /vmtest
	. /vmtest/run.conf
	mkdir -p "$repo" && mount -t 9p -o $p9,cache=loose,ro repo "$repo"
	exec >>/vmtest/out 2>&1
	echo "vm: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
	# The payload is copied off 9p: overlayfs wants a real filesystem below it.
	mkdir -p /opt/glassbox && cp /vmtest/glassbox /vmtest/glassbox-full /vmtest/glassbox-init /vmtest/glassbox-shim /vmtest/glassbox-pause /vmtest/glassbox-otlp /opt/glassbox/
	cp -a /vmtest/rootfs /tmp/rootfs
	# GLASSBOX_VMTEST tells the tests this is the stock kernel: what most users
	# have (kprobes, fentry, cgroup v2 controllers) must work here, not be skipped.
	export GLASSBOX_BIN=/opt/glassbox/glassbox GLASSBOX_TEST_ROOTFS=/tmp/rootfs GLASSBOX_VMTEST=1
	/opt/glassbox/glassbox doctor | sed 's/^/vm: doctor: /'
	rc=0
	if [ -n "$vm_exec" ]; then # VMTEST_EXEC: a command instead of the suites
		bash -c "$vm_exec" </dev/null; echo $? > /vmtest/rc; sync; /busybox/bin/poweroff -f
	fi
	while read -r name dir; do
		cd "$dir"
		echo "vm: package $name"
		{ /vmtest/tests/$name.test -test.v "$@" </dev/null; echo $? > /tmp/rc; } 2>&1 | cat
		r=$(cat /tmp/rc); [ "$r" = 0 ] || rc=$r
	done < /vmtest/packages
	if [ -n "$oci_validation" ]; then
		mkdir -p /opt/runtime-tools && mount -t 9p -o $p9,cache=loose,ro ocisuite /opt/runtime-tools
		ln /opt/glassbox/glassbox /opt/glassbox/glassbox-runc
		OCI_VALIDATION_SUITE=/opt/runtime-tools RUNTIME=/opt/glassbox/glassbox-runc "$repo/hack/oci-validation.sh" 2>&1 || rc=1
	fi
	echo $rc > /vmtest/rc
	sync; /busybox/bin/poweroff -f
	EOF
	chmod +x "$st/init" "$st/init2" "$st/probe"
	(cd "$st" && find . | "$busybox" cpio -o -H newc 2>/dev/null) > "$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
fi

# ---- 4. accelerator ---------------------------------------------------------------
# probe_kvm CPU: boots the kernel under KVM with that CPU model; true if the
# guest spoke, otherwise $why says what happened.
probe_timeout=${VMTEST_PROBE_TIMEOUT:-10}
probe_kvm() {
	local log=$work/probe-console.log out=$work/probe-qemu.log rc
	: > "$log"
	# (In a subshell whose stderr goes nowhere: when QEMU aborts, bash says so.)
	rc=$( (timeout -k 2 "$probe_timeout" "$qemu" -accel kvm -cpu "$1" -m 512 -smp 2 \
		-nodefaults -no-user-config -display none -no-reboot -serial file:"$log" \
		-kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 panic=-1 quiet rdinit=/probe" \
		</dev/null >"$out" 2>&1; echo $?) 2>/dev/null)
	grep -q vmtest-probe-ok "$log" && return 0
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		why="-cpu $1: the guest printed nothing in ${probe_timeout}s"
	else
		why="-cpu $1: qemu exited $rc: $(grep -m1 -v '^$' "$out" | sed 's/^[^:]*: //' || true)"
	fi
	return 1
}
case ${VMTEST_ACCEL:-auto} in
tcg) accel=tcg cpu=max choice="software emulation (TCG): VMTEST_ACCEL=tcg" ;;
kvm) accel=kvm cpu=host choice="KVM (-cpu host): VMTEST_ACCEL=kvm" ;;
auto)
	accel=tcg cpu=max
	if [ ! -e "$kvmdev" ]; then
		choice="software emulation (TCG): there is no $kvmdev"
	elif [ ! -w "$kvmdev" ]; then
		choice="software emulation (TCG): $kvmdev is not writable"
	else
		tried=()
		for c in host max; do
			if probe_kvm "$c"; then accel=kvm cpu=$c; break; fi
			tried+=("$why")
		done
		if [ "$accel" = kvm ]; then
			choice="KVM (-cpu $cpu): a probe boot of the kernel answered"
		else
			choice="software emulation (TCG): $kvmdev does not run this guest ($(IFS=';'; echo "${tried[*]}" | sed 's/;/; /g'))"
		fi
	fi ;;
esac
say "accelerator: $choice"
[ -z "$probe_only" ] || exit 0

# ---- 5. payload: glassbox, rootfs, test binaries ---------------------------------
t0=$(date +%s)
mkdir -p "$work/tests"
make -s build BIN="$work/glassbox"
hack/mkrootfs.sh "$work/rootfs" >/dev/null
: > "$work/packages"
for pkg in $(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...); do
	name=$(echo "${pkg#github.com/glassbox-dev/glassbox/}" | tr / _)
	go test -c -o "$work/tests/$name.test" "$pkg"
	printf '%s %s\n' "$name" "$(go list -f '{{.Dir}}' "$pkg")" >> "$work/packages"
done
{
	printf 'repo=%q\n' "$repo"
	printf 'vm_exec=%q\n' "${VMTEST_EXEC:-}"
	printf 'oci_validation=%q\n' "${VMTEST_OCI_VALIDATION:-}"
	printf 'set --'; for a in "$@"; do
		case $a in -test.*) ;; -*) a=-test.${a#-} ;; esac
		printf ' %q' "$a"
	done; echo
} > "$work/run.conf"

# share TAG DIR [ro]: a 9p share the guest mounts by TAG.
shares=()
share() {
	shares+=(-fsdev "local,id=$1,path=$2,security_model=none,multidevs=remap${3:+,readonly=on}" -device "virtio-9p-pci,fsdev=$1,mount_tag=$1")
}
share vmtest "$work"
share repo "$repo" ro
share usr /usr ro
share etc /etc ro
if [ -n "${VMTEST_OCI_VALIDATION:-}" ]; then
	share ocisuite "$(hack/oci-validation.sh --build)" ro
fi

# ---- 6. boot ---------------------------------------------------------------------
t1=$(date +%s)
# A soft lockup panics the guest at once, with the stuck CPUs' backtraces on
# the console (loglevel 4 shows them), instead of hanging until the timeout.
# Under TCG emulation the guest has hit one, rarely, right after glassbox
# attached its kernel probes; such a run is told loudly and run once more.
for attempt in 1 2; do
	: > "$work/out"
	rm -f "$work/rc"
	set +e
	timeout -k 5 "$timeout" "$qemu" -accel "$accel" -cpu "$cpu" -m "${VMTEST_MEM:-3G}" -smp 2 \
		-nodefaults -no-user-config -display none -no-reboot -serial file:"$work/console.log" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 mitigations=off softlockup_panic=1 softlockup_all_cpu_backtrace=1" \
		"${shares[@]}" \
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
