#!/usr/bin/env bash
# oci-validation.sh — the OCI runtime validation suite (opencontainers/
# runtime-tools: 58 test programs, each a TAP stream) against glassbox-runc,
# or against another runtime for comparison:
#
#   hack/oci-validation.sh                     # glassbox-runc, checked against the list
#   RUNTIME=/usr/sbin/runc hack/oci-validation.sh    # runc, for comparison (no list)
#   hack/oci-validation.sh linux_ns_path mounts      # some tests only
#   hack/oci-validation.sh --build                   # only build the suite; print its directory
#
# RUNTIME_TOOLS is the suite's source snapshot (default: the one in
# ../shared/reference/runtime-tools/, a pinned commit with its vendor/; the
# Go module proxy serves only its 2019 release). It is built once, offline,
# into ~/.cache/glassbox-oci-validation; OCI_VALIDATION_SUITE names a suite
# built already (the VM gets the host's).
#
# The run happens in private mount, pid and cgroup namespaces: the tests make
# cgroups at absolute paths (/cgrouptest), which then land beneath a cgroup
# of the run's own; glassbox-runc's and runc's state roots are tmpfs of the
# run's own; every test gets 60 s. Each test prints "N passed, N failed, N
# skipped" and a verdict; hack/oci-validation.expected says which tests
# glassbox-runc passes, and why each other one fails. A test on the list as
# passing that does not pass fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export PATH=$PATH:/usr/local/go/bin CGO_ENABLED=0
say() { echo "oci-validation: $*" >&2; }

suite=${OCI_VALIDATION_SUITE:-}
if [ -z "$suite" ]; then
	tarball=${RUNTIME_TOOLS:-$repo/../shared/reference/runtime-tools/runtime-tools-5e63903.tar.gz}
	if [ ! -f "$tarball" ]; then
		say "no runtime-tools snapshot at $tarball: set RUNTIME_TOOLS to a runtime-tools source tarball (with vendor/)"
		exit 2
	fi
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/glassbox-oci-validation/$(sha256sum "$tarball" | cut -c1-12)
	suite=$cache/runtime-tools
	if [ ! -x "$suite/runtimetest" ]; then
		say "building runtime-tools' validation programs from $tarball"
		rm -rf "$cache" && mkdir -p "$cache"
		tar -xzf "$tarball" -C "$cache"
		(cd "$suite" && GOFLAGS=-mod=vendor make runtimetest validation-executables >/dev/null)
	fi
fi
if [ "${1:-}" = --build ]; then
	echo "$suite"
	exit 0
fi
if [ -z "${RUNTIME:-}" ]; then
	make -s build
	RUNTIME=$repo/bin/glassbox-runc
fi
name=$(basename "$RUNTIME")
# glassbox-runc's verdicts are on a list: the second column on hybrid and v1
# hosts, the third ("v2:…", when it differs) on a pure cgroup v2 one.
[ "$name" != glassbox-runc ] || expected=$repo/hack/oci-validation.expected
cgroup_mode=v1
[ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ] || cgroup_mode=v2
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=($(cd "$suite/validation" && ls -d */ | tr -d / | grep -v '^util$'))

# A cgroup of the run's own in every hierarchy: beneath ours on v1 (never out
# of it), at the root of a v2 tree (a v2 cgroup with processes cannot hand
# controllers down, and ours may have some).
base=glassbox-oci-validation-$$
# cgroup_mounts: each cgroup hierarchy's mount point, type and options.
cgroup_mounts() { awk '{ for (i = 7; $i != "-"; i++); if ($(i+1) ~ /^cgroup2?$/) print $5, $(i+1), $(i+3) }' /proc/self/mountinfo; }
own() { awk -F: -v c="$1" '$2 == c || (c != "" && index(","$2",", ","c",")) {print $3; exit}' /proc/self/cgroup; }
bases=()
while read -r mnt fstype opts; do
	if [ "$fstype" = cgroup2 ]; then
		bases+=("$mnt/$base")
	else
		ctrl=$(echo "$opts" | tr , '\n' | grep -vxE 'rw|ro|nosuid|nodev|noexec|relatime|clone_children|name=.*' | head -1 || true)
		[ -n "$ctrl" ] || continue # a named hierarchy (systemd's): not the containers'
		bases+=("$mnt$(own "$ctrl" | sed 's,/$,,')/$base")
	fi
done < <(cgroup_mounts)
cleanup() {
	local leaked=() stuck=()
	for b in "${bases[@]}"; do
		[ -d "$b" ] || continue
		for d in $(find "$b" -mindepth 1 -depth -type d); do
			[ "${d#"$b/"}" = harness ] || leaked+=("${d#"$b/"}")
			rmdir "$d" 2>/dev/null || stuck+=("$d")
		done
		rmdir "$b" 2>/dev/null || stuck+=("$b")
	done
	[ ${#leaked[@]} -eq 0 ] || say "cgroups the tests left behind: $(printf '%s\n' "${leaked[@]}" | sort -u | tr '\n' ' ')"
	[ ${#stuck[@]} -eq 0 ] || say "cgroups that could not be removed (processes still in them?): ${stuck[*]}"
}
trap cleanup EXIT
# mkcg DIR: a cgroup a process can join (a v1 cpuset starts with no CPUs and
# no memory nodes: they are its parent's; on v2, empty means the parent's).
mkcg() {
	mkdir -p "$1"
	for f in cpuset.cpus cpuset.mems; do
		if [ -f "$1/$f" ] && [ -f "$(dirname "$1")/$f" ] && [ -z "$(cat "$1/$f")" ]; then
			cat "$(dirname "$1")/$f" > "$1/$f"
		fi
	done
}
export -f mkcg
for b in "${bases[@]}"; do
	# v2: a cgroup has only the controllers its parent hands down.
	parent=$(dirname "$b")
	if [ -f "$parent/cgroup.subtree_control" ]; then
		for c in $(cat "$parent/cgroup.controllers"); do echo "+$c" > "$parent/cgroup.subtree_control" 2>/dev/null || true; done
	fi
	mkcg "$b"
done
# The last run's TAP files, per runtime (the next run replaces them).
results=${TMPDIR:-/tmp}/glassbox-oci-validation-$name
rm -rf "$results" && mkdir -p "$results"

# The run, in its namespaces. In the new pid and mount namespaces it joins
# the run's cgroups, and makes them its cgroup namespace's root...
enter() {
	for b in "${bases[@]}"; do echo 0 > "$b/cgroup.procs"; done # 0: the writer
	exec unshare --cgroup bash -c 'tests=($tests_list); bases=($bases_list); inner'
}
# ... and then leaves them for a child cgroup: a v2 cgroup with a process in
# it cannot hand controllers down to the containers'.
inner() {
	set -euo pipefail
	for b in "${bases[@]}"; do mkcg "$b/harness" && echo 0 > "$b/harness/cgroup.procs"; done
	# Every hierarchy mounted again: the namespace's view, rooted at the run's cgroup.
	while read -r mnt fstype opts; do
		umount -l "$mnt"
		if [ "$fstype" = cgroup2 ]; then
			mount -t cgroup2 cgroup2 "$mnt"
			for c in $(cat "$mnt/cgroup.controllers"); do echo "+$c" > "$mnt/cgroup.subtree_control" 2>/dev/null || true; done
		else
			mount -t cgroup -o "$opts" cgroup "$mnt"
		fi
	done < <(cgroup_mounts | sort -u -k1,1)
	mount -t proc proc /proc
	for d in /run/glassbox-runc /run/runc; do mkdir -p "$d" && mount -t tmpfs tmpfs "$d"; done
	cd "$suite"
	# The tests make their bundles in TMPDIR and leave those of failures.
	# (Searchable: a user namespace's root, host uid 1000, must reach them.)
	export TMPDIR=$results/scratch
	mkdir -p "$TMPDIR" && chmod 711 "$results" "$TMPDIR"
	for t in "${tests[@]}"; do
		RUNTIME=$RUNTIME timeout -k 5 60 "validation/$t/$t.t" > "$results/$t.tap" 2>&1 </dev/null || echo $? > "$results/$t.rc"
	done
}
export -f enter inner cgroup_mounts
export RUNTIME suite results
export tests_list="${tests[*]}" bases_list="${bases[*]}"
say "$name: ${#tests[@]} tests of runtime-tools ($suite)"
t0=$SECONDS
unshare --mount --pid --fork --propagation private bash -c 'bases=($bases_list); enter'
rm -rf "$results/scratch" # its mounts went with the namespace

# TAP: "ok N" passes, "not ok N" fails, "# SKIP" skips, and a test that
# exits non-zero fails (util.Fatal prints no "not ok"). A test whose only plan
# is "1..0" (the hook tests, after an error block) is skipped as a whole; a
# *_fail test that prints nothing and exits 0 found what it wanted (the
# runtime refused the config); any other that printed no plan failed,
# crashed or timed out.
total_pass=0 total_fail=0 total_skip=0 files_pass=0 files_fail=0 files_skip=0 regressions=() improved=()
for t in "${tests[@]}"; do
	tap=$results/$t.tap
	rc=$(cat "$results/$t.rc" 2>/dev/null || echo 0)
	oks=$(grep -cE '^ok [0-9]+' "$tap" || true)
	skip=$(grep -cE '^ok [0-9]+.*# ?SKIP' "$tap" || true)
	fail=$(grep -cE '^not ok [0-9]+' "$tap" || true)
	pass=$((oks - skip))
	plans=$(grep -E '^1\.\.[0-9]+' "$tap" || true)
	if [ -z "$plans" ] && [ "$rc" = 0 ] && [ "$oks$fail" = 00 ] && [[ $t == *_fail ]]; then
		verdict=pass pass=1
	elif [ -z "$plans" ]; then
		verdict="fail (no TAP plan; exit $rc)"
		[ "$rc" != 124 ] || verdict="fail (timed out after 60 s)"
		fail=$((fail + 1))
	elif [ "$oks$fail" = 00 ] && ! grep -qvx '1\.\.0' <<<"$plans"; then
		verdict=skip
	elif [ "$fail" -gt 0 ] || [ "$rc" != 0 ]; then
		verdict=fail
		[ "$fail" -gt 0 ] || fail=1
	else
		verdict=pass
	fi
	case $verdict in pass) files_pass=$((files_pass + 1)) ;; skip) files_skip=$((files_skip + 1)) ;; *) files_fail=$((files_fail + 1)) ;; esac
	total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail)) total_skip=$((total_skip + skip))
	want=
	if [ -n "${expected:-}" ]; then
		want=$(awk -v t="$t" -v mode="$cgroup_mode" '$1 == t { w = $2; if (mode == "v2" && $3 ~ /^v2:/) w = substr($3, 4); print w }' "$expected")
		[ -n "$want" ] || want="(not on the list)"
		if [ "$want" = pass ] && [ "$verdict" != pass ]; then
			regressions+=("$t")
			grep -E '^not ok' "$tap" | head -5 | sed 's/^/      /' || true
		elif [ "$want" != pass ] && [ "$verdict" = pass ]; then
			improved+=("$t")
		fi
	fi
	printf '  %-36s %4d passed %4d failed %4d skipped  %s%s\n' "$t" "$pass" "$fail" "$skip" "$verdict" "${want:+  (listed: $want)}"
done
say "$name: $files_pass files pass, $files_fail fail, $files_skip skipped; $total_pass assertions passed, $total_fail failed, $total_skip skipped ($((SECONDS - t0)) s; TAP in $results)"
[ ${#improved[@]} -eq 0 ] || say "now passing, listed as not: ${improved[*]} (update hack/oci-validation.expected)"
if [ ${#regressions[@]} -gt 0 ]; then
	say "REGRESSION: listed as passing, and failed: ${regressions[*]}"
	exit 1
fi
