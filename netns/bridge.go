package netns

// A bridge network, the way Docker's default one works:
//
//	container netns                host netns
//	  eth0 172.17.0.2/16 ── veth ── gb3f2a1b0c9d8e ─┐
//	  default via 172.17.0.1                        ├─ glassbox0 172.17.0.1/16 ── routing, NAT ── eth0
//	  eth0 172.17.0.3/16 ── veth ── gb7c6d5e4f3a2b ─┘
//
// A veth pair is two interfaces joined by a cable: what one sends, the other
// receives. One end joins the bridge (a software switch) on the host; the other
// is moved into the container's network namespace and renamed eth0. The
// bridge's own address is the containers' gateway; the host routes between it
// and its other interfaces (ip_forward), and nftables rewrites addresses (see
// nat.go). Every netlink message is a traced step.

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/internal/atomicfile"
	"github.com/glassbox-dev/glassbox/internal/step"
)

// Attachment is what Connect set up: the container's address and gateway.
type Attachment struct {
	Network string
	IP      net.IP
	Prefix  int
	Gateway net.IP
	Ports   []Port // with ephemeral host ports filled in
}

// VethName is the host end of a container's veth pair ("gb" + 12 hex digits
// of its id: interface names have at most 15 bytes).
func VethName(container string) string { return "gb" + container[:min(12, len(container))] }

// MaxNetworks is how many networks a container can be on: the host ends of
// its veths are VethName, then VethName and a digit.
const MaxNetworks = 10

// Connect gives the container (its init is pid) an address on network: a
// lease, the bridge and NAT rules if it is the network's first container, a
// veth pair, eth0 configured inside, DNAT rules for ports, and /etc/hosts
// (hostsFile) for it and for every container on the network.
//
// The store's lock is one for the whole host, so it is held only for what
// the network's containers share: the leases, the bridge and the masquerade
// rules. The veth and the DNAT rules are the container's own and are made
// without it; concurrent runs then wait for one another for milliseconds,
// not for each other's veths (an RCU grace period each to make).
//
// A lease with an Iface is a further network of a running container
// (ConnectMore): its own veth and interface, and no default route.
func Connect(network string, lease Lease, pid int, ports []Port, step step.Recorder) (*Attachment, error) {
	if lease.Veth == "" {
		lease.Veth = VethName(lease.Container)
	}
	a, bridge, err := reserve(network, lease, ports, step)
	if err != nil {
		return nil, err
	}
	if err := addVeth(lease.Veth, cmp.Or(lease.Iface, "eth0"), bridge, pid, a, lease.Iface == "", len(a.Ports) > 0, step); err != nil {
		return nil, err
	}
	if len(a.Ports) > 0 {
		// Safe without the lock: the table and chains stay while this
		// network has masquerade rules, and it has them while it has a lease.
		start := time.Now()
		err = addPortNAT(lease.Container, a.IP, a.Ports)
		step("nft dnat "+FormatPorts(a.Ports)+" → "+a.IP.String(), start, err)
		if err != nil {
			return nil, err
		}
	}
	if lease.Hosts == "" {
		return a, nil
	}
	return a, refreshHosts(network, step)
}

// reserve leases an address and the ports, and makes sure the network's
// bridge and masquerade rules exist, under the store's lock.
func reserve(network string, lease Lease, ports []Port, step step.Recorder) (*Attachment, netlink.Link, error) {
	s, err := lockStore(step)
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	n, err := s.Get(network)
	if err != nil {
		return nil, nil, err
	}
	all, err := s.List()
	if err != nil {
		return nil, nil, err
	}
	ports = append([]Port(nil), ports...)
	start := time.Now()
	err = reservePorts(ports, all)
	if len(ports) > 0 {
		step("check ports "+FormatPorts(ports), start, err)
	}
	if err != nil {
		return nil, nil, err
	}
	lease.Ports = ports
	if lease.Iface != "" {
		// A further network: each of the container's leases names the others.
		if lease.Also, err = s.linkLeases(lease.Container, n.Name, all); err != nil {
			return nil, nil, err
		}
	}
	start = time.Now()
	ip, err := n.Allocate(lease)
	if err == nil {
		err = s.Save(n) // before anything exists, so that an undo finds the lease
	}
	step(fmt.Sprintf("lease %s on %s", ip, n.Name), start, err, "glassbox.network.name", n.Name, "glassbox.network.subnet", n.Subnet)
	if err == nil {
		// Its own /etc/hosts now; the others' after the lock (refreshHosts).
		err = writeHostsFiles(n, step, ip.String())
	}
	if err != nil {
		return nil, nil, err
	}
	a := &Attachment{Network: n.Name, IP: ip, Prefix: n.Prefix(), Gateway: net.ParseIP(n.Gateway), Ports: ports}
	bridge, err := ensureBridge(n, step)
	if err != nil {
		return nil, nil, err
	}
	start = time.Now()
	added, err := addNetworkNAT(n)
	if added || err != nil {
		step("nft masquerade "+n.Subnet+", drop 127.0.0.0/8 from "+n.Bridge, start, err, "glassbox.nft.table", "ip "+TableName)
	}
	return a, bridge, err
}

// Disconnect undoes Connect for a container: its DNAT rules, its lease, its
// veth. The network's own NAT rules stay with its bridge. Parts already gone
// are skipped, so it also cleans up after a Connect that failed half-way, or
// a killed run (gc).
//
// The veth dies with the container's network namespace: once the last process
// in it has exited, the kernel destroys its devices (and a veth's peer with
// it) in a workqueue. Deleting it here would wait for an RCU grace period
// (30-45 ms here), so only deleteVeth (gc, where the namespace may be held by
// something else) does. The bridge stays, like docker0: deleting it costs
// 45-85 ms; `glassbox network rm` removes a user network's.
//
// Only the container's own run adds its lease, and whoever disconnects it
// holds the container's lock: so whether it has a lease at all is read
// without the store's lock (the records are replaced by rename(2)), and a
// container already disconnected — by its teardown, before rm — costs no
// wait for the lock.
func Disconnect(network, container string, deleteVeth bool, step step.Recorder) error {
	var errs []error
	lease, leased := leaseOf(network, container)
	veth := cmp.Or(lease.Veth, VethName(container))
	if link, err := netlink.LinkByName(veth); err == nil && deleteVeth {
		start := time.Now()
		err := netlink.LinkDel(link)
		step("RTM_DELLINK "+veth, start, err)
		if err != nil && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("RTM_DELLINK %s: %w", veth, err))
		}
	}
	if !leased {
		return errors.Join(errs...)
	}
	if lease.Iface == "" {
		// Its first network: the further ones go with it.
		for _, other := range lease.Also {
			errs = append(errs, Disconnect(other, container, deleteVeth, step))
		}
	}
	released, err := release(network, container, step)
	errs = append(errs, err)
	if released {
		errs = append(errs, refreshHosts(network, step))
	}
	return errors.Join(errs...)
}

// release gives up a container's lease and its DNAT rules, and with the
// network's last lease its masquerade rules, under the store's lock.
func release(network, container string, step step.Recorder) (bool, error) {
	s, err := lockStore(step)
	if err != nil {
		return false, err
	}
	defer s.Close()
	n, err := s.Get(network)
	if err != nil {
		return false, nil // the network is gone, and its leases with it
	}
	l, ip, ok := n.Release(container)
	if !ok {
		return false, nil
	}
	var errs []error
	if len(l.Also) > 0 {
		errs = append(errs, s.unlinkLeases(container, n.Name, l.Also))
	}
	if len(l.Ports) > 0 {
		start := time.Now()
		_, err := removeNAT("ctr:" + container)
		step("nft delete dnat rules", start, err)
		errs = append(errs, err)
	}
	// The network's own rules (masquerade, the loopback guard) stay while
	// its bridge does, as Docker's stay with docker0: taking the table's
	// hooks out with the last container waits for an RCU grace period (~9 ms
	// here), and the next run would put them back. RemoveBridge removes them.
	start := time.Now()
	err = s.Save(n)
	step("release "+ip, start, err)
	errs = append(errs, err)
	return true, errors.Join(errs...)
}

// leaseOf reads, without the lock, container's lease on network, and whether
// it has one (an unreadable record counts: the locked path then says why).
func leaseOf(network, container string) (Lease, bool) {
	n, err := readNetwork(network)
	if err != nil {
		return Lease{}, !errors.Is(err, os.ErrNotExist)
	}
	for _, l := range n.Leases {
		if l.Container == container {
			return l, true
		}
	}
	return Lease{}, false
}

// Attached is one network a container is on.
type Attached struct {
	Network string
	IP      string
	Lease   Lease
}

// NetworksOf lists the networks container is on, its first first, read
// without the lock.
func NetworksOf(container string) []Attached {
	first, ok := attachedTo(container, "")
	if !ok {
		return nil
	}
	out := []Attached{first}
	for _, name := range first.Lease.Also {
		if a, ok := attachedTo(container, name); ok {
			out = append(out, a)
		}
	}
	return out
}

// attachedTo is container's lease on network — on its first network when
// network is "", found among all.
func attachedTo(container, network string) (Attached, bool) {
	names := []string{network}
	if network == "" {
		files, _ := filepath.Glob(filepath.Join(StoreDir, "*.json"))
		names = names[:0]
		for _, f := range files {
			names = append(names, strings.TrimSuffix(filepath.Base(f), ".json"))
		}
	}
	for _, name := range names {
		n, err := readNetwork(name)
		if err != nil {
			continue
		}
		for ip, l := range n.Leases {
			if l.Container == container && (network != "" || l.Iface == "") {
				return Attached{Network: n.Name, IP: ip, Lease: l}, true
			}
		}
	}
	return Attached{}, false
}

// RefreshHosts brings every /etc/hosts on network up to date.
func RefreshHosts(network string, step step.Recorder) error { return refreshHosts(network, step) }

// linkLeases adds network to the Also of container's leases on the other
// networks (all), and gives their names, for its lease on network. The
// caller holds the store.
func (s *Store) linkLeases(container, network string, all []*Network) ([]string, error) {
	var also []string
	for _, m := range all {
		for ip, l := range m.Leases {
			if l.Container != container {
				continue
			}
			if m.Name == network {
				return nil, fmt.Errorf("container %s is on network %s already", container[:min(12, len(container))], network)
			}
			l.Also = append(l.Also, network)
			m.Leases[ip] = l
			if err := s.Save(m); err != nil {
				return nil, err
			}
			also = append(also, m.Name)
		}
	}
	return also, nil
}

// unlinkLeases takes network out of the Also of container's leases on the
// networks also names. The caller holds the store.
func (s *Store) unlinkLeases(container, network string, also []string) error {
	var errs []error
	for _, name := range also {
		m, err := readNetwork(name)
		if err != nil {
			continue // gone, and its leases with it
		}
		for ip, l := range m.Leases {
			if l.Container == container {
				l.Also = slices.DeleteFunc(l.Also, func(n string) bool { return n == network })
				m.Leases[ip] = l
				errs = append(errs, s.Save(m), refreshHosts(m.Name, step.None))
			}
		}
	}
	return errors.Join(errs...)
}

// lockStore opens the network store as a step: its lock is held by one run
// at a time, and the wait for it is part of what a run costs.
func lockStore(step step.Recorder) (*Store, error) {
	start := time.Now()
	s, err := OpenStore()
	step("flock "+filepath.Join(StoreDir, "lock"), start, err)
	return s, err
}

// RemoveBridge deletes an idle network's bridge (and NAT rules, if any are
// left). The caller holds the store.
func RemoveBridge(n *Network) error {
	var errs []error
	if err := RemoveNetworkNAT(n.Name); err != nil {
		errs = append(errs, err)
	}
	if link, err := netlink.LinkByName(n.Bridge); err == nil {
		if err := netlink.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("RTM_DELLINK %s: %w", n.Bridge, err))
		}
	}
	return errors.Join(errs...)
}

// RemoveNetworkNAT deletes a network's own rules (masquerade, the loopback
// guard), which stay while its bridge does, and the table if nothing else is
// in it. The next run on the network adds them again.
func RemoveNetworkNAT(network string) error {
	_, err := removeNAT("net:" + network)
	return err
}

// ensureBridge creates the network's bridge with the gateway address if it
// does not exist, and turns on the routing it needs.
func ensureBridge(n *Network, step step.Recorder) (netlink.Link, error) {
	if br, err := netlink.LinkByName(n.Bridge); err == nil {
		if br.Attrs().MTU != onHostMTU { // a bridge an older glassbox made
			setBridgeMTU(br, step)
		}
		// Routing may have been turned off since the bridge was made.
		if fwd, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(string(fwd)) == "1" {
			return br, nil
		}
		return br, setSysctls(n, step)
	}
	start := time.Now()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge}}
	err := netlink.LinkAdd(br)
	step("RTM_NEWLINK "+n.Bridge+" type bridge", start, err, "glassbox.netlink.link", n.Bridge)
	if err != nil && !errors.Is(err, unix.EEXIST) { // EEXIST: another run's, a moment ago
		return nil, fmt.Errorf("RTM_NEWLINK %s type bridge: %w", n.Bridge, err)
	}
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return nil, fmt.Errorf("RTM_GETLINK %s: %w", n.Bridge, err)
	}
	setBridgeMTU(link, step)
	gw := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(n.Gateway), Mask: net.CIDRMask(n.Prefix(), 32)}}
	start = time.Now()
	err = netlink.AddrAdd(link, gw)
	step("RTM_NEWADDR "+gw.IPNet.String()+" on "+n.Bridge, start, err)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("RTM_NEWADDR %s on %s: %w", gw.IPNet, n.Bridge, err)
	}
	start = time.Now()
	err = netlink.LinkSetUp(link)
	step("RTM_NEWLINK "+n.Bridge+" up", start, err)
	if err != nil {
		return nil, fmt.Errorf("RTM_NEWLINK %s up: %w", n.Bridge, err)
	}
	return link, setSysctls(n, step)
}

// The bridge's MTU sizes what the host sends to its containers. A bridge
// follows its ports' MTU (the smallest of theirs, 1500 without any) until its
// own is set with RTM_SETLINK — an MTU given when it is created does not
// count — so it is set after the bridge is made. Only a faster path depends
// on it: a kernel that refuses (before 4.17, an MTU above its smallest port's)
// leaves the step failed and the bridge as it was.
const bridgeMTUWhy = "the MTU of what the host sends to containers: set, it no longer follows the bridge's ports"

func setBridgeMTU(br netlink.Link, step step.Recorder) {
	start := time.Now()
	err := netlink.LinkSetMTU(br, onHostMTU)
	step(fmt.Sprintf("RTM_SETLINK %s mtu %d", br.Attrs().Name, onHostMTU), start, err, "glassbox.why", bridgeMTUWhy)
}

// setSysctls turns on routing, and lets DNAT send packets from 127.0.0.1
// out of the bridge.
func setSysctls(n *Network, step step.Recorder) error {
	for _, sc := range []struct{ path, why string }{
		{"/proc/sys/net/ipv4/ip_forward", "route between the bridge and the host's other interfaces"},
		{"/proc/sys/net/ipv4/conf/" + n.Bridge + "/route_localnet", "let DNAT send 127.0.0.1:port to a container"},
	} {
		start := time.Now()
		err := os.WriteFile(sc.path, []byte("1"), 0)
		step("sysctl "+strings.TrimPrefix(strings.ReplaceAll(sc.path, "/", "."), ".proc.sys.")+"=1", start, err, "glassbox.why", sc.why)
		if err != nil {
			return fmt.Errorf("write %s: %w", sc.path, err)
		}
	}
	return nil
}

// addVeth creates the veth pair with one end on the bridge and the other,
// eth0, already in the container's network namespace (IFLA_NET_NS_PID on the
// peer), then configures eth0 from inside. Docker creates both ends on the
// host and moves one; moving a device waits for an RCU grace period
// (synchronize_net: 20-35 ms here), creating it in place does not.
//
// A container that publishes ports gets hairpin mode on its bridge port: with
// bridge-nf-call-iptables on (br_netfilter, the common case on Docker hosts),
// the DNAT of its own connection to host:port happens while the frame is
// being bridged, and the bridge then sends it back out of the port it came
// in on — which a bridge port does only in hairpin mode.
func addVeth(hostEnd, iface string, bridge netlink.Link, pid int, a *Attachment, defaultRoute, hairpin bool, step step.Recorder) error {
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: hostEnd, MasterIndex: bridge.Attrs().Index, MTU: onHostMTU},
		PeerName:  iface, PeerNamespace: netlink.NsPid(pid), PeerMTU: onHostMTU,
	}
	start := time.Now()
	err := netlink.LinkAdd(veth)
	step(fmt.Sprintf("RTM_NEWLINK veth %s ⇄ %s in /proc/%d/ns/net (master %s, mtu %d)", hostEnd, iface, pid, bridge.Attrs().Name, onHostMTU), start, err,
		"glassbox.netlink.link", hostEnd, "glassbox.why", "the MTU of packets that stay on this machine (mtu.go)")
	if err != nil {
		return fmt.Errorf("RTM_NEWLINK veth %s: %w", hostEnd, err)
	}
	start = time.Now()
	err = netlink.LinkSetUp(veth)
	step("RTM_NEWLINK "+hostEnd+" up", start, err)
	if err != nil {
		return fmt.Errorf("RTM_NEWLINK %s up: %w", hostEnd, err)
	}
	if hairpin {
		start = time.Now()
		err = netlink.LinkSetHairpin(veth, true)
		step("RTM_SETLINK "+hostEnd+" bridge port hairpin on", start, err, "glassbox.why", "let the container reach its own published ports through a host address")
		if err != nil {
			return fmt.Errorf("RTM_SETLINK %s hairpin on: %w", hostEnd, err)
		}
	}
	h, err := Open(pid)
	if err != nil {
		return err
	}
	defer h.Close()
	inside, err := h.LinkByName(iface)
	if err != nil {
		return fmt.Errorf("RTM_GETLINK %s in the container: %w", iface, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.IP, Mask: net.CIDRMask(a.Prefix, 32)}}
	start = time.Now()
	err = h.AddrAdd(inside, addr)
	step("RTM_NEWADDR "+addr.IPNet.String()+" on "+iface+" (inside)", start, err, "glassbox.network.ip", a.IP.String())
	if err != nil {
		return fmt.Errorf("RTM_NEWADDR %s on %s: %w", addr.IPNet, iface, err)
	}
	start = time.Now()
	err = h.LinkSetUp(inside)
	step("RTM_NEWLINK "+iface+" up (inside)", start, err)
	if err != nil {
		return fmt.Errorf("RTM_NEWLINK %s up: %w", iface, err)
	}
	if !defaultRoute {
		return nil // the subnet's route came with the address
	}
	start = time.Now()
	mtu, from := uplinkMTU()
	step(fmt.Sprintf("RTM_GETROUTE the host's default route: mtu %d", mtu), start, nil, "glassbox.why", from)
	start = time.Now()
	err = h.RouteAdd(&netlink.Route{LinkIndex: inside.Attrs().Index, Gw: a.Gateway, MTU: mtu})
	step(fmt.Sprintf("RTM_NEWROUTE default via %s mtu %d (inside)", a.Gateway, mtu), start, err,
		"glassbox.why", "what leaves the machine is sized as the host's own packets (mtu.go)")
	if err != nil {
		return fmt.Errorf("RTM_NEWROUTE default via %s mtu %d: %w", a.Gateway, mtu, err)
	}
	return nil
}

// writeHostsFiles rewrites /etc/hosts of the containers on the network at
// the given addresses (all of them when none are given), so that each
// resolves the others by name. A file is rewritten in place (not replaced by
// rename) because it is bind-mounted: the container holds its inode. It is
// never created: a container whose file is gone is being removed, and a file
// made again in its state directory would stop that.
func writeHostsFiles(n *Network, step step.Recorder, only ...string) error {
	var errs []error
	start, files := time.Now(), 0
	others := map[string]*Network{} // the further networks of containers on several, read once
	for ip, l := range n.Leases {
		if l.Hosts == "" || len(only) > 0 && !slices.Contains(only, ip) {
			continue
		}
		var b strings.Builder
		b.WriteString(LocalHosts)
		for _, line := range l.Extra {
			b.WriteString(strings.Replace(line, " ", "\t", 1) + "\n")
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, strings.Join(slices.DeleteFunc(append([]string{l.Hostname, l.Name}, l.Aliases...), empty), " "))
		hostsLines(&b, n, l.Container)
		for _, name := range l.Also {
			if others[name] == nil {
				others[name], _ = readNetwork(name)
			}
			if m := others[name]; m != nil {
				hostsLines(&b, m, l.Container)
			}
		}
		if err := rewrite(l.Hosts, b.String()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("write %s: %w", l.Hosts, err))
		}
		files++
	}
	err := errors.Join(errs...)
	if files > 0 {
		step(fmt.Sprintf("write /etc/hosts of %s on %s", containers(files), n.Name), start, err)
	}
	return err
}

// hostsLines writes the /etc/hosts lines of the containers on n but self.
func hostsLines(b *strings.Builder, n *Network, self string) {
	for ip, o := range n.Leases {
		if o.Container != self {
			fmt.Fprintf(b, "%s\t%s\n", ip, strings.Join(slices.DeleteFunc(append([]string{o.Name, o.Hostname}, o.Aliases...), empty), " "))
		}
	}
}

func empty(s string) bool { return s == "" }

// ValidHostsName says whether s may stand as a name in /etc/hosts: letters,
// digits, . _ - (a hostname's characters, and Docker's names'), at most 253.
func ValidHostsName(s string) bool {
	return s != "" && len(s) <= 253 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == ""
}

// rewrite replaces the contents of an existing file.
func rewrite(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	return errors.Join(err, f.Close())
}

// refreshHosts brings every /etc/hosts on a network up to date with its
// record, outside the store's lock. Rewriting them costs a write per
// container, and every container that comes or goes asks for it — fifty
// removed at once would write 2,500 files. So whoever finds another process
// rewriting leaves the work to it: that one reads the record again when it is
// done, and goes round once more if the record changed meanwhile. Every asker
// changed the record (Save counts versions) before asking, so none is missed.
func refreshHosts(network string, step step.Recorder) error {
	for {
		lock, err := os.OpenFile(filepath.Join(StoreDir, network+".hosts.lock"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("network %s: %w", network, err)
		}
		if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			lock.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil // the holder writes this change too
			}
			return fmt.Errorf("flock %s: %w", lock.Name(), err)
		}
		n, err := readNetwork(network)
		if err == nil {
			err = writeHostsFiles(n, step)
		}
		lock.Close()
		if err != nil {
			return err
		}
		if now, err := readNetwork(network); err != nil || now.Version == n.Version {
			return nil
		}
	}
}

// LocalHosts opens every /etc/hosts glassbox writes.
const LocalHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

// ResolvConf is the host's /etc/resolv.conf for a container: nameservers on
// the host's loopback (systemd-resolved, dnsmasq) cannot be reached from a
// container's own network namespace, so they are left out — and if none is
// left, Docker's fallback, Google's public resolvers, is written.
func ResolvConf(hostNetwork bool) []byte {
	data, _ := os.ReadFile("/etc/resolv.conf")
	if hostNetwork {
		return data
	}
	var out []string
	servers := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip == nil || ip.IsLoopback() {
				continue
			}
			servers++
		}
		if line != "" {
			out = append(out, line)
		}
	}
	if servers == 0 {
		out = append(out, "nameserver 8.8.8.8", "nameserver 8.8.4.4")
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

// GC releases the leases and removes the veths and NAT rules of containers
// whose state directory is gone, and DNAT rules without a lease.
//
// The network store is the host's, not a state root's: a lease names its
// container's state directory, whatever root holds it, so a gc run from any
// root keeps what any live container uses. Bridges stay, like docker0 (see
// the file's top); `glassbox network rm` removes a user network's.
func GC() ([]string, error) {
	// The NAT rules are listed before the leases are read: a run saves its
	// lease before it adds rules and removes its rules before it releases
	// the lease, so a rule listed here whose owner has no lease once the
	// store is locked below is one no run uses (its run was killed, or it
	// has just ended). A run starting again (glassbox start, the same id)
	// cannot save a lease while gc holds the lock, so its new rules come
	// after.
	owners, natErr := NATOwners()
	s, err := OpenStore()
	if err != nil {
		return nil, err
	}
	networks, err := s.List()
	s.Close()
	if err != nil {
		return nil, err
	}
	quiet := step.None
	var gone []string
	errs := []error{natErr}
	for _, n := range networks {
		for _, l := range n.Leases {
			if _, err := os.Stat(l.Dir); errors.Is(err, os.ErrNotExist) {
				gone = append(gone, fmt.Sprintf("lease of %s on %s", l.Container[:min(12, len(l.Container))], n.Name))
				errs = append(errs, Disconnect(n.Name, l.Container, true, quiet))
			}
		}
	}
	if s, err = OpenStore(); err != nil {
		return gone, errors.Join(append(errs, err)...)
	}
	defer s.Close()
	networks, err = s.List()
	if err != nil {
		return gone, errors.Join(append(errs, err)...)
	}
	leased := map[string]bool{}
	for _, n := range networks {
		for _, l := range n.Leases {
			leased[l.Container] = true
		}
	}
	for _, o := range owners {
		if id, ok := strings.CutPrefix(o, "ctr:"); ok && !leased[id] {
			if removed, err := removeNAT(o); removed > 0 || err != nil {
				gone = append(gone, "nft rules of "+id[:min(12, len(id))])
				errs = append(errs, err)
			}
		}
	}
	if n := atomicfile.RemoveStale(StoreDir); n > 0 {
		gone = append(gone, fmt.Sprintf("%d half-written network records", n))
	}
	return gone, errors.Join(errs...)
}
