package stages

// Stage network — the container's network namespace, configured from outside.
//
// A new network namespace has one interface, `lo`, and it is down. The host
// side opens the init's /proc/<pid>/ns/net, creates a netlink socket inside
// that namespace (setns(2) on a locked thread, socket(AF_NETLINK), setns back)
// and sends RTM_NEWLINK with IFF_UP for lo. This is the seat of everything a
// container network needs later — a veth pair whose peer is moved in here,
// addresses, routes — and it runs on the host because creating the host half of
// a veth, a bridge port or a NAT rule needs the host's network namespace.
//
// With no network namespace in the Spec (host networking) there is nothing to do.
// Undo: nothing; the namespace dies with the container's last process.

import (
	"fmt"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox-dev/glassbox/netns"
	"github.com/glassbox-dev/glassbox/spec"
)

var Network = &Stage{
	Name:    "network",
	Purpose: "bring up loopback inside the container's new network namespace",
	Kernel:  "/proc/<pid>/ns/net, setns(2), netlink RTM_NEWLINK (lo up)",
	Host:    setupNetwork,
}

func setupNetwork(r *Run) error {
	if !spec.HasNamespace(r.Spec, specs.NetworkNamespace) {
		return nil
	}
	start := time.Now()
	h, err := netns.Open(r.Pid)
	r.steps.record(fmt.Sprintf("netlink socket in /proc/%d/ns/net", r.Pid), start, err)
	if err != nil {
		return &Error{Msg: err.Error()}
	}
	defer h.Close()
	start = time.Now()
	err = h.LoopbackUp()
	r.steps.record("RTM_NEWLINK lo up", start, err, "glassbox.netlink.link", "lo")
	if err != nil {
		return &Error{Msg: err.Error()}
	}
	return nil
}
