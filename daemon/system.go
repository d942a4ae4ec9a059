package daemon

// The system routes: _ping (how a client learns the API version), version
// and info.

import (
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/image"
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

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
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
		KernelVersion: kernelRelease(),
		Components: []system.ComponentVersion{{
			Name: "Engine", Version: s.version,
			Details: map[string]string{"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion, "Os": runtime.GOOS, "Arch": runtime.GOARCH,
				"KernelVersion": kernelRelease(), "GoVersion": runtime.Version(), "GitCommit": s.version, "Experimental": "false"},
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
	cs, err := s.eng.Containers(true)
	if err != nil {
		fail(w, err)
		return
	}
	info := system.Info{
		ID:              "glassbox",
		Containers:      len(cs),
		Driver:          "overlay",
		DriverStatus:    [][2]string{},
		SystemStatus:    nil,
		MemoryLimit:     true,
		SwapLimit:       true,
		CPUCfsPeriod:    true,
		CPUCfsQuota:     true,
		CPUShares:       true,
		CPUSet:          true,
		PidsLimit:       true,
		IPv4Forwarding:  true,
		NFd:             openFiles(),
		NGoroutines:     runtime.NumGoroutine(),
		SystemTime:      time.Now().Format(time.RFC3339Nano),
		LoggingDriver:   "json-file",
		CgroupDriver:    "cgroupfs",
		KernelVersion:   kernelRelease(),
		OperatingSystem: operatingSystem(),
		OSType:          runtime.GOOS,
		Architecture:    architecture(),
		NCPU:            runtime.NumCPU(),
		MemTotal:        memTotal(),
		DockerRootDir:   s.eng.Root,
		ServerVersion:   s.version,
		DefaultRuntime:  "glassbox",
		Runtimes:        map[string]system.RuntimeWithStatus{"glassbox": {Runtime: system.Runtime{Path: "glassbox-runc"}}},
		SecurityOptions: []string{"name=seccomp,profile=builtin", "name=no-new-privileges"},
		Labels:          []string{},
		Warnings:        []string{},
		// The containers outlive the daemon: each is held by its monitor.
		LiveRestoreEnabled: true,
		Plugins: system.PluginsInfo{Network: []string{"bridge", "host", "none"}, Log: []string{"json-file"},
			Volume: []string{}, Authorization: []string{}},
	}
	info.Swarm.LocalNodeState = swarm.LocalNodeStateInactive
	info.Name, _ = os.Hostname()
	switch mode, _ := cgroupsv2.Detect(); mode {
	case cgroupsv2.Unified:
		info.CgroupVersion = "2"
	default:
		info.CgroupVersion = "1"
	}
	for _, c := range cs {
		switch state(c) {
		case apicontainer.StateRunning:
			info.ContainersRunning++
		case apicontainer.StatePaused:
			info.ContainersPaused++
		default:
			info.ContainersStopped++
		}
	}
	if store, err := image.Open(s.eng.Root); err == nil {
		if images, err := store.List(); err == nil {
			info.Images = len(images)
		}
	}
	writeJSON(w, http.StatusOK, info)
}

func openFiles() int {
	fds, _ := os.ReadDir("/proc/self/fd")
	return len(fds)
}

// operatingSystem is PRETTY_NAME from /etc/os-release.
func operatingSystem() string {
	data, _ := os.ReadFile("/etc/os-release")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func architecture() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return runtime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

func memTotal() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}
