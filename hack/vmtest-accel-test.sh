#!/usr/bin/env bash
# vmtest-accel-test.sh — tests how hack/vmtest.sh chooses its accelerator,
# on any host, with fake QEMUs (VMTEST_QEMU) and a fake KVM device (VMTEST_KVM)
# that behave as the hosts this project has met do:
#   - KVM aborts at start ("failed to set MSR 0x10a", exit 134);
#   - KVM starts, and the guest never says a word;
#   - KVM boots the guest (the fake answers the probe on the serial file);
#   - there is no /dev/kvm; VMTEST_ACCEL forces a choice, or is refused.
# vmtest.sh --probe boots nothing but the probes, so a fake is all QEMU there is.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fake() { # fake NAME BODY: a QEMU that runs BODY
	cat > "$tmp/$1" <<-EOF
	#!/usr/bin/env bash
	$2
	EOF
	chmod +x "$tmp/$1"
}
fake aborts 'echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; kill -ABRT $$'
fake silent 'exec sleep 600'
# Writes the probe's marker where -serial file:PATH says, as a guest would.
fake boots 'for a in "$@"; do case $a in file:*) echo vmtest-probe-ok > "${a#file:}" ;; esac; done'
: > "$tmp/kvm" # a KVM device that exists and is writable

failed=0
expect() { # expect DESCRIPTION WANT-EXIT WANT-TEXT [ENV=VALUE...]
	local what=$1 want_rc=$2 want=$3 out rc=0
	shift 3
	out=$(env VMTEST_KVM="$tmp/kvm" VMTEST_PROBE_TIMEOUT=2 "$@" hack/vmtest.sh --probe 2>&1 | grep -v '^vmtest: building' ) || rc=$?
	if [ "$rc" = "$want_rc" ] && grep -qF -- "$want" <<<"$out"; then
		echo "ok   $what: $out"
	else
		echo "FAIL $what (exit $rc, want $want_rc and \"$want\"):"
		echo "$out" | sed 's/^/     /'
		failed=1
	fi
}
expect "KVM aborts" 0 "software emulation (TCG): $tmp/kvm does not run this guest (-cpu host: qemu exited 134: error: failed to set MSR 0x10a to 0x69; -cpu max: qemu exited 134" VMTEST_QEMU="$tmp/aborts"
expect "KVM is silent" 0 "software emulation (TCG): $tmp/kvm does not run this guest (-cpu host: the guest printed nothing in 2s; -cpu max: the guest printed nothing in 2s)" VMTEST_QEMU="$tmp/silent"
expect "KVM boots" 0 "accelerator: KVM (-cpu host): a probe boot of the kernel answered" VMTEST_QEMU="$tmp/boots"
expect "no KVM device" 0 "software emulation (TCG): there is no $tmp/none" VMTEST_QEMU="$tmp/boots" VMTEST_KVM="$tmp/none"
expect "VMTEST_ACCEL=tcg" 0 "software emulation (TCG): VMTEST_ACCEL=tcg" VMTEST_QEMU="$tmp/boots" VMTEST_ACCEL=tcg
expect "VMTEST_ACCEL=kvm" 0 "KVM (-cpu host): VMTEST_ACCEL=kvm" VMTEST_QEMU="$tmp/aborts" VMTEST_ACCEL=kvm
expect "VMTEST_ACCEL=bogus" 125 "VMTEST_ACCEL=bogus: use kvm or tcg" VMTEST_ACCEL=bogus
[ "$failed" = 0 ] && echo "vmtest-accel: all passed"
exit "$failed"
