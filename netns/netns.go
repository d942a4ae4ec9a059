// Package netns configures a container's network namespace from the host side.
//
// A network namespace is a whole network stack: its own interfaces, addresses,
// routes and netfilter rules. A new one holds a single interface, `lo`, and it is
// down — even 127.0.0.1 does not answer until it is brought up. The host reaches
// into the namespace through /proc/<pid>/ns/net: a netlink socket created inside
// it (setns(2) on a locked thread, then socket(2)) talks to that stack only.
package netns

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Handle is a netlink connection to one network namespace.
type Handle struct {
	*netlink.Handle
	ns netns.NsHandle
}

// Open connects to the network namespace of pid.
func Open(pid int) (*Handle, error) {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return nil, fmt.Errorf("open(/proc/%d/ns/net): %w", pid, err)
	}
	// Only rtnetlink: without a list the library also opens XFRM and netfilter
	// sockets, which fail on kernels without those modules loaded.
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink socket in /proc/%d/ns/net: %w", pid, err)
	}
	return &Handle{Handle: h, ns: ns}, nil
}

// Close closes the netlink socket and the namespace file.
func (h *Handle) Close() {
	h.Handle.Close()
	h.ns.Close()
}

// LoopbackUp sets IFF_UP on `lo` (RTM_NEWLINK), which also gives it 127.0.0.1/8.
func (h *Handle) LoopbackUp() error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("RTM_GETLINK lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("RTM_NEWLINK lo up: %w", err)
	}
	return nil
}
