package netns

// Networks and their address leases are host-wide, like the bridges and the
// nftables table they stand for, whatever state root a container uses:
//
//	/var/lib/glassbox/networks/lock          flock(2): one writer at a time
//	/var/lib/glassbox/networks/<name>.json   the network (subnet, bridge) and its leases
//
// A lease ties an address to a container until its teardown (or `glassbox
// gc`, for a container whose glassbox was killed) releases it. Everything
// that reads or changes networks, leases, bridges or NAT rules holds the lock,
// so concurrent runs get distinct addresses and never tear down a bridge
// another run is about to use.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/internal/atomicfile"
	"github.com/glassbox-dev/glassbox/internal/plainfile"
)

// DefaultNetwork is the network of `glassbox run` without --network, on
// bridge DefaultBridge — Docker's "bridge" network and docker0.
const (
	DefaultNetwork = "bridge"
	DefaultBridge  = "glassbox0"
)

// Network is one bridge network and the addresses leased on it.
type Network struct {
	Name    string            `json:"name"`
	Bridge  string            `json:"bridge"`
	Subnet  string            `json:"subnet"`  // e.g. 172.18.0.0/16
	Gateway string            `json:"gateway"` // the bridge's address, the containers' default route
	Created time.Time         `json:"created"`
	Labels  map[string]string `json:"labels,omitempty"` // its creator's metadata (compose's project)
	Leases  map[string]Lease  `json:"leases,omitempty"` // by address
	Version uint64            `json:"version"`          // counts Saves: what refreshHosts compares
}

// Lease is one container's address on a network.
type Lease struct {
	Container string   `json:"container"`
	Dir       string   `json:"dir"`               // its state directory: gone means the lease is stale
	Name      string   `json:"name,omitempty"`    // the container's name, which others resolve
	Aliases   []string `json:"aliases,omitempty"` // more names for it (--network-alias)
	Hostname  string   `json:"hostname,omitempty"`
	Veth      string   `json:"veth"`            // the host end
	Hosts     string   `json:"hosts,omitempty"` // its /etc/hosts on the host, kept current as others come and go
	Ports     []Port   `json:"ports,omitempty"`
	// A container on several networks (docker network connect): its
	// interface inside on this one (eth1, …; "" is eth0, which has the
	// default route), and the other networks it is on, whose names its
	// /etc/hosts holds too.
	Iface string   `json:"iface,omitempty"`
	Also  []string `json:"also,omitempty"`
	// Extra are its own /etc/hosts's further lines ("IP NAME", --add-host).
	Extra []string `json:"extra,omitempty"`
}

// StoreDir is where network records live.
const StoreDir = "/var/lib/glassbox/networks"

// Store is the locked set of networks.
type Store struct {
	dir  string
	lock *os.File
}

// OpenStore takes the networks lock; Close releases it.
func OpenStore() (*Store, error) {
	dir := StoreDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("network store: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("network store: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", f.Name(), err)
	}
	return &Store{dir: dir, lock: f}, nil
}

func (s *Store) Close() { s.lock.Close() }

// Get returns a network; the default one is created on first use.
func (s *Store) Get(name string) (*Network, error) {
	n, err := readNetwork(name)
	if errors.Is(err, fs.ErrNotExist) {
		if name == DefaultNetwork {
			return s.Create(name, "", nil)
		}
		return nil, fmt.Errorf("network %q %w (glassbox network ls lists them; glassbox network create %s makes it)", name, ErrNetworkNotFound, name)
	}
	return n, err
}

// ConfigError: a network that cannot be made as asked (a bad name, a subnet
// that is not one, or overlaps another's).
type ConfigError struct{ error }

func (e ConfigError) Unwrap() error { return e.error }

// The ways a network is not what a caller asked for.
var (
	ErrNetworkNotFound = errors.New("not found")
	ErrNetworkExists   = errors.New("already exists")
	ErrNetworkInUse    = errors.New("is in use")
)

// readNetwork reads a network's record. Records are replaced by rename(2),
// so a reader without the lock sees one version or the next, never half. A
// name that no network can have (../x) names none.
func readNetwork(name string) (*Network, error) {
	if !container.ValidName(name) {
		return nil, fmt.Errorf("network %q: %w", name, fs.ErrNotExist)
	}
	path := filepath.Join(StoreDir, name+".json")
	data, err := plainfile.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}
	var n Network
	if err := json.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("network %s: %s: %w", name, path, err)
	}
	if n.Leases == nil {
		n.Leases = map[string]Lease{}
	}
	return &n, nil
}

// Create makes a network record with subnet, or one picked from the pool
// that no host route and no other network uses. Its bridge appears with its
// first container.
func (s *Store) Create(name, subnet string, labels map[string]string) (*Network, error) {
	if !container.ValidName(name) || name == "host" || name == "none" || strings.HasPrefix(name, "container:") {
		return nil, ConfigError{fmt.Errorf("network name %q: use letters, digits, _ . - (and not host, none or container:…)", name)}
	}
	if _, err := os.Stat(s.path(name)); err == nil {
		return nil, fmt.Errorf("network %q %w", name, ErrNetworkExists)
	}
	others, err := s.List()
	if err != nil {
		return nil, err
	}
	var taken []*net.IPNet
	for _, o := range others {
		if _, n, err := net.ParseCIDR(o.Subnet); err == nil {
			taken = append(taken, n)
		}
	}
	var ipnet *net.IPNet
	if subnet != "" {
		_, ipnet, err = net.ParseCIDR(subnet)
		if err != nil || ipnet.IP.To4() == nil {
			return nil, ConfigError{fmt.Errorf("--subnet %q: expected an IPv4 network like 10.10.0.0/24", subnet)}
		}
		if ones, _ := ipnet.Mask.Size(); ones > 29 {
			return nil, ConfigError{fmt.Errorf("--subnet %s: too small for a gateway and containers (/29 at most)", subnet)}
		}
		for _, t := range taken {
			if overlaps(ipnet, t) {
				return nil, ConfigError{fmt.Errorf("--subnet %s overlaps the subnet of another glassbox network (%s)", subnet, t)}
			}
		}
	} else if ipnet = bridgeSubnet(bridgeName(name)); ipnet == nil {
		if ipnet, err = pickSubnet(taken); err != nil {
			return nil, err
		}
	}
	n := &Network{
		Name: name, Bridge: bridgeName(name), Subnet: ipnet.String(),
		Gateway: nthAddr(ipnet, 1).String(), Created: time.Now().UTC(), Labels: labels, Leases: map[string]Lease{},
	}
	return n, s.Save(n)
}

// bridgeName: glassbox0 for the default network, gb-<name> for the others
// (an interface name has at most 15 bytes).
func bridgeName(network string) string {
	if network == DefaultNetwork {
		return DefaultBridge
	}
	name := "gb-" + network
	if len(name) > unix.IFNAMSIZ-1 {
		name = name[:unix.IFNAMSIZ-1]
	}
	return name
}

// Save writes the record atomically (rename(2) over the old one), as its
// next version.
func (s *Store) Save(n *Network) error {
	n.Version++
	data, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(s.path(n.Name), data, 0o600); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	return nil
}

// List returns every network, by name.
func (s *Store) List() ([]*Network, error) {
	files, _ := filepath.Glob(filepath.Join(s.dir, "*.json"))
	var out []*Network
	for _, f := range files {
		n, err := s.Get(strings.TrimSuffix(filepath.Base(f), ".json"))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a network that no container uses, and its bridge.
func (s *Store) Remove(name string) error {
	n, err := s.Get(name)
	if err != nil {
		return err
	}
	if len(n.Leases) > 0 {
		var users []string
		for _, l := range n.Leases {
			users = append(users, l.Container[:min(12, len(l.Container))])
		}
		return fmt.Errorf("network %s %w by %s", name, ErrNetworkInUse, strings.Join(users, ", "))
	}
	if err := RemoveBridge(n); err != nil {
		return err
	}
	os.Remove(filepath.Join(s.dir, name+".hosts.lock"))
	return os.Remove(s.path(name))
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name+".json") }

// Allocate leases the lowest free address of the network to a container.
func (n *Network) Allocate(l Lease) (net.IP, error) {
	_, ipnet, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return nil, fmt.Errorf("network %s: subnet %q: %w", n.Name, n.Subnet, err)
	}
	ones, bits := ipnet.Mask.Size()
	size := 1 << (bits - ones)
	for i := 2; i < size-1; i++ { // .0 is the network, .1 the gateway, the last broadcast
		ip := nthAddr(ipnet, i)
		if _, used := n.Leases[ip.String()]; !used {
			n.Leases[ip.String()] = l
			return ip, nil
		}
	}
	return nil, fmt.Errorf("network %s (%s) has no free address", n.Name, n.Subnet)
}

// Release drops a container's lease; it returns the lease and its address.
func (n *Network) Release(container string) (Lease, string, bool) {
	for ip, l := range n.Leases {
		if l.Container == container {
			delete(n.Leases, ip)
			return l, ip, true
		}
	}
	return Lease{}, "", false
}

// Prefix is the subnet's mask length, for the container's address.
func (n *Network) Prefix() int {
	_, ipnet, _ := net.ParseCIDR(n.Subnet)
	ones, _ := ipnet.Mask.Size()
	return ones
}

// DefaultSubnet says which subnet the default network has, or would get
// from the pool now, and why.
func DefaultSubnet() (string, error) {
	s, err := OpenStore()
	if err != nil {
		return "", err
	}
	defer s.Close()
	if data, err := os.ReadFile(s.path(DefaultNetwork)); err == nil {
		var n Network
		if json.Unmarshal(data, &n) == nil {
			return fmt.Sprintf("%s on %s, gateway %s, %s", n.Subnet, n.Bridge, n.Gateway, containers(len(n.Leases))), nil
		}
	}
	if b := bridgeSubnet(DefaultBridge); b != nil {
		return fmt.Sprintf("%s (from the existing %s)", b, DefaultBridge), nil
	}
	others, err := s.List()
	if err != nil {
		return "", err
	}
	var taken []*net.IPNet
	for _, o := range others {
		if _, n, err := net.ParseCIDR(o.Subnet); err == nil {
			taken = append(taken, n)
		}
	}
	pick, err := pickSubnet(taken)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s on %s when first used: the first pool subnet that overlaps no host route", pick, DefaultBridge), nil
}

// bridgeSubnet is the subnet of a bridge left from an earlier record of the
// same network: a network is adopted from its bridge rather than given a
// second subnet.
func bridgeSubnet(bridge string) *net.IPNet {
	link, err := netlink.LinkByName(bridge)
	if err != nil {
		return nil
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil || len(addrs) == 0 {
		return nil
	}
	return &net.IPNet{IP: addrs[0].IP.Mask(addrs[0].Mask), Mask: addrs[0].Mask}
}

// subnetPool is where default subnets come from, as in Docker: 172.17–31/16,
// then /20s of 192.168.0.0/16.
func subnetPool() []*net.IPNet {
	var pool []*net.IPNet
	for b := 17; b <= 31; b++ {
		pool = append(pool, &net.IPNet{IP: net.IPv4(172, byte(b), 0, 0).To4(), Mask: net.CIDRMask(16, 32)})
	}
	for c := 0; c < 256; c += 16 {
		pool = append(pool, &net.IPNet{IP: net.IPv4(192, 168, byte(c), 0).To4(), Mask: net.CIDRMask(20, 32)})
	}
	return pool
}

// pickSubnet returns the first pool subnet that overlaps no route or address
// of the host and no other glassbox network.
func pickSubnet(taken []*net.IPNet) (*net.IPNet, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("RTM_GETROUTE: %w", err)
	}
	for _, r := range routes {
		if ones, _ := r.Dst.Mask.Size(); r.Dst != nil && ones > 0 { // not the default route
			taken = append(taken, r.Dst)
		}
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("RTM_GETADDR: %w", err)
	}
	for _, a := range addrs {
		taken = append(taken, a.IPNet)
	}
next:
	for _, candidate := range subnetPool() {
		for _, t := range taken {
			if overlaps(candidate, t) {
				continue next
			}
		}
		return candidate, nil
	}
	return nil, errors.New("every subnet of the pool (172.17-31.0.0/16, 192.168.x.0/20) overlaps a host route: pass --subnet")
}

func overlaps(a, b *net.IPNet) bool { return a.Contains(b.IP) || b.Contains(a.IP) }

// nthAddr is the i-th address of a subnet.
func nthAddr(n *net.IPNet, i int) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, binary.BigEndian.Uint32(n.IP.To4())+uint32(i))
	return ip
}

// containers is "1 container" or "n containers".
func containers(n int) string {
	if n == 1 {
		return "1 container"
	}
	return fmt.Sprintf("%d containers", n)
}
