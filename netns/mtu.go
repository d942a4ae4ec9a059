package netns

// The MTU of a container's interfaces.
//
// TCP sizes its segments to the route's MTU less the headers, and counts its
// congestion window and its acknowledgements in segments. Loopback's MTU is
// 64 KiB; a veth's is 1500 unless told otherwise. So a container talking to
// its host over a bridge sent 45 segments where a process talking to
// 127.0.0.1 sent one, and got half its throughput (docs/performance.md),
// though neither packet leaves the machine.
//
// The veth pair and the bridge get the largest MTU a veth takes. The way
// off the machine is the container's default route: it carries the MTU of
// the host's own default route (the route metric RTAX_MTU: ip route shows
// "mtu"), so a packet for elsewhere is sized as the host would size it, and
// a host whose uplink is smaller than 1500 (a tunnel, a cloud VM) gets no
// oversized packets from its containers. The subnet's route, which the
// address brought, keeps the interface's MTU: the gateway (the host's
// address on the bridge) and the other containers on the bridge are reached
// with 64 KiB packets. The host's other addresses are reached through the
// default route, sized for the uplink.

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// onHostMTU is a veth's largest MTU (ETH_MAX_MTU): the MTU of both ends of
// every container's veth pair.
const onHostMTU = 65535

// ethernetMTU is the way out's MTU when the host's cannot be read.
const ethernetMTU = 1500

// uplinkMTU is the MTU of the host's IPv4 default route in the main table
// (policy routing is not followed), and where it comes from, for the trace.
// With several default routes, or several next hops, it is the smallest: a
// packet may leave by any of them.
func uplinkMTU() (mtu int, from string) {
	filter := &netlink.Route{Table: unix.RT_TABLE_MAIN}
	routes, err := netlink.RouteListFiltered(unix.AF_INET, filter, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_DST)
	if errors.Is(err, netlink.ErrDumpInterrupted) { // the routes changed meanwhile
		routes, err = netlink.RouteListFiltered(unix.AF_INET, filter, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_DST)
	}
	if err != nil {
		return ethernetMTU, fmt.Sprintf("the host's routes cannot be read (%v): Ethernet's %d", err, ethernetMTU)
	}
	lower := func(m int, why string) {
		if m > 0 && (mtu == 0 || m < mtu) {
			mtu, from = m, why
		}
	}
	for _, r := range routes {
		links := []int{r.LinkIndex}
		for _, hop := range r.MultiPath {
			links = append(links, hop.LinkIndex)
		}
		for _, index := range links {
			if index == 0 {
				continue
			}
			if link, err := netlink.LinkByIndex(index); err == nil {
				lower(link.Attrs().MTU, "the MTU of "+link.Attrs().Name+", the host's default route's interface")
			}
		}
		lower(r.MTU, "the mtu of the host's default route")
	}
	if mtu == 0 {
		return ethernetMTU, fmt.Sprintf("no IPv4 default route with an interface in the host's main table: Ethernet's %d", ethernetMTU)
	}
	return mtu, from
}
