package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/glassbox-dev/glassbox/netns"
)

// Networks are the host's bridge networks: a subnet, a bridge, the leases of
// the containers on it. They are the host's, not a state root's (netns).

// Networks lists them.
func (e *Engine) Networks() ([]*netns.Network, error) {
	var out []*netns.Network
	err := withNetworks(func(s *netns.Store) (err error) {
		out, err = s.List()
		return err
	})
	return out, err
}

// Network finds one by name, or by id or id prefix (NetworkID).
func (e *Engine) Network(ref string) (*netns.Network, error) {
	all, err := e.Networks()
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		if n.Name == ref {
			return n, nil
		}
	}
	for _, n := range all {
		if len(ref) >= 4 && strings.HasPrefix(NetworkID(n), ref) {
			return n, nil
		}
	}
	var n *netns.Network
	err = withNetworks(func(s *netns.Store) (err error) {
		n, err = s.Get(ref) // the default network is made on first use
		return err
	})
	return n, err
}

// NetworkID is the id the Engine API shows for a network: its name and
// creation time, hashed (glassbox names networks by name alone).
func NetworkID(n *netns.Network) string {
	sum := sha256.Sum256([]byte(n.Name + "\x00" + n.Created.String()))
	return hex.EncodeToString(sum[:])
}

// CreateNetwork makes a network; its subnet is picked from a pool unless one
// is given.
func (e *Engine) CreateNetwork(name, subnet string, labels map[string]string) (*netns.Network, error) {
	var n *netns.Network
	err := withNetworks(func(s *netns.Store) (err error) {
		n, err = s.Create(name, subnet, labels)
		return err
	})
	if err == nil {
		e.event("network", "create", NetworkID(n), "name", n.Name, "type", "bridge")
	}
	return n, err
}

// RemoveNetwork removes a network no container uses, and its bridge and NAT
// rules.
func (e *Engine) RemoveNetwork(name string) error {
	return withNetworks(func(s *netns.Store) error {
		n, err := s.Get(name)
		if err == nil {
			err = s.Remove(name)
		}
		if err == nil {
			e.event("network", "destroy", NetworkID(n), "name", n.Name, "type", "bridge")
		}
		return err
	})
}

// withNetworks runs f with the network store locked.
func withNetworks(f func(*netns.Store) error) error {
	s, err := netns.OpenStore()
	if err != nil {
		return err
	}
	defer s.Close()
	return f(s)
}
