package engine

// docker network connect and disconnect: a running container on a further
// network — another veth pair, eth1 (eth2, …) inside, an address from that
// network's subnet and no default route (its first network keeps that), and
// its /etc/hosts naming the containers of every network it is on.

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"go.opentelemetry.io/otel/attribute"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/netns"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/trace"
)

// ConnectNetwork puts a running container on network too, known there by
// its name, hostname and aliases.
func (e *Engine) ConnectNetwork(ctx context.Context, c *container.Container, network string, aliases []string) error {
	if !Running(c) || c.Status != container.Running {
		return fmt.Errorf("container %s %w", container.ShortID(c.ID), ErrNotRunning)
	}
	on := netns.NetworksOf(c.ID)
	if len(on) == 0 {
		return &InvalidError{fmt.Errorf("container %s is on no bridge network (--network none, host or another container's): it has no network of its own to add to", container.ShortID(c.ID))}
	}
	if slices.ContainsFunc(on, func(a netns.Attached) bool { return a.Network == network }) {
		return &InvalidError{fmt.Errorf("container %s is on network %s already", container.ShortID(c.ID), network)}
	}
	for _, a := range slices.Concat([]string{c.Name}, aliases) {
		if a != "" && !netns.ValidHostsName(a) {
			return &InvalidError{fmt.Errorf("alias %q cannot go into /etc/hosts: letters, digits, . _ -", a)}
		}
	}
	slot := 0 // eth<slot> inside, the veth's host end VethName + slot
	for i := 1; i < netns.MaxNetworks && slot == 0; i++ {
		if !slices.ContainsFunc(on, func(a netns.Attached) bool { return a.Lease.Iface == "eth"+strconv.Itoa(i) }) {
			slot = i
		}
	}
	if slot == 0 {
		return &InvalidError{fmt.Errorf("container %s is on %d networks, the most glassbox gives one", container.ShortID(c.ID), netns.MaxNetworks)}
	}
	lease := netns.Lease{Container: c.ID, Dir: c.Dir, Name: c.Name, Aliases: aliases, Hostname: c.Spec.Hostname, Hosts: c.Path("hosts"),
		Iface: "eth" + strconv.Itoa(slot), Veth: netns.VethName(c.ID) + strconv.Itoa(slot), Extra: spec.ExtraHostsOf(c.Spec)}
	tr := trace.Lifecycle(ctx, "network connect", c, e.Root)
	step := tr.Steps()
	_, err := netns.Connect(network, lease, c.Pid, nil, step)
	if err == nil {
		for _, a := range on { // their containers' names, in its /etc/hosts
			if err = netns.RefreshHosts(a.Network, step); err != nil {
				break
			}
		}
	}
	if err != nil {
		// Half made (its lease is this connect's): undone as a teardown would.
		netns.Disconnect(network, c.ID, true, step)
	}
	tr.EndLifecycle(err, attribute.String("glassbox.network.name", network))
	if err == nil {
		e.event("network", "connect", network, "container", c.ID, "name", network)
	}
	return err
}

// DisconnectNetwork takes a running container off a network connect put it
// on. Its first network stays: its eth0 carries the default route.
func (e *Engine) DisconnectNetwork(ctx context.Context, c *container.Container, network string) error {
	i := slices.IndexFunc(netns.NetworksOf(c.ID), func(a netns.Attached) bool { return a.Network == network })
	switch {
	case i < 0:
		return &InvalidError{fmt.Errorf("container %s is not on network %s", container.ShortID(c.ID), network)}
	case i == 0:
		return &InvalidError{fmt.Errorf("network %s is container %s's first (its eth0, with the default route): it goes with the container", network, container.ShortID(c.ID))}
	}
	tr := trace.Lifecycle(ctx, "network disconnect", c, e.Root)
	err := netns.Disconnect(network, c.ID, true, tr.Steps())
	tr.EndLifecycle(err, attribute.String("glassbox.network.name", network))
	if err == nil {
		e.event("network", "disconnect", network, "container", c.ID, "name", network)
	}
	return err
}
