package daemon

// The system routes: _ping (how a client learns the API version), version
// and info.

import (
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"

	"github.com/glassbox-dev/glassbox/engine"
)

// ping: GET or HEAD /_ping. The headers carry the answer (API-Version,
// OSType); the body is "OK".
func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Docker-Experimental", "false")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", "0")
		return
	}
	w.Write([]byte("OK"))
}

// versionInfo: GET /version.
func (s *Server) versionInfo(w http.ResponseWriter, r *http.Request) {
	commit, built := buildVCS()
	writeJSON(w, http.StatusOK, system.VersionResponse{
		GitCommit:     commit,
		BuildTime:     built,
		Platform:      system.PlatformInfo{Name: "glassbox"},
		Version:       s.version,
		APIVersion:    APIVersion,
		MinAPIVersion: MinAPIVersion,
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		GoVersion:     runtime.Version(),
		KernelVersion: engine.KernelRelease(),
		Components: []system.ComponentVersion{{
			Name: "Engine", Version: s.version,
			Details: map[string]string{"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion, "Os": runtime.GOOS, "Arch": runtime.GOARCH,
				"KernelVersion": engine.KernelRelease(), "GoVersion": runtime.Version(), "GitCommit": s.version, "Experimental": "false"},
		}},
	})
}

// buildVCS is the commit glassbox was built from and its time, as go build
// -buildvcs recorded them ("unknown" and "" when it did not).
func buildVCS() (commit, time string) {
	commit = "unknown"
	info, _ := debug.ReadBuildInfo()
	if info == nil {
		return commit, ""
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value[:min(12, len(s.Value))]
		case "vcs.time":
			time = s.Value
		}
	}
	return commit, time
}

// info: GET /info — what `docker info` prints.
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	in, err := s.eng.Info()
	if err != nil {
		fail(w, err)
		return
	}
	info := system.Info{
		ID:                "glassbox",
		Containers:        in.Containers,
		ContainersRunning: in.Running,
		ContainersPaused:  in.Paused,
		ContainersStopped: in.Stopped,
		Images:            in.Images,
		Driver:            in.StorageDriver,
		DriverStatus:      [][2]string{{"Kernel observer", in.ObserverMode}, {"Cgroup mode", in.CgroupMode}},
		MemoryLimit:       true,
		SwapLimit:         true,
		CPUCfsPeriod:      true,
		CPUCfsQuota:       true,
		CPUShares:         true,
		CPUSet:            true,
		PidsLimit:         true,
		IPv4Forwarding:    true,
		NFd:               openFiles(),
		NGoroutines:       runtime.NumGoroutine(),
		SystemTime:        time.Now().Format(time.RFC3339Nano),
		LoggingDriver:     "json-file",
		CgroupDriver:      "cgroupfs",
		CgroupVersion:     in.CgroupVersion,
		KernelVersion:     in.Kernel,
		OperatingSystem:   in.OperatingSystem,
		OSType:            runtime.GOOS,
		Architecture:      in.Architecture,
		NCPU:              in.CPUs,
		MemTotal:          in.Memory,
		DockerRootDir:     in.Root,
		ServerVersion:     s.version,
		DefaultRuntime:    "glassbox",
		Runtimes:          map[string]system.RuntimeWithStatus{"glassbox": {Runtime: system.Runtime{Path: "glassbox-runc"}}},
		SecurityOptions:   []string{"name=seccomp,profile=builtin", "name=no-new-privileges"},
		Labels:            []string{},
		Warnings:          []string{},
		// The containers outlive the daemon: each is held by its monitor.
		LiveRestoreEnabled: true,
		Plugins: system.PluginsInfo{Network: []string{"bridge", "host", "none"}, Log: []string{"json-file"},
			Volume: []string{}, Authorization: []string{}},
	}
	info.Swarm.LocalNodeState = swarm.LocalNodeStateInactive
	info.Name, _ = os.Hostname()
	writeJSON(w, http.StatusOK, info)
}

func openFiles() int {
	fds, _ := os.ReadDir("/proc/self/fd")
	return len(fds)
}
