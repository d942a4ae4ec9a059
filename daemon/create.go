package daemon

// POST /containers/create and POST /containers/{id}/start: docker create,
// docker start, and docker run -d, which is both. The request's Config and
// HostConfig become the same run options `glassbox run`'s flags make, so both
// front ends make the same Spec. A field glassbox cannot honour is refused by
// name, never ignored.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	apicontainer "github.com/moby/moby/api/types/container"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
	"github.com/glassbox-dev/glassbox/spec"
)

// maxCreateBody bounds a create request's JSON: a real one is a few KiB.
const maxCreateBody = 1 << 20

// createContainer: POST /containers/create?name=NAME.
func (s *Server) createContainer(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Query().Get("name"), "/")
	if name != "" && !container.ValidName(name) {
		fail(w, badParam("name %q: a name is letters, digits, _ . - (not first), at most 64", name))
		return
	}
	var req apicontainer.CreateRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCreateBody+1))
	if err == nil && len(body) > maxCreateBody {
		err = fmt.Errorf("larger than %d MiB", maxCreateBody>>20)
	}
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		fail(w, badParam("the create request's body: %v", err))
		return
	}
	if req.Config == nil || req.Config.Image == "" {
		fail(w, badParam("Config.Image: no image named"))
		return
	}
	o, autoRemove, err := runOptions(req)
	if err != nil {
		fail(w, err)
		return
	}
	if o.Image, err = s.eng.ResolveImage(req.Config.Image); err != nil {
		fail(w, imageError(req.Config.Image, err)) // on a 404, the docker CLI pulls, and creates again
		return
	}
	co := engine.CreateOptions{Name: name, Labels: req.Config.Labels, AutoRemove: autoRemove}
	if req.Config.OpenStdin {
		co.Stdin = engine.StdinOpen
		if req.Config.StdinOnce {
			co.Stdin = engine.StdinOnce
		}
	}
	c, err := s.eng.Create(o, co)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, apicontainer.CreateResponse{ID: c.ID, Warnings: []string{}})
}

// runOptions maps a create request onto `glassbox run`'s options.
func runOptions(req apicontainer.CreateRequest) (spec.RunOptions, bool, error) {
	cfg, hc := req.Config, req.HostConfig
	if hc == nil {
		hc = &apicontainer.HostConfig{}
	}
	if err := unsupported(cfg, hc); err != nil {
		return spec.RunOptions{}, false, err
	}
	o := spec.RunOptions{
		Args: cfg.Cmd, Env: cfg.Env, Workdir: cfg.WorkingDir, User: cfg.User, Hostname: cfg.Hostname, Terminal: cfg.Tty,
		StopSignal: cfg.StopSignal, StopTimeout: cfg.StopTimeout, AddHosts: hc.ExtraHosts,
		DNSSearch: hc.DNSSearch, DNSOptions: hc.DNSOptions,
		Volumes: hc.Binds, ReadOnly: hc.ReadonlyRootfs, Network: string(hc.NetworkMode), PublishAll: hc.PublishAllPorts,
		CgroupParent: hc.CgroupParent, PidsLimit: ptrValue(hc.PidsLimit), CPUShares: hc.CPUShares, CpusetCpus: hc.CpusetCpus,
	}
	// "default" and "bridge" are the default network, which "" means here.
	defaultNetwork := func(n string) string {
		if n == "default" || n == "bridge" {
			return ""
		}
		return n
	}
	o.Network = defaultNetwork(o.Network)
	// The network's endpoint: its aliases (compose gives a service's name so).
	// One network per container, the one NetworkMode names.
	if nc := req.NetworkingConfig; nc != nil {
		for name, ep := range nc.EndpointsConfig {
			if o.Network == "" {
				o.Network = defaultNetwork(name)
			}
			if defaultNetwork(name) != o.Network {
				return o, false, badParam("NetworkingConfig: %s besides %s: a container is on one network in glassbox", name, cmp.Or(o.Network, "bridge"))
			}
			if ep != nil {
				ipam := ep.IPAMConfig
				if ipam != nil && (ipam.IPv4Address.IsValid() || ipam.IPv6Address.IsValid() || len(ipam.LinkLocalIPs) > 0) || len(ep.Links) > 0 || len(ep.DriverOpts) > 0 {
					return o, false, badParam("NetworkingConfig.EndpointsConfig[%s]: only Aliases are supported by glassbox's daemon", name)
				}
				o.Aliases = ep.Aliases
			}
		}
	}
	// An entrypoint of several words: the first is the program (--entrypoint
	// takes one), the rest go before Cmd. An empty one clears the image's.
	if cfg.Entrypoint != nil {
		program := ""
		if len(cfg.Entrypoint) > 0 {
			program = cfg.Entrypoint[0]
			o.Args = append(slices.Clone(cfg.Entrypoint[1:]), cfg.Cmd...)
		}
		o.Entrypoint = &program
	}
	o.Init = hc.Init != nil && *hc.Init
	o.LogDriver, o.LogOpts = hc.LogConfig.Type, hc.LogConfig.Config
	if cfg.Healthcheck != nil {
		o.Health = healthOptions(cfg.Healthcheck)
	}
	for _, d := range hc.DNS {
		o.DNS = append(o.DNS, d.String())
	}
	if p := hc.RestartPolicy; p.Name != "" && p.Name != "no" {
		if hc.AutoRemove {
			return o, false, badParam("HostConfig.RestartPolicy %s with AutoRemove: a container removed when it exits has nothing to restart", p.Name)
		}
		o.Restart = string(p.Name)
		if p.MaximumRetryCount != 0 { // spec.ParseRestart checks it, and that on-failure alone takes one
			o.Restart += ":" + strconv.Itoa(p.MaximumRetryCount)
		}
	}
	if hc.Memory > 0 {
		o.Memory = strconv.FormatInt(hc.Memory, 10)
	}
	if hc.MemorySwap != 0 {
		o.MemorySwap = strconv.FormatInt(hc.MemorySwap, 10)
	}
	if hc.NanoCPUs > 0 {
		o.CPUs = strconv.FormatFloat(float64(hc.NanoCPUs)/1e9, 'f', -1, 64)
	}
	for _, m := range hc.Mounts {
		if m.BindOptions != nil && (m.BindOptions.Propagation != "" || m.BindOptions.NonRecursive) || m.VolumeOptions != nil && (m.VolumeOptions.NoCopy || m.VolumeOptions.DriverConfig != nil || len(m.VolumeOptions.Labels) > 0) {
			return o, false, badParam("HostConfig.Mounts %s: only type, source, target, readonly and tmpfs size and mode are supported by glassbox's daemon", m.Target)
		}
		fm := spec.Mount{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		if t := m.TmpfsOptions; t != nil {
			fm.TmpfsSize, fm.TmpfsMode = t.SizeBytes, uint32(t.Mode.Perm())
		}
		if err := fm.Apply(&o); err != nil {
			return o, false, badParam("HostConfig.Mounts: %v", err)
		}
	}
	for path, opts := range hc.Tmpfs {
		o.Tmpfs = append(o.Tmpfs, strings.TrimSuffix(path+":"+opts, ":"))
	}
	slices.Sort(o.Tmpfs)
	for port, bindings := range hc.PortBindings {
		for _, b := range bindings {
			p := b.HostPort + ":" + strconv.Itoa(int(port.Num())) + "/" + string(port.Proto())
			if b.HostIP.IsValid() && !b.HostIP.IsUnspecified() {
				p = b.HostIP.String() + ":" + p
			}
			o.Publish = append(o.Publish, p)
		}
	}
	slices.Sort(o.Publish)
	o.SecurityOptions = spec.SecurityOptions{CapAdd: hc.CapAdd, CapDrop: hc.CapDrop, Privileged: hc.Privileged,
		SecurityOpt: hc.SecurityOpt, GroupAdd: hc.GroupAdd, Userns: string(hc.UsernsMode)}
	for _, d := range hc.Devices {
		o.Devices = append(o.Devices, strings.Join([]string{d.PathOnHost, d.PathInContainer, d.CgroupPermissions}, ":"))
	}
	for _, u := range hc.Ulimits {
		o.Ulimits = append(o.Ulimits, fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard))
	}
	return o, hc.AutoRemove, nil
}

func ptrValue(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// healthOptions are Config.Healthcheck's fields as --health-* flags: an
// empty Test or a zero value keeps the image's, ["NONE"] turns it off.
func healthOptions(h *apicontainer.HealthConfig) spec.HealthOptions {
	if len(h.Test) == 1 && h.Test[0] == "NONE" {
		return spec.HealthOptions{None: true}
	}
	var o spec.HealthOptions
	if len(h.Test) > 0 {
		o.Test = h.Test
	}
	for _, d := range []struct {
		v    time.Duration
		into **time.Duration
	}{{h.Interval, &o.Interval}, {h.Timeout, &o.Timeout}, {h.StartPeriod, &o.StartPeriod}, {h.StartInterval, &o.StartInterval}} {
		if d.v != 0 {
			*d.into = &d.v
		}
	}
	if h.Retries != 0 {
		o.Retries = &h.Retries
	}
	return o
}

// unsupported refuses, by field, what the request asks and glassbox does not
// do yet; zero values (the CLI sends every field) are fine.
func unsupported(cfg *apicontainer.Config, hc *apicontainer.HostConfig) error {
	for field, set := range map[string]bool{
		"HostConfig.VolumesFrom": len(hc.VolumesFrom) > 0,
		"HostConfig.Links":       len(hc.Links) > 0,
		"HostConfig.PidMode":     hc.PidMode != "",
		"HostConfig.IpcMode":     hc.IpcMode != "" && hc.IpcMode != "private" && hc.IpcMode != "shareable",
		"HostConfig.UTSMode":     hc.UTSMode != "",
		"HostConfig.Sysctls":     len(hc.Sysctls) > 0,
		"HostConfig.Runtime":     hc.Runtime != "" && hc.Runtime != "glassbox",
	} {
		if set {
			return badParam("%s: not supported by glassbox's daemon yet", field)
		}
	}
	return nil
}

// startContainer: POST /containers/{id}/start (304 if running already).
func (s *Server) startContainer(w http.ResponseWriter, r *http.Request) {
	c, err := s.eng.Container(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	if c.Status == container.Running && c.Alive() {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if err := s.eng.Start(r.Context(), c); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
