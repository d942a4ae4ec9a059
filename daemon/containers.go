package daemon

// The container routes: list, inspect, stop, kill, wait, remove. Each decodes
// its parameters, makes one engine call, and encodes the answer in the
// Engine API's own types (moby's api module).

import (
	"cmp"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/storage"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
	"github.com/glassbox-dev/glassbox/netns"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/trace"
	"github.com/glassbox-dev/glassbox/volume"
)

func (s *Server) routes() {
	s.handle("GET /_ping", s.ping)
	s.handle("HEAD /_ping", s.ping)
	s.handle("GET /version", s.versionInfo)
	s.handle("GET /info", s.info)
	s.handle("GET /events", s.events)
	s.handle("GET /containers/json", s.listContainers)
	s.handle("POST /containers/create", s.createContainer)
	s.handle("POST /containers/prune", s.pruneContainers)
	s.handle("POST /images/prune", s.pruneImages)
	s.handle("POST /networks/prune", s.pruneNetworks)
	s.handle("POST /build/prune", s.pruneBuildCache)
	s.handle("POST /containers/{id}/start", s.startContainer)
	s.handle("POST /containers/{id}/attach", s.attachContainer)
	s.handle("POST /containers/{id}/resize", s.resizeContainer)
	s.handle("GET /containers/{id}/logs", s.containerLogs)
	s.handle("GET /containers/{id}/top", s.topContainer)
	s.handle("HEAD /containers/{id}/archive", s.archiveRoute)
	s.handle("GET /containers/{id}/archive", s.archiveRoute)
	s.handle("PUT /containers/{id}/archive", s.archiveRoute)
	s.handle("GET /containers/{id}/export", s.exportContainer)
	s.handle("GET /containers/{id}/stats", s.containerStats)
	s.handle("POST /containers/{id}/exec", s.createExec)
	s.handle("POST /exec/{id}/start", s.startExec)
	s.handle("GET /exec/{id}/json", s.inspectExec)
	s.handle("POST /exec/{id}/resize", s.resizeExec)
	s.handle("GET /containers/{id}/json", s.inspectContainer)
	s.handle("POST /containers/{id}/stop", s.stopContainer)
	s.handle("POST /containers/{id}/restart", s.restartContainer)
	s.handle("POST /containers/{id}/kill", s.killContainer)
	s.handle("POST /containers/{id}/pause", s.pauseContainer)
	s.handle("POST /containers/{id}/unpause", s.unpauseContainer)
	s.handle("POST /containers/{id}/rename", s.renameContainer)
	s.handle("POST /containers/{id}/wait", s.waitContainer)
	s.handle("DELETE /containers/{id}", s.removeContainer)
	s.handle("GET /images/json", s.listImages)
	s.handle("POST /images/create", s.pullImage)
	s.handle("GET /images/get", s.saveImages)
	s.handle("POST /commit", s.commitContainer)
	s.handle("POST /images/load", s.loadImages)
	s.handle("/images/{rest...}", s.imageRoute)
	s.handle("GET /networks", s.listNetworks)
	s.handle("POST /networks/create", s.createNetwork)
	s.handle("GET /networks/{id}", s.inspectNetwork)
	s.handle("DELETE /networks/{id}", s.removeNetwork)
	s.handle("POST /networks/{id}/connect", s.connectNetwork)
	s.handle("POST /networks/{id}/disconnect", s.disconnectNetwork)
	s.handle("GET /volumes", s.listVolumes)
	s.handle("POST /volumes/create", s.createVolume)
	s.handle("POST /volumes/prune", s.pruneVolumes)
	s.handle("GET /volumes/{name}", s.inspectVolume)
	s.handle("DELETE /volumes/{name}", s.removeVolume)
	s.handle("GET /plugins/{name}/json", s.inspectOther)
	s.mux.HandleFunc("/", s.notServed)
}

// notServed answers 501, not dockerd's 404 for an unknown page: to a 404 on
// create the docker CLI answers by pulling the image, and then fails on that.
func (s *Server) notServed(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotImplemented, errors.New("glassbox's daemon does not serve "+r.Method+" "+r.URL.Path+" yet (docs/daemon.md lists what it serves)"))
}

// handle routes pattern ("METHOD /path") to h, with the request in its
// context for the trace of the command it leads to.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	route := pattern[strings.Index(pattern, " ")+1:] // a method first, if one
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h(w, r.WithContext(trace.WithRequest(r.Context(), &trace.Request{Method: r.Method, Route: route, Header: r.Header})))
	})
}

// listContainers: GET /containers/json?all=1&limit=N&filters={…}.
func (s *Server) listContainers(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r.URL.Query().Get("filters"), "id", "name", "status", "label", "health")
	if err != nil {
		fail(w, err)
		return
	}
	cs, err := s.eng.Containers(boolParam(r, "all") || f.Has("status"))
	if err != nil {
		fail(w, err)
		return
	}
	// Newest first, as dockerd lists them.
	out := []apicontainer.Summary{}
	for i := len(cs) - 1; i >= 0; i-- {
		sum := summary(cs[i])
		if f.Match(map[string][]string{"id": {sum.ID}, "name": sum.Names, "status": {string(sum.State)}, "label": engine.LabelPairs(sum.Labels), "health": {engine.HealthStatus(cs[i])}}) {
			out = append(out, sum)
		}
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && n < len(out) {
		out = out[:n]
	}
	writeJSON(w, http.StatusOK, out)
}

// state is a container's state in the API's words.
func state(c *container.Container) apicontainer.ContainerState {
	switch {
	case c.Breakpoint != "":
		return apicontainer.StatePaused // between stages, at a breakpoint
	case c.Status == container.Running && engine.Paused(c):
		return apicontainer.StatePaused // frozen (docker pause)
	case c.Status == container.Running && !c.Alive():
		return apicontainer.StateDead
	case c.Status == container.Running:
		return apicontainer.StateRunning
	case c.Status == container.Exited && c.Restarting:
		return apicontainer.StateRestarting
	case c.Status == container.Exited:
		return apicontainer.StateExited
	}
	return apicontainer.StateCreated
}

func summary(c *container.Container) apicontainer.Summary {
	sum := apicontainer.Summary{
		ID:      c.ID,
		Image:   engine.Image(c),
		Command: engine.Command(c),
		Created: c.Created.Unix(),
		State:   state(c),
		Status:  engine.Status(c),
		Ports:   portSummaries(c),
		Labels:  labels(c),
	}
	if c.Name != "" {
		sum.Names = []string{"/" + c.Name}
	}
	sum.HostConfig.NetworkMode = networkMode(c)
	if h := c.Health(); h != nil {
		sum.Health = &apicontainer.HealthSummary{Status: apicontainer.HealthStatus(h.Status), FailingStreak: h.FailingStreak}
	}
	return sum
}

func networkMode(c *container.Container) string {
	if c.Spec == nil {
		return "none" // a record cut short: nothing is known of its network
	}
	return cmp.Or(c.Spec.Annotations[spec.NetworkAnnotation], "none")
}

func portSummaries(c *container.Container) []apicontainer.PortSummary {
	out := []apicontainer.PortSummary{}
	ports, _ := netns.ParsePorts(c.Ports)
	for _, p := range ports {
		ps := apicontainer.PortSummary{PrivatePort: p.ContainerPort, PublicPort: p.HostPort, Type: p.Proto}
		ps.IP, _ = netip.ParseAddr(cmp.Or(p.HostIP, "0.0.0.0"))
		out = append(out, ps)
	}
	return out
}

// inspectContainer: GET /containers/{id}/json.
func (s *Server) inspectContainer(w http.ResponseWriter, r *http.Request) {
	c, err := s.eng.Container(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.inspect(c))
}

func (s *Server) inspect(c *container.Container) apicontainer.InspectResponse {
	st := state(c)
	out := apicontainer.InspectResponse{
		ID:           c.ID,
		Created:      c.Created.Format(time.RFC3339Nano),
		Image:        engine.Image(c),
		Name:         "/" + c.Name,
		Driver:       "overlay",
		RestartCount: c.RestartCount,
		State: &apicontainer.State{
			Status:     st,
			Running:    st == apicontainer.StateRunning,
			Paused:     st == apicontainer.StatePaused,
			Dead:       st == apicontainer.StateDead,
			Restarting: st == apicontainer.StateRestarting,
			OOMKilled:  c.OOMKilled,
			ExitCode:   c.ExitCode,
			StartedAt:  timeOrZero(c.Started),
			FinishedAt: timeOrZero(c.Finished),
		},
		Config:     &apicontainer.Config{Labels: labels(c)},
		HostConfig: &apicontainer.HostConfig{NetworkMode: apicontainer.NetworkMode(networkMode(c)), LogConfig: logConfig(c)},
		NetworkSettings: &apicontainer.NetworkSettings{
			Ports:    network.PortMap{},
			Networks: map[string]*network.EndpointSettings{},
		},
		Mounts: []apicontainer.MountPoint{},
	}
	if st == apicontainer.StateRunning {
		out.State.Pid = c.Pid
	}
	if c.Spec != nil && c.Spec.Process != nil {
		p := c.Spec.Process
		if len(p.Args) > 0 {
			out.Path, out.Args = p.Args[0], p.Args[1:]
		}
		out.Config.Cmd, out.Config.Env, out.Config.WorkingDir, out.Config.Tty = p.Args, p.Env, p.Cwd, p.Terminal
		out.Config.Hostname, out.Config.Image = c.Spec.Hostname, engine.Image(c)
		out.Config.User = c.Spec.Annotations[spec.UserAnnotation]
		stdin := c.Spec.Annotations[engine.StdinAnnotation]
		out.Config.OpenStdin, out.Config.StdinOnce = stdin != "", stdin == engine.StdinOnce
		out.GraphDriver = overlayData(c)
		out.Mounts = s.mountPoints(c)
		sig, wait := spec.StopOf(c.Spec)
		seconds := int(wait / time.Second)
		out.Config.StopSignal, out.Config.StopTimeout = unix.SignalName(sig), &seconds
		if h := spec.HealthcheckOf(c.Spec); h != nil {
			out.Config.Healthcheck = &apicontainer.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
				StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
		}
		if h := c.Health(); h != nil {
			out.State.Health = &apicontainer.Health{Status: apicontainer.HealthStatus(h.Status), FailingStreak: h.FailingStreak, Log: []*apicontainer.HealthcheckResult{}}
			for _, r := range h.Log {
				out.State.Health.Log = append(out.State.Health.Log, &apicontainer.HealthcheckResult{Start: r.Start, End: r.End, ExitCode: r.ExitCode, Output: r.Output})
			}
		}
		if p, err := spec.ParseRestart(c.Spec.Annotations[spec.RestartAnnotation]); err == nil {
			out.HostConfig.RestartPolicy = apicontainer.RestartPolicy{Name: apicontainer.RestartPolicyMode(p.Name), MaximumRetryCount: p.MaxRetries}
		}
	}
	// Its bridge network, even before it runs (then without an address): its
	// aliases there, with its short id, as dockerd gives on user networks.
	if mode := networkMode(c); mode != "none" && mode != "host" && !strings.HasPrefix(mode, "container:") {
		ep := &network.EndpointSettings{Aliases: []string{container.ShortID(c.ID)}}
		if aliases := c.Spec.Annotations[spec.AliasesAnnotation]; aliases != "" {
			ep.Aliases = append(strings.Split(aliases, ","), ep.Aliases...)
		}
		ep.IPAddress, _ = netip.ParseAddr(c.IP)
		out.NetworkSettings.Networks[mode] = ep
		// The networks docker network connect added, while it runs.
		if st == apicontainer.StateRunning || st == apicontainer.StatePaused {
			on := netns.NetworksOf(c.ID)
			for _, a := range on[min(1, len(on)):] {
				ep := &network.EndpointSettings{Aliases: append(slices.Clone(a.Lease.Aliases), container.ShortID(c.ID))}
				ep.IPAddress, _ = netip.ParseAddr(a.IP)
				out.NetworkSettings.Networks[a.Network] = ep
			}
		}
	}
	ports, _ := netns.ParsePorts(c.Ports)
	for _, p := range ports {
		key, err := network.ParsePort(strconv.Itoa(int(p.ContainerPort)) + "/" + p.Proto)
		if err != nil {
			continue
		}
		hostIP, _ := netip.ParseAddr(cmp.Or(p.HostIP, "0.0.0.0"))
		out.NetworkSettings.Ports[key] = append(out.NetworkSettings.Ports[key], network.PortBinding{HostIP: hostIP, HostPort: strconv.Itoa(int(p.HostPort))})
	}
	return out
}

// mountPoints are the container's -v mounts: named volumes and host paths
// (not the /etc files glassbox binds from its state directory).
func (s *Server) mountPoints(c *container.Container) []apicontainer.MountPoint {
	out := []apicontainer.MountPoint{}
	volumes := volume.Dir(s.eng.Root) + "/"
	for _, m := range c.Spec.Mounts {
		if m.Type != "bind" || strings.HasPrefix(m.Source, c.Dir+"/") {
			continue
		}
		mp := apicontainer.MountPoint{Type: mount.TypeBind, Source: m.Source, Destination: m.Destination, RW: !slices.Contains(m.Options, "ro"), Mode: "rw"}
		if !mp.RW {
			mp.Mode = "ro"
		}
		if rest, ok := strings.CutPrefix(m.Source, volumes); ok {
			mp.Type, mp.Name, mp.Driver = mount.TypeVolume, strings.TrimSuffix(rest, "/_data"), "local"
		}
		out = append(out, mp)
	}
	return out
}

// overlayData is the container's overlay as dockerd's overlay2 describes
// one: the image's layers (top first), the writable layer, its work
// directory, and where they are merged (the rootfs stage's mount).
func overlayData(c *container.Container) *storage.DriverData {
	if c.OCI || c.Spec.Root == nil {
		return nil // root.path in place: no overlay
	}
	lower := c.Spec.Root.Path
	if more := c.Spec.Annotations[spec.LowerDirsAnnotation]; more != "" {
		lower += ":" + more
	}
	return &storage.DriverData{Name: "overlay2", Data: map[string]string{
		"LowerDir": lower, "UpperDir": c.Path("upper"), "WorkDir": c.Path("work"), "MergedDir": c.Path("rootfs"),
	}}
}

func timeOrZero(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.Format(time.RFC3339Nano)
}

// pauseContainer: POST /containers/{id}/pause.
func (s *Server) pauseContainer(w http.ResponseWriter, r *http.Request) {
	s.onContainer(w, r, func(c *container.Container) error { return s.eng.Pause(r.Context(), c) })
}

// unpauseContainer: POST /containers/{id}/unpause.
func (s *Server) unpauseContainer(w http.ResponseWriter, r *http.Request) {
	s.onContainer(w, r, func(c *container.Container) error { return s.eng.Unpause(r.Context(), c) })
}

// renameContainer: POST /containers/{id}/rename?name=NEW.
func (s *Server) renameContainer(w http.ResponseWriter, r *http.Request) {
	s.onContainer(w, r, func(c *container.Container) error { return s.eng.Rename(c, r.URL.Query().Get("name")) })
}

// onContainer finds the path's container, calls do with it, and answers 204
// or do's error.
func (s *Server) onContainer(w http.ResponseWriter, r *http.Request, do func(*container.Container) error) {
	c, err := s.eng.Container(r.PathValue("id"))
	if err == nil {
		err = do(c)
	}
	if err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// stopContainer: POST /containers/{id}/stop?t=SECONDS (304 if not running).
func (s *Server) stopContainer(w http.ResponseWriter, r *http.Request) {
	c, err := s.eng.Container(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	grace, err := stopGraceParam(r)
	if err != nil {
		fail(w, err)
		return
	}
	if !engine.Running(c) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if err := s.eng.Stop(r.Context(), c, grace); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// killContainer: POST /containers/{id}/kill?signal=SIG (default SIGKILL).
func (s *Server) killContainer(w http.ResponseWriter, r *http.Request) {
	sig, err := spec.ParseSignal(cmp.Or(r.URL.Query().Get("signal"), "KILL"))
	if err != nil {
		fail(w, badParam("signal %w", err))
		return
	}
	s.onContainer(w, r, func(c *container.Container) error { return s.eng.Kill(r.Context(), c, sig) })
}

// waitContainer: POST /containers/{id}/wait?condition=not-running|next-exit|removed.
// The status line goes out at once (a client knows its wait is in place),
// the exit code when the container's glassbox lets go of it.
func (s *Server) waitContainer(w http.ResponseWriter, r *http.Request) {
	c, err := s.eng.Container(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	switch apicontainer.WaitCondition(cmp.Or(r.URL.Query().Get("condition"), "not-running")) {
	case apicontainer.WaitConditionNotRunning, apicontainer.WaitConditionNextExit, apicontainer.WaitConditionRemoved:
	default:
		fail(w, badParam("condition %q: not-running, next-exit or removed", r.URL.Query().Get("condition")))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	http.NewResponseController(w).Flush()
	code, err := s.eng.Wait(r.Context(), c)
	if r.Context().Err() != nil {
		return // the client left
	}
	resp := apicontainer.WaitResponse{StatusCode: int64(code)}
	if err != nil {
		resp.Error = &apicontainer.WaitExitError{Message: err.Error()}
	}
	json.NewEncoder(w).Encode(resp)
}

// removeContainer: DELETE /containers/{id}?force=1.
func (s *Server) removeContainer(w http.ResponseWriter, r *http.Request) {
	if err := s.eng.Remove(r.Context(), r.PathValue("id"), boolParam(r, "force")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// topContainer: GET /containers/{id}/top — docker top: its cgroup's
// processes, in ps -ef's columns.
func (s *Server) topContainer(w http.ResponseWriter, r *http.Request) {
	if args := r.URL.Query().Get("ps_args"); args != "" {
		fail(w, badParam("ps_args %q: glassbox reads the processes from /proc, not from ps; leave the options out", args))
		return
	}
	c, err := s.eng.Container(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	procs, err := s.eng.Top(c)
	if err != nil {
		fail(w, err)
		return
	}
	out := apicontainer.TopResponse{Titles: []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}, Processes: [][]string{}}
	for _, p := range procs {
		out.Processes = append(out.Processes, []string{p.UID, strconv.Itoa(p.Pid), strconv.Itoa(p.PPid), "0",
			p.Start.Format("15:04"), "?", engine.CPUTime(p.CPU), p.Command})
	}
	writeJSON(w, http.StatusOK, out)
}

// restartContainer: POST /containers/{id}/restart?t=SECONDS — stop (if it
// runs), then start through every stage again.
func (s *Server) restartContainer(w http.ResponseWriter, r *http.Request) {
	c, err := s.eng.Container(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	grace, err := stopGraceParam(r)
	if err != nil {
		fail(w, err)
		return
	}
	if err := s.eng.Restart(r.Context(), c, grace); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// stopGraceParam reads ?t=SECONDS (-1: no SIGKILL; none: the container's
// StopTimeout, else 10).
func stopGraceParam(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("t")
	if v == "" {
		return engine.ContainerGrace, nil // its StopTimeout, else 10 s
	}
	seconds, err := strconv.Atoi(v)
	if err != nil {
		return 0, badParam("t %q: expected a number of seconds", v)
	}
	grace, err := engine.StopGrace(seconds)
	if err != nil {
		return 0, badParam("t %w", err)
	}
	return grace, nil
}

// labels are a container's labels, never null in an answer.
func labels(c *container.Container) map[string]string {
	if c.Labels == nil {
		return map[string]string{}
	}
	return c.Labels
}

// logConfig is the container's --log-driver and --log-opt, as given.
func logConfig(c *container.Container) apicontainer.LogConfig {
	cfg, _ := spec.LogConfigOf(c.Spec)
	out := apicontainer.LogConfig{Type: cfg.Driver, Config: map[string]string{}}
	maps.Copy(out.Config, cfg.Opts)
	return out
}
