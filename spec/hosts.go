package spec

// --add-host NAME:IP and --dns IP (--dns-search, --dns-option): more lines
// for the container's /etc/hosts and its own /etc/resolv.conf, kept in the
// Spec; the network stage writes them (netns).

import (
	"fmt"
	"net/netip"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox-dev/glassbox/netns"
)

// The annotations: "IP NAME" pairs, comma-separated; resolv.conf's lines,
// newline-separated.
const (
	ExtraHostsAnnotation = "org.glassbox.extra-hosts"
	ResolvConfAnnotation = "org.glassbox.resolv-conf"
)

// applyHosts records --add-host and --dns*.
func applyHosts(s *specs.Spec, addHosts, dns, search, options []string, network string) error {
	var pairs []string
	for _, h := range addHosts {
		name, ip, ok := strings.Cut(h, ":")
		if i := strings.Index(h, "="); i > 0 && (!ok || i < len(name)) { // docker also takes NAME=IP
			name, ip, ok = h[:i], h[i+1:], true
		}
		addr, err := netip.ParseAddr(strings.Trim(ip, "[]"))
		switch {
		case !ok || !netns.ValidHostsName(name):
			return fmt.Errorf("--add-host %q: NAME:IP, NAME letters, digits, . _ -", h)
		case ip == "host-gateway":
			return fmt.Errorf("--add-host %s: host-gateway is not supported yet; give the gateway's address", h)
		case err != nil:
			return fmt.Errorf("--add-host %q: %q is not an IP address", h, ip)
		}
		pairs = append(pairs, addr.String()+" "+name)
	}
	if len(pairs) > 0 {
		setAnnotation(s, ExtraHostsAnnotation, strings.Join(pairs, ","))
	}
	if len(dns)+len(search)+len(options) == 0 {
		return nil
	}
	if network == "host" || strings.HasPrefix(network, "container:") {
		return fmt.Errorf("--dns: not with --network %s (its resolv.conf is not the container's own)", network)
	}
	var lines []string
	for _, d := range dns {
		addr, err := netip.ParseAddr(d)
		if err != nil {
			return fmt.Errorf("--dns %q: not an IP address", d)
		}
		lines = append(lines, "nameserver "+addr.String())
	}
	for _, list := range []struct {
		flag, word string
		values     []string
	}{{"--dns-search", "search", search}, {"--dns-option", "options", options}} {
		for _, v := range list.values {
			if v == "" || strings.ContainsAny(v, " \t\n,") {
				return fmt.Errorf("%s %q: one word", list.flag, v)
			}
		}
		if len(list.values) > 0 {
			lines = append(lines, list.word+" "+strings.Join(list.values, " "))
		}
	}
	setAnnotation(s, ResolvConfAnnotation, strings.Join(lines, "\n"))
	return nil
}

// ExtraHostsOf are the "IP NAME" lines --add-host gave.
func ExtraHostsOf(s *specs.Spec) []string {
	if v := s.Annotations[ExtraHostsAnnotation]; v != "" {
		return strings.Split(v, ",")
	}
	return nil
}
