package stages

// Stage network — the container's network namespace, wired from outside.
//
// A new network namespace has one interface, `lo`, and it is down. The host
// side opens the init's /proc/<pid>/ns/net, creates a netlink socket inside
// that namespace (setns(2) on a locked thread, socket(AF_NETLINK), setns back)
// and sends RTM_NEWLINK with IFF_UP for lo. It runs on the host because the
// rest of a container network lives there too. On a bridge network
// (--network bridge, the default, or a user network; netns/bridge.go):
//
//  1. a lease on the network's subnet, from a file-locked store under the
//     state root;
//  2. the bridge, if this is the network's first container: RTM_NEWLINK type
//     bridge, RTM_NEWADDR of the gateway, ip_forward and route_localnet;
//  3. nftables: MASQUERADE for the subnet, DNAT for -p ports (netns/nat.go);
//  4. a veth pair (RTM_NEWLINK type veth, master the bridge), one end moved
//     into the container's namespace (IFLA_NET_NS_PID) and there renamed eth0,
//     addressed (RTM_NEWADDR), brought up, and given a default route via the
//     gateway (RTM_NEWROUTE);
//  5. /etc/hosts of every container on the network, so they resolve each
//     other by name.
//
// --network none stops after lo; --network host has no network namespace;
// --network container:<id> joins another container's, in the unshare stage.
// For a run from flags, glassbox also writes the container's /etc/hosts,
// /etc/hostname and /etc/resolv.conf into its state directory and the mount
// stage binds them over the image's, like Docker (the image is untouched).
//
// It runs while the init starts: the namespace exists from the clone, and
// the init's Go runtime and configuration take ~2 ms in which glassbox would
// only wait (WhileInitWorks).
//
// Undo: DNAT rules, veth, lease. The bridge and the network's NAT rules stay,
// like docker0 and Docker's rules for it, until glassbox network rm.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox-dev/glassbox/netns"
	"github.com/glassbox-dev/glassbox/spec"
)

var Network = &Stage{
	Name:           "network",
	Purpose:        "wire the container's network namespace: lo, and a veth on a bridge with NAT",
	Kernel:         "setns(2), netlink RTM_NEWLINK/NEWADDR/NEWROUTE (lo, bridge, veth), nftables NAT",
	Host:           setupNetwork,
	Undo:           teardownNetwork,
	WhileInitWorks: true,
}

// bridgeNetwork is the network the Spec asks to be attached to, or "".
func bridgeNetwork(s *specs.Spec) string {
	mode := s.Annotations[spec.NetworkAnnotation]
	if mode == "none" || mode == "host" || strings.HasPrefix(mode, "container:") || !newNetNamespace(s) {
		return ""
	}
	return mode
}

func newNetNamespace(s *specs.Spec) bool { return newNamespace(s, specs.NetworkNamespace) }

// newNamespace says whether the Spec asks for a new namespace of type t (not
// one joined by path).
func newNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	return slices.ContainsFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
		return ns.Type == t && ns.Path == ""
	})
}

func setupNetwork(r *Run) error {
	if !newNetNamespace(r.Spec) {
		return nil // the host's, or another container's (joined by the init)
	}
	start := time.Now()
	h, err := netns.Open(r.Pid)
	r.steps.record(fmt.Sprintf("netlink socket in /proc/%d/ns/net", r.Pid), start, err)
	if err != nil {
		return &Error{Err: err, Msg: err.Error()}
	}
	start = time.Now()
	err = h.LoopbackUp()
	h.Close()
	r.steps.record("RTM_NEWLINK lo up", start, err, "glassbox.netlink.link", "lo")
	if err != nil {
		return &Error{Err: err, Msg: err.Error()}
	}
	network := bridgeNetwork(r.Spec)
	if network == "" {
		return nil
	}
	ports, err := netns.ParsePorts(r.Spec.Annotations[spec.PublishAnnotation])
	if err != nil {
		return &Error{Err: err, Msg: err.Error()}
	}
	lease := netns.Lease{Container: r.ID, Dir: r.Dir, Name: r.Name, Hostname: r.Spec.Hostname, Hosts: r.Path("hosts"), Extra: spec.ExtraHostsOf(r.Spec)}
	if aliases := r.Spec.Annotations[spec.AliasesAnnotation]; aliases != "" {
		lease.Aliases = strings.Split(aliases, ",")
	}
	// They go into the /etc/hosts of every container on the network, which
	// a config.json's hostname must not write lines into.
	for _, name := range append([]string{lease.Hostname}, lease.Aliases...) {
		if name != "" && !netns.ValidHostsName(name) {
			return &Error{Msg: fmt.Sprintf("%q cannot go into the network's /etc/hosts: a hostname or alias is letters, digits, . _ -", name)}
		}
	}
	a, err := netns.Connect(network, lease, r.Pid, ports, r.steps.record)
	var portErr *netns.PortError
	switch {
	case errors.As(err, &portErr) && portErr.Call != "":
		e := callError(portErr.Call, portErr.Err, "the port is in use on the host: publish another host port, or stop what listens on it (ss -tulpn names it)")
		e.Err = err // still a PortError
		return e
	case errors.As(err, &portErr):
		return &Error{Err: err, Msg: err.Error(), Hint: "publish another host port"}
	case err != nil:
		return &Error{Err: err, Msg: err.Error(), Hint: "glassbox doctor checks veth, bridge and nftables support"}
	}
	r.IP, r.Ports = a.IP.String(), netns.FormatPorts(a.Ports)
	return r.Save()
}

func teardownNetwork(r *Run) error {
	network := bridgeNetwork(r.Spec)
	if network == "" {
		return nil
	}
	// A live init (a stage failed; gc) still holds the namespace and its veth.
	r.mu.Lock()
	alive := r.init != nil && !r.reaped || r.init == nil && r.Alive()
	r.mu.Unlock()
	return netns.Disconnect(network, r.ID, alive, r.steps.record)
}

// writeNetworkFiles writes /etc/hosts, /etc/hostname and /etc/resolv.conf
// for a run from flags into the state directory, and adds the bind mounts that
// put them over the image's (unless a -v already mounts one of them). A bridge
// network's /etc/hosts is completed by the network stage, once the address is
// known; --network container:<id> shares the other container's files.
func (r *Run) writeNetworkFiles() error {
	mode, ok := r.Spec.Annotations[spec.NetworkAnnotation]
	if !ok {
		return nil // a bundle: its config.json says what to mount
	}
	hosts := []byte(netns.LocalHosts)
	if mode == "host" {
		hosts, _ = os.ReadFile("/etc/hosts")
	}
	for _, line := range spec.ExtraHostsOf(r.Spec) { // --add-host
		hosts = append(hosts, strings.Replace(line, " ", "\t", 1)+"\n"...)
	}
	resolv := netns.ResolvConf(mode == "host")
	if own := r.Spec.Annotations[spec.ResolvConfAnnotation]; own != "" { // --dns
		resolv = []byte(own + "\n")
	}
	files := map[string][]byte{
		"hosts":       hosts,
		"hostname":    []byte(r.Spec.Hostname + "\n"),
		"resolv.conf": resolv,
	}
	source := map[string]string{}
	for name, data := range files {
		if err := os.WriteFile(r.Path(name), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", r.Path(name), err)
		}
		source[name] = r.Path(name)
	}
	if id, ok := strings.CutPrefix(mode, "container:"); ok {
		// The names and resolvers of the network namespace it joins.
		other := filepath.Join(filepath.Dir(r.Dir), id)
		source["hosts"], source["resolv.conf"] = filepath.Join(other, "hosts"), filepath.Join(other, "resolv.conf")
	}
	for _, name := range []string{"hosts", "hostname", "resolv.conf"} {
		dest := "/etc/" + name
		if slices.ContainsFunc(r.Spec.Mounts, func(m specs.Mount) bool { return filepath.Clean(m.Destination) == dest }) {
			continue
		}
		r.Spec.Mounts = append(r.Spec.Mounts, specs.Mount{
			Destination: dest, Type: "bind", Source: source[name], Options: []string{"rbind", "rw"},
		})
	}
	return nil
}
