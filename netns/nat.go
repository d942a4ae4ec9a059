package netns

// NAT for bridge networks, in an nftables table glassbox owns (`ip glassbox`),
// written over netlink (NFNL_SUBSYS_NFTABLES) with google/nftables:
//
//	table ip glassbox {
//	  chain prerouting  { type nat hook prerouting priority dstnat;   # from other hosts and containers
//	    fib daddr type local tcp dport 8080 dnat to 172.17.0.2:80 }
//	  chain output      { type nat hook output priority dstnat;      # from the host itself
//	    fib daddr type local tcp dport 8080 dnat to 172.17.0.2:80 }
//	  chain postrouting { type nat hook postrouting priority srcnat;
//	    ip saddr 172.17.0.0/16 oifname != "glassbox0" masquerade     # outbound: leave with the host's address
//	    ip saddr 127.0.0.0/8 oifname "glassbox0" masquerade          # 127.0.0.1:8080 → container
//	    ip saddr 172.17.0.0/16 oifname "glassbox0" ct status dnat masquerade }  # hairpin
//	  chain input       { type filter hook input priority filter;
//	    iifname "glassbox0" ip daddr 127.0.0.0/8 ct state != { established, related } drop }
//	}
//
// Rules carry their owner in the rule's user data ("net:<network>" or
// "ctr:<container id>"), so a teardown removes exactly its own, and `glassbox
// gc` finds the rules of containers that are gone. A network's rules stay
// while its bridge does (RemoveBridge takes them); the table goes when its
// last rule does.
//
// 127.0.0.1:hostPort: a packet from the host to 127.0.0.1 that the output
// chain sends to a container would leave through the bridge with a loopback
// source, which the kernel drops as a martian — unless route_localnet is set on
// the bridge. glassbox sets it (rather than running a userland proxy per port,
// as Docker does by default), and masquerades those packets so the container
// sees the bridge's address as their source and can reply.
//
// route_localnet opens the other direction too: a container that sends a
// packet for 127.0.0.1 to the bridge's MAC address would reach whatever
// listens on the host's loopback — services that trust it not to be
// reachable from outside (CVE-2020-8558, in kube-proxy). The input chain drops
// every new connection to 127.0.0.0/8 that arrives through the bridge; the
// replies of the host's own connections to 127.0.0.1:hostPort (established)
// still pass.
//
// Hairpin: a container reaching its own published port through a host
// address is sent back into the bridge by DNAT; masquerading it makes the reply
// return through the host (and conntrack) instead of straight to the container.
// With bridge-nf-call-iptables on, that DNAT happens on the bridge itself and
// the frame goes back out of the port it came in on: the container's bridge
// port needs hairpin mode (addVeth).

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is glassbox's nftables table (family ip).
const TableName = "glassbox"

var table = &nftables.Table{Family: nftables.TableFamilyIPv4, Name: TableName}

// The table's base chains.
var (
	preroutingChain  = natChain("prerouting", nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	outputChain      = natChain("output", nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	postroutingChain = natChain("postrouting", nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	inputChain       = &nftables.Chain{Name: "input", Table: table, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter}
	allChains        = []*nftables.Chain{preroutingChain, outputChain, postroutingChain, inputChain}
)

func natChain(name string, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: table, Type: nftables.ChainTypeNAT, Hooknum: hook, Priority: prio}
}

// addNetworkNAT makes sure the table, its chains, the network's masquerade
// rules and its loopback guard exist, and says whether it had to add any.
// Every run asks, and all but a network's first find them with a listing: a
// change (a netlink batch the kernel commits) only when something is missing
// — the network is new, someone flushed the ruleset, or an older glassbox
// made the table.
func addNetworkNAT(n *Network) (bool, error) {
	c, err := nftables.New()
	if err != nil {
		return false, fmt.Errorf("nftables: %w", err)
	}
	owner := "net:" + n.Name
	has := func(ch *nftables.Chain) bool {
		rules, _ := c.GetRules(table, ch) // an error: no table or chain yet
		return slices.ContainsFunc(rules, func(r *nftables.Rule) bool { return string(r.UserData) == owner })
	}
	masquerade, guard := has(postroutingChain), has(inputChain)
	if masquerade && guard {
		return false, nil // a run before this one added them
	}
	// NEWTABLE and NEWCHAIN without NLM_F_EXCL: adding what exists is a no-op.
	c.AddTable(table)
	for _, ch := range allChains {
		c.AddChain(ch)
	}
	if !masquerade {
		subnet, mask := ipMask(n.Subnet)
		loop, loopMask := ipMask("127.0.0.0/8")
		for _, exprs := range [][]expr.Any{
			append(append(saddr(subnet, mask), oifname(n.Bridge, false)...), &expr.Masq{}),
			append(append(saddr(loop, loopMask), oifname(n.Bridge, true)...), &expr.Masq{}),
			append(append(append(saddr(subnet, mask), oifname(n.Bridge, true)...), ctDNAT()...), &expr.Masq{}),
		} {
			c.AddRule(&nftables.Rule{Table: table, Chain: postroutingChain, Exprs: exprs, UserData: []byte(owner)})
		}
	}
	if !guard {
		c.AddRule(&nftables.Rule{Table: table, Chain: inputChain, Exprs: dropLoopbackFrom(n.Bridge), UserData: []byte(owner)})
	}
	if err := c.Flush(); err != nil {
		return false, fmt.Errorf("nftables: add table ip %s, masquerade rules for %s and the loopback guard of %s: %w", TableName, n.Subnet, n.Bridge, err)
	}
	return true, nil
}

// addPortNAT adds the DNAT rules of one container's published ports.
func addPortNAT(container string, ip net.IP, ports []Port) error {
	if len(ports) == 0 {
		return nil
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	for _, p := range ports {
		exprs := []expr.Any{
			// fib daddr type local: addressed to this host
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: nativeUint32(unix.RTN_LOCAL)},
		}
		if p.HostIP != "" {
			exprs = append(exprs,
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net.ParseIP(p.HostIP).To4()})
		}
		proto := byte(unix.IPPROTO_TCP)
		if p.Proto == "udp" {
			proto = unix.IPPROTO_UDP
		}
		exprs = append(exprs,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: bigUint16(p.HostPort)},
			&expr.Immediate{Register: 1, Data: ip.To4()},
			&expr.Immediate{Register: 2, Data: bigUint16(p.ContainerPort)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2},
		)
		for _, ch := range []*nftables.Chain{preroutingChain, outputChain} {
			c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: exprs, UserData: []byte("ctr:" + container)})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: add DNAT rules for %s: %w", FormatPorts(ports), err)
	}
	return nil
}

// removeNAT deletes the rules of the given owners ("net:…", "ctr:…"), and the
// table once it has no rules left. It returns how many rules it removed.
func removeNAT(owners ...string) (int, error) {
	c, err := nftables.New()
	if err != nil {
		return 0, fmt.Errorf("nftables: %w", err)
	}
	if _, err := c.ListTableOfFamily(TableName, nftables.TableFamilyIPv4); err != nil {
		return 0, nil // no table: nothing of ours
	}
	removed, left := 0, 0
	for _, ch := range allChains {
		rules, err := c.GetRules(table, ch)
		if err != nil {
			continue // the chain is missing: a half-made table
		}
		for _, r := range rules {
			if owned(string(r.UserData), owners) {
				if err := c.DelRule(r); err != nil {
					return removed, fmt.Errorf("nftables: delete rule: %w", err)
				}
				removed++
			} else {
				left++
			}
		}
	}
	if left == 0 {
		c.DelTable(table)
	}
	if err := c.Flush(); err != nil {
		return removed, fmt.Errorf("nftables: remove rules of %s: %w", strings.Join(owners, ", "), err)
	}
	return removed, nil
}

func owned(tag string, owners []string) bool {
	for _, o := range owners {
		if tag == o {
			return true
		}
	}
	return false
}

// NATOwners lists the owners of the rules in glassbox's table.
func NATOwners() ([]string, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, err
	}
	if _, err := c.ListTableOfFamily(TableName, nftables.TableFamilyIPv4); err != nil {
		return nil, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, ch := range allChains {
		rules, _ := c.GetRules(table, ch)
		for _, r := range rules {
			if tag := string(r.UserData); !seen[tag] {
				seen[tag] = true
				out = append(out, tag)
			}
		}
	}
	return out, nil
}

// dropLoopbackFrom drops new connections to 127.0.0.0/8 that come in through
// the bridge: iifname BRIDGE ip daddr 127.0.0.0/8 ct state != { established,
// related } drop.
func dropLoopbackFrom(bridge string) []expr.Any {
	const established, related = 1 << 1, 1 << 2 // NF_CT_STATE_BIT(IP_CT_ESTABLISHED), NF_CT_STATE_BIT(IP_CT_RELATED)
	name := make([]byte, unix.IFNAMSIZ)
	copy(name, bridge)
	loop, mask := ipMask("127.0.0.0/8")
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: loop},
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: nativeUint32(established | related), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: make([]byte, 4)},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// saddr matches the IPv4 source address against a subnet.
func saddr(ip net.IP, mask net.IPMask) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip},
	}
}

// oifname matches the outgoing interface (a name is compared as 16 bytes).
func oifname(name string, equal bool) []expr.Any {
	op := expr.CmpOpNeq
	if equal {
		op = expr.CmpOpEq
	}
	data := make([]byte, unix.IFNAMSIZ)
	copy(data, name)
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: data}}
}

// ctDNAT matches connections whose destination was rewritten (ct status dnat).
func ctDNAT() []expr.Any {
	const ipsDstNAT = 1 << 5 // IPS_DST_NAT in linux/netfilter/nf_conntrack_common.h
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: nativeUint32(ipsDstNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

func ipMask(cidr string) (net.IP, net.IPMask) {
	_, n, _ := net.ParseCIDR(cidr)
	return n.IP.To4(), n.Mask
}

func nativeUint32(v uint32) []byte {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, v)
	return b
}

func bigUint16(v uint16) []byte {
	b := make([]byte, 2)
	binary.BigEndian.PutUint16(b, v)
	return b
}
