package netns

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
)

// Port is one published port: connections to HostIP:HostPort on the host are
// sent (DNAT) to the container's ContainerPort.
type Port struct {
	HostIP        string `json:"hostIP,omitempty"` // empty: every host address
	HostPort      uint16 `json:"hostPort"`
	ContainerPort uint16 `json:"containerPort"`
	Proto         string `json:"proto"` // tcp or udp
}

// String writes the port as -p takes it; an ephemeral host port not yet
// chosen (0) is left out.
func (p Port) String() string {
	host := ""
	if p.HostPort != 0 {
		host = strconv.Itoa(int(p.HostPort))
	}
	s := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
	switch {
	case p.HostIP != "":
		s = p.HostIP + ":" + host + ":" + s
	case host != "":
		s = host + ":" + s
	}
	return s
}

// ParsePublish reads docker run's -p: [ip:][hostPort:]containerPort[/tcp|udp],
// where ports may be ranges of the same length (8080-8081:80-81). A missing
// host port (-p 80, -p 127.0.0.1::80) is an ephemeral one, chosen by the
// kernel.
func ParsePublish(v string) ([]Port, error) {
	spec, proto, _ := strings.Cut(v, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("-p %s: the protocol must be tcp or udp", v)
	}
	parts := strings.Split(spec, ":")
	var ip, hostPart, ctrPart string
	switch len(parts) {
	case 1:
		ctrPart = parts[0]
	case 2:
		hostPart, ctrPart = parts[0], parts[1]
	case 3:
		ip, hostPart, ctrPart = parts[0], parts[1], parts[2]
		if a := net.ParseIP(ip); a == nil || a.To4() == nil {
			return nil, fmt.Errorf("-p %s: %q is not an IPv4 address", v, ip)
		}
	default:
		return nil, fmt.Errorf("-p %s: expected [ip:][hostPort:]containerPort[/tcp|udp]", v)
	}
	ctrLo, ctrHi, err := portRange(ctrPart)
	if err != nil {
		return nil, fmt.Errorf("-p %s: container port: %w", v, err)
	}
	hostLo, hostHi := uint16(0), uint16(0)
	if hostPart != "" {
		if hostLo, hostHi, err = portRange(hostPart); err != nil {
			return nil, fmt.Errorf("-p %s: host port: %w", v, err)
		}
		if hostHi-hostLo != ctrHi-ctrLo {
			return nil, fmt.Errorf("-p %s: the host and container port ranges differ in length", v)
		}
	}
	var out []Port
	for i := uint16(0); i <= ctrHi-ctrLo; i++ {
		p := Port{HostIP: ip, ContainerPort: ctrLo + i, Proto: proto}
		if hostPart != "" {
			p.HostPort = hostLo + i
		}
		out = append(out, p)
	}
	return out, nil
}

func portRange(s string) (uint16, uint16, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil || a == 0 {
		return 0, 0, errors.New("expected a port number 1-65535 or a range like 8080-8089")
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
			return 0, 0, errors.New("expected a port number 1-65535 or a range like 8080-8089")
		}
	}
	return uint16(a), uint16(b), nil
}

// hostPorts indexes host ports by protocol and number, with the addresses
// each is published on ("" is every address), so that a range of thousands of
// ports is checked in linear time.
type hostPorts map[hostPort]map[string]string // address → who published it

type hostPort struct {
	proto string
	port  uint16
}

// taken says who already publishes p's host port on an address that overlaps
// p's. Ephemeral host ports (0) are never taken: the kernel picks distinct ones.
func (h hostPorts) taken(p Port) (string, bool) {
	if p.HostPort == 0 {
		return "", false
	}
	on := h[hostPort{p.Proto, p.HostPort}]
	if p.HostIP == "" {
		for _, who := range on {
			return who, true
		}
		return "", false
	}
	if who, ok := on[""]; ok {
		return who, true
	}
	who, ok := on[p.HostIP]
	return who, ok
}

func (h hostPorts) add(p Port, who string) {
	k := hostPort{p.Proto, p.HostPort}
	if h[k] == nil {
		h[k] = map[string]string{}
	}
	h[k][p.HostIP] = who
}

// ParsePublishes reads every -p of one run; a host port published twice is
// refused, as Docker does (it would be two DNAT rules, one of them dead).
func ParsePublishes(vs []string) ([]Port, error) {
	var out []Port
	seen := hostPorts{}
	for _, v := range vs {
		ps, err := ParsePublish(v)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if _, dup := seen.taken(p); dup {
				return nil, fmt.Errorf("-p %s: host port %d/%s is published twice", v, p.HostPort, p.Proto)
			}
			seen.add(p, v)
			out = append(out, p)
		}
	}
	return out, nil
}

// FormatPorts and ParsePorts carry published ports in a Spec annotation.
func FormatPorts(ports []Port) string {
	var s []string
	for _, p := range ports {
		s = append(s, p.String())
	}
	return strings.Join(s, ",")
}

func ParsePorts(annotation string) ([]Port, error) {
	if annotation == "" {
		return nil, nil
	}
	return ParsePublishes(strings.Split(annotation, ","))
}

// PortError says a published port is taken: by another container, or on
// the host, where Call (a bind(2)) failed with Err.
type PortError struct {
	Msg  string
	Call string
	Err  error
}

func (e *PortError) Error() string { return e.Msg }
func (e *PortError) Unwrap() error { return e.Err }

// reservePorts checks that no other container publishes the same host port
// and that nothing on the host is bound to it, and picks the ephemeral ones.
// The DNAT rule does not bind the port, so a program may still bind it later;
// only what is there now is refused.
func reservePorts(ports []Port, networks []*Network) error {
	published := hostPorts{}
	for _, n := range networks {
		for _, l := range n.Leases {
			for _, q := range l.Ports {
				published.add(q, l.Container[:min(12, len(l.Container))])
			}
		}
	}
	for i := range ports {
		p := &ports[i]
		if who, ok := published.taken(*p); ok {
			return &PortError{Msg: fmt.Sprintf("port %d/%s is already published by container %s", p.HostPort, p.Proto, who)}
		}
		addr := net.JoinHostPort(p.HostIP, strconv.Itoa(int(p.HostPort)))
		var bound interface{ Close() error }
		var err error
		if p.Proto == "udp" {
			var c net.PacketConn
			c, err = net.ListenPacket("udp4", addr)
			if err == nil {
				p.HostPort = uint16(c.LocalAddr().(*net.UDPAddr).Port)
			}
			bound = c
		} else {
			var l net.Listener
			l, err = net.Listen("tcp4", addr)
			if err == nil {
				p.HostPort = uint16(l.Addr().(*net.TCPAddr).Port)
			}
			bound = l
		}
		if err != nil {
			var errno syscall.Errno
			if errors.As(err, &errno) {
				err = errno
			}
			return &PortError{Msg: fmt.Sprintf("port %s/%s is in use on the host: %v", addr, p.Proto, err), Call: fmt.Sprintf("bind(%s/%s)", addr, p.Proto), Err: err}
		}
		bound.Close()
	}
	return nil
}
