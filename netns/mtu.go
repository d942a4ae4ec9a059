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
// the host's own way out (the route metric RTAX_MTU: ip route shows "mtu"),
// so a packet for elsewhere is sized as the host would size it, and a host
// whose uplink is smaller than 1500 (a tunnel, a cloud VM) gets no oversized
// packets from its containers. Traffic to the host and to containers on the
// same bridge uses the subnet's route, which the address brought, and so the
// interface's MTU.

import (
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// onHostMTU is a veth's largest MTU (ETH_MAX_MTU): the MTU of both ends of
// every container's veth pair.
const onHostMTU = 65535

// ethernetMTU is the way out's MTU on a host without a default route.
const ethernetMTU = 1500

// uplinkMTU is the MTU of the host's IPv4 default route — the smallest of
// its mtu metric and the MTUs of the interfaces it leaves through — and the
// name of the interface (for the trace; "" without a default route).
func uplinkMTU() (mtu int, via string) {
	routes, err := netlink.RouteListFiltered(unix.AF_INET,
		&netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_DST)
	if err != nil {
		return ethernetMTU, ""
	}
	for _, r := range routes {
		links := []int{r.LinkIndex}
		for _, hop := range r.MultiPath {
			links = append(links, hop.LinkIndex)
		}
		for _, index := range links {
			link, err := netlink.LinkByIndex(index)
			if index == 0 || err != nil {
				continue
			}
			if m := link.Attrs().MTU; m > 0 && (mtu == 0 || m < mtu) {
				mtu, via = m, link.Attrs().Name
			}
		}
		if r.MTU > 0 && (mtu == 0 || r.MTU < mtu) {
			mtu = r.MTU
		}
	}
	if mtu == 0 {
		return ethernetMTU, ""
	}
	return mtu, via
}
