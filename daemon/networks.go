package daemon

// The network routes: docker network ls, inspect, create, rm, connect,
// disconnect. glassbox's
// networks are bridges (the driver is always "bridge"), the host's rather
// than a state root's; a network's id is derived from its name and creation
// time (engine.NetworkID), and either names it.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/netip"

	apinetwork "github.com/moby/moby/api/types/network"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
	"github.com/glassbox-dev/glassbox/netns"
)

func networkSummary(n *netns.Network) apinetwork.Network {
	out := apinetwork.Network{Name: n.Name, ID: engine.NetworkID(n), Scope: "local", Driver: "bridge", EnableIPv4: true,
		Options: map[string]string{}, Labels: n.Labels} // no options: compose recreates a network whose options it did not ask for
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	out.Created = n.Created
	cfg := apinetwork.IPAMConfig{}
	cfg.Subnet, _ = netip.ParsePrefix(n.Subnet)
	cfg.Gateway, _ = netip.ParseAddr(n.Gateway)
	out.IPAM = apinetwork.IPAM{Driver: "default", Options: map[string]string{}, Config: []apinetwork.IPAMConfig{cfg}}
	return out
}

// listNetworks: GET /networks?filters={"name":…,"id":…}.
func (s *Server) listNetworks(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r.URL.Query().Get("filters"), "id", "name", "label")
	if err != nil {
		fail(w, err)
		return
	}
	all, err := s.eng.Networks()
	if err != nil {
		fail(w, err)
		return
	}
	out := []apinetwork.Summary{}
	for _, n := range all {
		sum := apinetwork.Summary{Network: networkSummary(n)}
		if f.Match(map[string][]string{"id": {sum.ID}, "name": {sum.Name}, "label": engine.LabelPairs(sum.Labels)}) {
			out = append(out, sum)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// inspectNetwork: GET /networks/{id}, with the containers on it.
func (s *Server) inspectNetwork(w http.ResponseWriter, r *http.Request) {
	n, err := s.eng.Network(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	out := apinetwork.Inspect{Network: networkSummary(n), Containers: map[string]apinetwork.EndpointResource{}}
	prefix := netip.MustParsePrefix(n.Subnet).Bits()
	for ip, l := range n.Leases {
		addr, _ := netip.ParseAddr(ip)
		out.Containers[l.Container] = apinetwork.EndpointResource{Name: l.Name, IPv4Address: netip.PrefixFrom(addr, prefix)}
	}
	writeJSON(w, http.StatusOK, out)
}

// createNetwork: POST /networks/create {Name, Driver, IPAM}.
func (s *Server) createNetwork(w http.ResponseWriter, r *http.Request) {
	var req apinetwork.CreateRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxCreateBody)).Decode(&req); err != nil {
		fail(w, badParam("the network request's body: %v", err))
		return
	}
	for field, set := range map[string]bool{
		"Driver (only bridge)":    req.Driver != "" && req.Driver != "bridge",
		"Internal":                req.Internal,
		"EnableIPv6":              req.EnableIPv6 != nil && *req.EnableIPv6,
		"Options":                 len(req.Options) > 0,
		"ConfigOnly, ConfigFrom":  req.ConfigOnly || req.ConfigFrom != nil,
		"IPAM (one subnet alone)": req.IPAM != nil && (len(req.IPAM.Config) > 1 || len(req.IPAM.Config) == 1 && (req.IPAM.Config[0].IPRange.IsValid() || req.IPAM.Config[0].Gateway.IsValid())),
	} {
		if set {
			fail(w, badParam("%s: not supported by glassbox's networks", field))
			return
		}
	}
	subnet := ""
	if req.IPAM != nil && len(req.IPAM.Config) == 1 {
		subnet = req.IPAM.Config[0].Subnet.String()
	}
	n, err := s.eng.CreateNetwork(req.Name, subnet, req.Labels)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, apinetwork.CreateResponse{ID: engine.NetworkID(n)})
}

// removeNetwork: DELETE /networks/{id}.
func (s *Server) removeNetwork(w http.ResponseWriter, r *http.Request) {
	n, err := s.eng.Network(r.PathValue("id"))
	if err == nil {
		err = s.eng.RemoveNetwork(n.Name)
	}
	if err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// connectNetwork: POST /networks/{id}/connect {Container, EndpointConfig}.
func (s *Server) connectNetwork(w http.ResponseWriter, r *http.Request) {
	var req apinetwork.ConnectRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxCreateBody)).Decode(&req); err != nil {
		fail(w, badParam("the connect request's body: %v", err))
		return
	}
	var aliases []string
	if ep := req.EndpointConfig; ep != nil {
		ipam := ep.IPAMConfig
		if ipam != nil && (ipam.IPv4Address.IsValid() || ipam.IPv6Address.IsValid() || len(ipam.LinkLocalIPs) > 0) || len(ep.Links) > 0 || len(ep.DriverOpts) > 0 {
			fail(w, badParam("EndpointConfig: only Aliases are supported by glassbox's daemon"))
			return
		}
		aliases = ep.Aliases
	}
	s.onNetworkAndContainer(w, r, req.Container, func(n *netns.Network, c *container.Container) error {
		return s.eng.ConnectNetwork(r.Context(), c, n.Name, aliases)
	})
}

// disconnectNetwork: POST /networks/{id}/disconnect {Container, Force}.
func (s *Server) disconnectNetwork(w http.ResponseWriter, r *http.Request) {
	var req apinetwork.DisconnectRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxCreateBody)).Decode(&req); err != nil {
		fail(w, badParam("the disconnect request's body: %v", err))
		return
	}
	s.onNetworkAndContainer(w, r, req.Container, func(n *netns.Network, c *container.Container) error {
		return s.eng.DisconnectNetwork(r.Context(), c, n.Name)
	})
}

// onNetworkAndContainer finds the path's network and the body's container,
// calls do with them, and answers 200 or do's error.
func (s *Server) onNetworkAndContainer(w http.ResponseWriter, r *http.Request, ref string, do func(*netns.Network, *container.Container) error) {
	n, err := s.eng.Network(r.PathValue("id"))
	var c *container.Container
	if err == nil {
		c, err = s.eng.Container(ref)
	}
	if err == nil {
		err = do(n, c)
	}
	if err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
