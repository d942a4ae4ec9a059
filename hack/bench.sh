#!/usr/bin/env bash
# bench.sh — how fast is `glassbox run`? Times, with hyperfine, one container
# running /bin/true from the same busybox bundle under:
#   glassbox run --rm --trace=false --bundle B, and traced (the default)
#   runc run --bundle B           (Debian's runc: the reference to beat; Debian's
#                                 crun refuses a hybrid cgroup host like this one:
#                                 "cgroups in hybrid mode not supported")
#   glassbox-runc run --bundle B  (the same, through glassbox's OCI command set)
#   unshare -fpmuin --mount-proc  (the floor: namespaces and nothing else)
# and prints glassbox's time as a ratio of runc's and of the floor; then a run
# on the default bridge network against --network none, TCP throughput from a
# container to the host against host loopback, image import against umoci,
# the resident memory of a detached container's monitor,
# and the kernel observer's throughput under a system call storm.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-50}

need=()
for tool in hyperfine runc jq umoci; do command -v $tool >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi
export PATH=$PATH:/usr/local/go/bin
make -s build

work=$(mktemp -d /tmp/glassbox-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
hack/mkrootfs.sh "$work/bundle/rootfs" >/dev/null
(cd "$work/bundle" && runc spec)
# Not a terminal, and /bin/true as the process; everything else as runc spec wrote it.
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$work/bundle/config.json" > "$work/config.json"
mv "$work/config.json" "$work/bundle/config.json"
export GLASSBOX_ROOT=$work/state

hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$work/result.json" \
	-n glassbox "bin/glassbox run --rm --trace=false --bundle $work/bundle" \
	-n glassbox-traced "bin/glassbox run --rm --bundle $work/bundle" \
	-n runc "runc --root $work/runc run --bundle $work/bundle bench-$$" \
	-n glassbox-runc "bin/glassbox-runc --root $work/gbrunc run --bundle $work/bundle bench-$$" \
	-n unshare-floor "unshare -fpmuin --mount-proc $work/bundle/rootfs/bin/true"

jq -r '
	(.results | map({(.command): (.median * 1000)}) | add) as $m
	| "median ms: glassbox \($m.glassbox | floor), traced \($m["glassbox-traced"] | floor), runc \($m.runc | floor), floor \($m["unshare-floor"] | floor)",
	  "glassbox-runc run (runc'"'"'s CLI: create, start, wait, delete; traced) \($m["glassbox-runc"] | floor) ms = \($m["glassbox-runc"] / $m.runc * 100 | round / 100)x runc",
	  "glassbox / runc  = \($m.glassbox / $m.runc * 100 | round / 100)x  (target <= 1.0x)",
	  "tracing adds       \($m["glassbox-traced"] - $m.glassbox | . * 10 | round / 10) ms  (target <= 30 ms)",
	  "glassbox / floor = \($m.glassbox / $m["unshare-floor"] * 100 | round / 100)x"
' "$work/result.json"

# Networking: a bridged run (veth, lease, NAT rules) against --network none
# (a netns with lo only), both from flags; then TCP throughput.
echo
hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$work/net.json" \
	-n bridge "bin/glassbox run --rm --trace=false --rootfs $work/bundle/rootfs -- /bin/true" \
	-n none "bin/glassbox run --rm --trace=false --network none --rootfs $work/bundle/rootfs -- /bin/true" >/dev/null
jq -r '
	(.results | map({(.command): (.median * 1000)}) | add) as $m
	| "median ms: bridge \($m.bridge | . * 10 | round / 10), none \($m.none | . * 10 | round / 10)",
	  "bridge / none    = \($m.bridge / $m.none * 100 | round / 100)x  (target <= 1.5x)"
' "$work/net.json"
echo "TCP, container -> host over the bridge vs host loopback (1 GiB, 1 MiB writes):"
go test -run XXX -bench TCPThroughput -benchtime=1x ./integration | grep Benchmark

# The daemon: the docker CLI's run through glassbox daemon (create, attach,
# wait, start, and the removal), against glassbox run of the same image; and
# dockerd's, where Debian's docker.io is installed (the daemon the Engine API
# comes from; it runs here with --iptables=false --bridge=none).
echo
if command -v docker >/dev/null; then
	bin/glassbox import build/busybox-oci busybox:latest >/dev/null 2>&1 || { make -s image >/dev/null && bin/glassbox import build/busybox-oci busybox:latest >/dev/null; }
	GLASSBOX_TRACE=off bin/glassbox daemon -H "unix://$work/glassbox.sock" 2>/dev/null & # untraced, as dockerd and run --trace=false
	daemon=$!
	dockerd_cmd=()
	# dockerd's containers go under this shell's own memory cgroup on a v1
	# host (processes must not leave it there); the cgroups runc makes for
	# that path in the other hierarchies go again afterwards.
	cgparent="$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup | grep -v '^/$' || true)/glassbox-bench-dockerd"
	stop_dockerd() {
		local pid
		pid=$(cat "$work/dockerd/pid" 2>/dev/null) || return 0
		kill "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
		umount -R "$work/dockerd/data" "$work/dockerd/exec" 2>/dev/null || true
		find /sys/fs/cgroup -depth -type d -path "*$cgparent*" -exec rmdir {} + 2>/dev/null || true
		for h in /sys/fs/cgroup/*/; do rmdir "$h${cgparent%/*}" 2>/dev/null || true; done # made by runc; ours is busy and stays
	}
	if command -v dockerd >/dev/null; then
		mkdir -p "$work/dockerd"
		dockerd --iptables=false --ip6tables=false --bridge=none --userland-proxy=false --cgroup-parent "$cgparent" \
			-H "unix://$work/dockerd.sock" --data-root "$work/dockerd/data" \
			--exec-root "$work/dockerd/exec" --pidfile "$work/dockerd/pid" >/dev/null 2>&1 &
		for _ in $(seq 50); do [ -S "$work/dockerd.sock" ] && break; sleep 0.2; done
		# Loaded from glassbox's own store; --pull=never: nothing leaves this host.
		bin/glassbox save busybox:latest | DOCKER_HOST="unix://$work/dockerd.sock" docker load >/dev/null &&
			dockerd_cmd=(-n dockerd "env DOCKER_HOST=unix://$work/dockerd.sock docker run --rm --pull=never --network none busybox true")
	fi
	trap 'kill $daemon 2>/dev/null; stop_dockerd; rm -rf "$work"' EXIT
	for _ in $(seq 50); do [ -S "$work/glassbox.sock" ] && break; sleep 0.1; done
	hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/daemon.json" \
		-n glassbox-run "bin/glassbox run --rm --trace=false --network none busybox true" \
		-n glassbox-daemon "env DOCKER_HOST=unix://$work/glassbox.sock docker run --rm --pull=never --network none busybox true" \
		"${dockerd_cmd[@]}" >/dev/null
	jq -r '
		(.results | map({(.command): (.median * 1000)}) | add) as $m
		| "median ms: glassbox run \($m["glassbox-run"] | floor), docker run through glassbox daemon \($m["glassbox-daemon"] | floor)"
		  + (if $m.dockerd then ", through dockerd \($m.dockerd | floor) (\($m["glassbox-daemon"] / $m.dockerd * 100 | round / 100)x)" else " (dockerd: apt-get install docker.io to compare)" end)
	' "$work/daemon.json"
else
	echo "docker run through glassbox daemon: no docker CLI here (skipped)"
fi

# Images: importing a 100 MB four-layer OCI layout (decompress, verify,
# unpack) against umoci unpack of the same layout.
echo
echo "image import vs umoci unpack (100 MB, 4 layers):"
go test -run XXX -bench ImportVsUmoci -benchtime=1x ./image | grep Benchmark

# Lifecycle: the monitor process of a detached container, idle.
echo
echo "monitor of a detached container, idle (target <= 2 MB RSS):"
go test -run XXX -bench MonitorMemory -benchtime=1x ./integration | grep Benchmark

# The kernel observer under a storm of reported system calls (each is two ring
# buffer events: entry and exit): how many arrive, and where loss starts.
echo
echo "kernel observer under a system call storm (events per call: 2):"
go test -run XXX -bench ObserverStorm -benchtime=1x ./trace | grep Benchmark
