package spec

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/netns"
)

// RunOptions are the Docker-style flags of `glassbox run` that shape the Spec.
type RunOptions struct {
	Rootfs   string   // --rootfs: the directory holding the container's files
	Args     []string // the command after `--`
	Env      []string // -e NAME=VALUE, or -e NAME to copy it from glassbox's environment
	EnvFiles []string // --env-file
	Workdir  string   // -w
	User     string   // -u uid[:gid] | name[:group]
	Hostname string   // -h (default: the short container id)
	Volumes  []string // -v host:container[:ro|rw]
	Tmpfs    []string // --tmpfs /path[:options]
	ReadOnly bool     // --read-only

	// Limits (docker run's flags, see applyResources).
	Memory       string // -m/--memory: 64m, 1g
	MemorySwap   string // --memory-swap: memory+swap, or -1
	CPUs         string // --cpus: 0.5
	CPUShares    int64  // --cpu-shares: relative weight (default 1024)
	CpusetCpus   string // --cpuset-cpus: 0-1,3
	PidsLimit    int64  // --pids-limit
	CgroupParent string // --cgroup-parent: the container's cgroup is <parent>/<id>
	ID           string // the container id, for names derived from it

	Network     string            // --network: bridge (default), a user network, none, host, container:<name|id>
	Aliases     []string          // --network-alias: more names others on the network resolve
	Restart     string            // --restart: no, on-failure[:N], always, unless-stopped (RestartPolicy)
	Labels      map[string]string // --label: the container's metadata (LabelAnnotationPrefix in the Spec)
	AddHosts    []string          // --add-host NAME:IP: more lines of /etc/hosts
	DNS         []string          // --dns IP: the container's nameservers (its own resolv.conf)
	DNSSearch   []string          // --dns-search DOMAIN
	DNSOptions  []string          // --dns-option OPTION
	StopSignal  string            // --stop-signal: what stop sends first (default SIGTERM)
	Init        bool              // --init: pid 1 reaps, and runs the program as its child
	StopTimeout *int              // --stop-timeout: seconds a stop waits before SIGKILL (nil: 10)
	Publish     []string          // -p [ip:][hostPort:]containerPort[/proto]
	PublishAll  bool              // -P: every port the image exposes, on an ephemeral host port
	LogDriver   string            // --log-driver: json-file (default) or none
	LogOpts     map[string]string // --log-opt: max-size, max-file
	Health      HealthOptions     // --health-*, --no-healthcheck

	Terminal   bool    // -t: the process gets a pseudo-terminal as its controlling terminal
	Image      *Image  // run IMAGE: its layers and config (instead of Rootfs)
	Entrypoint *string // --entrypoint ("" clears the image's)

	SecurityOptions // capabilities, seccomp, devices, … (security.go)
}

// FromRunOptions builds the Spec for a `run` with flags, starting from Default.
// Every malformed flag is rejected here, before anything is created on the host.
func FromRunOptions(o RunOptions) (*specs.Spec, error) {
	s := Default()
	if s.Annotations == nil {
		s.Annotations = map[string]string{} // the flags below write theirs
	}
	var imageEnv []string
	switch {
	case o.Image != nil:
		if err := applyImage(s, &o); err != nil {
			return nil, err
		}
		imageEnv = o.Image.Env
	case o.Rootfs == "":
		return nil, fmt.Errorf("an image, --rootfs DIR or --bundle DIR is required")
	default:
		root, err := filepath.Abs(o.Rootfs)
		if err != nil {
			return nil, fmt.Errorf("--rootfs %s: %w", o.Rootfs, err)
		}
		s.Root.Path = root
	}
	s.Root.Readonly = o.ReadOnly
	if len(o.Args) == 0 {
		return nil, fmt.Errorf("no command given: glassbox run --rootfs DIR -- CMD [ARG...]")
	}
	s.Process.Args = o.Args
	s.Process.Terminal = o.Terminal
	if o.Hostname != "" {
		s.Hostname = o.Hostname
	}
	if o.Workdir != "" {
		if !filepath.IsAbs(o.Workdir) {
			return nil, fmt.Errorf("-w %s: the working directory must be an absolute path", o.Workdir)
		}
		s.Process.Cwd = filepath.Clean(o.Workdir)
	}
	env, err := buildEnv(o.EnvFiles, o.Env)
	if err != nil {
		return nil, err
	}
	// The image's variables first (its PATH replaces the default), then
	// HOSTNAME, as Docker gives every container; -e and --env-file win.
	s.Process.Env = mergeEnv(mergeEnv(s.Process.Env, imageEnv), append([]string{"HOSTNAME=" + s.Hostname}, env...))
	s.Process.Env = termEnv(s.Process.Env, o.Terminal)
	if o.Restart != "" {
		policy, err := ParseRestart(o.Restart)
		if err != nil {
			return nil, err
		}
		if policy.Name != "no" {
			s.Annotations[RestartAnnotation] = policy.String()
		}
	}
	for k, v := range o.Labels {
		if k == "" || strings.ContainsAny(k, "=\n") {
			return nil, fmt.Errorf("--label %q: a key (no = or newline) and a value", k)
		}
		s.Annotations[LabelAnnotationPrefix+k] = v
	}
	if o.Init {
		s.Annotations[InitAnnotation] = "true"
	}
	var imageHealth *Healthcheck
	if o.Image != nil {
		imageHealth = o.Image.Healthcheck
	}
	if err := applyHealth(s, imageHealth, o.Health); err != nil {
		return nil, err
	}
	logs, err := ParseLogConfig(o.LogDriver, o.LogOpts)
	if err != nil {
		return nil, err
	}
	logs.apply(s)
	if err := applyStop(s, o.StopSignal, o.StopTimeout); err != nil {
		return nil, err
	}
	if err := applySecurity(s, o.SecurityOptions); err != nil {
		return nil, err
	}
	if err := applyUser(s, o.User); err != nil {
		return nil, err
	}
	for _, v := range o.Volumes {
		m, err := parseVolume(v)
		if err == nil {
			err = CheckMountDestination(m.Destination, m.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("-v %s: %w", v, err)
		}
		s.Mounts = append(s.Mounts, m)
	}
	for _, t := range o.Tmpfs {
		m, err := parseTmpfs(t)
		if err == nil {
			err = CheckMountDestination(m.Destination, m.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("--tmpfs %s: %w", t, err)
		}
		s.Mounts = append(s.Mounts, m)
	}
	if err := applyResources(s, o); err != nil {
		return nil, err
	}
	if err := applyHosts(s, o.AddHosts, o.DNS, o.DNSSearch, o.DNSOptions, o.Network); err != nil {
		return nil, err
	}
	if err := applyNetwork(s, o.Network, o.Publish, o.Aliases); err != nil {
		return nil, err
	}
	return s, nil
}

// buildEnv reads --env-file files first and -e flags after, so flags win (Docker's order).
func buildEnv(files, flags []string) ([]string, error) {
	var env []string
	for _, f := range files {
		lines, err := readEnvFile(f)
		if err != nil {
			return nil, err
		}
		env = append(env, lines...)
	}
	for _, e := range flags {
		kv, ok, err := envEntry(e)
		if err != nil {
			return nil, fmt.Errorf("-e %q: %w", e, err)
		}
		if ok {
			env = append(env, kv)
		}
	}
	return env, nil
}

// envEntry turns NAME=VALUE into itself and a bare NAME into NAME=<host value>;
// a bare NAME that the host does not set is dropped, as Docker does.
func envEntry(e string) (string, bool, error) {
	name, _, hasValue := strings.Cut(e, "=")
	if name == "" || strings.ContainsAny(name, " \t") {
		return "", false, fmt.Errorf("not a variable name")
	}
	if hasValue {
		return e, true, nil
	}
	if v, ok := hostEnv(name); ok {
		return name + "=" + v, true, nil
	}
	return "", false, nil
}

func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	defer f.Close()
	var env []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kv, ok, err := envEntry(line)
		if err != nil {
			return nil, fmt.Errorf("--env-file %s:%d: %q: %w", path, n, line, err)
		}
		if ok {
			env = append(env, kv)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--env-file %s: %w", path, err)
	}
	return env, nil
}

// HasEnv reports whether env sets name.
func HasEnv(env []string, name string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

// termEnv gives a process with a terminal TERM=xterm unless it has a TERM,
// as Docker does: programs look there for how to draw on the terminal.
func termEnv(env []string, terminal bool) []string {
	if terminal && !HasEnv(env, "TERM") {
		return append(env, "TERM=xterm")
	}
	return env
}

// mergeEnv appends add to base; a later NAME replaces an earlier one in place.
func mergeEnv(base, add []string) []string {
	out := append([]string(nil), base...)
	index := map[string]int{}
	for i, kv := range out {
		name, _, _ := strings.Cut(kv, "=")
		index[name] = i
	}
	for _, kv := range add {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := index[name]; ok {
			out[i] = kv
			continue
		}
		index[name] = len(out)
		out = append(out, kv)
	}
	return out
}

// applyUser sets process.user. Numeric parts go straight into the Spec; the whole
// `-u` value also travels in UserAnnotation, because names, the primary group of a
// bare uid, supplementary groups and HOME can only be resolved from the container's
// own /etc/passwd and /etc/group, which the exec stage reads after pivot_root.
func applyUser(s *specs.Spec, u string) error {
	if u == "" {
		return nil
	}
	user, group, hasGroup := strings.Cut(u, ":")
	if user == "" || (hasGroup && group == "") {
		return fmt.Errorf("-u %q: expected uid[:gid] or name[:group]", u)
	}
	for i, id := range []string{user, group} {
		kind := [...]string{"uid", "gid"}[i]
		if id == "" || strings.Trim(id, "0123456789") != "" {
			continue // a name, for the container's /etc/passwd or /etc/group
		}
		switch n, err := strconv.ParseUint(id, 10, 32); {
		case err != nil: // out of range (n is then the largest value)
			return fmt.Errorf("-u %s: %s %s is more than an id holds: a %s is below %d", u, kind, id, kind, uint32(NoID))
		case n == NoID:
			return fmt.Errorf("-u %s: %s %s is (%s_t)-1, which the kernel takes as \"unchanged\": a %s is below %d", u, kind, id, kind, kind, uint32(NoID))
		}
	}
	if uid, err := strconv.ParseUint(user, 10, 32); err == nil {
		s.Process.User.UID = uint32(uid)
	}
	if gid, err := strconv.ParseUint(group, 10, 32); hasGroup && err == nil {
		s.Process.User.GID = uint32(gid)
	}
	setAnnotation(s, UserAnnotation, u)
	if user != "0" && user != "root" {
		// A non-root user keeps the default set only as a ceiling (bounding), like
		// Docker: it may regain a capability through a file capability, nothing more.
		s.Process.Capabilities.Effective = nil
		s.Process.Capabilities.Permitted = nil
	}
	return nil
}

func setAnnotation(s *specs.Spec, k, v string) {
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[k] = v
}

// parseVolume turns -v /host:/ctr[:ro|rw] into a recursive bind mount.
func parseVolume(v string) (specs.Mount, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return specs.Mount{}, errors.New("expected /host/path:/container/path[:ro|rw]")
	}
	src, dst := parts[0], parts[1]
	if !filepath.IsAbs(src) {
		return specs.Mount{}, errors.New("the host path must be absolute, or the source a volume's name (letters, digits, _ . -)")
	}
	if !filepath.IsAbs(dst) {
		return specs.Mount{}, errors.New("the container path must be absolute")
	}
	mode := "rw"
	if len(parts) == 3 {
		mode = parts[2]
		if mode != "ro" && mode != "rw" {
			return specs.Mount{}, errors.New("mode must be ro or rw")
		}
	}
	return specs.Mount{
		Destination: filepath.Clean(dst), Type: "bind", Source: filepath.Clean(src),
		Options: []string{"rbind", mode},
	}, nil
}

// parseTmpfs turns --tmpfs /path[:opts] into a tmpfs mount with Docker's defaults.
func parseTmpfs(t string) (specs.Mount, error) {
	dst, opts, _ := strings.Cut(t, ":")
	if !filepath.IsAbs(dst) {
		return specs.Mount{}, errors.New("the container path must be absolute")
	}
	options := []string{"noexec", "nosuid", "nodev"}
	if opts != "" {
		options = append(options, strings.Split(opts, ",")...)
	}
	return specs.Mount{Destination: filepath.Clean(dst), Type: "tmpfs", Source: "tmpfs", Options: options}, nil
}

// applyNetwork records the network mode and published ports for the network
// stage; --network host drops the network namespace altogether.
func applyNetwork(s *specs.Spec, network string, publish, aliases []string) error {
	if network == "" {
		network = netns.DefaultNetwork
	}
	ports, err := netns.ParsePublishes(publish)
	if err != nil {
		return err
	}
	bridged := network != "none" && network != "host" && !strings.HasPrefix(network, "container:")
	if len(ports) > 0 && !bridged {
		return fmt.Errorf("-p: ports are published on bridge networks only, not with --network %s", network)
	}
	for _, a := range aliases {
		if !bridged {
			return fmt.Errorf("--network-alias: names are given on bridge networks only, not with --network %s", network)
		}
		if !container.ValidName(a) {
			return fmt.Errorf("--network-alias %q: letters, digits, _ . - (not first), at most 64", a)
		}
	}
	if network == "container:" {
		return fmt.Errorf("--network container: needs a container name or id")
	}
	if network == "host" {
		var keep []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != specs.NetworkNamespace {
				keep = append(keep, ns)
			}
		}
		s.Linux.Namespaces = keep
	}
	setAnnotation(s, NetworkAnnotation, network)
	if len(ports) > 0 {
		setAnnotation(s, PublishAnnotation, netns.FormatPorts(ports))
	}
	if len(aliases) > 0 {
		setAnnotation(s, AliasesAnnotation, strings.Join(aliases, ","))
	}
	return nil
}

// ForExec makes the Spec of a process joining a container (glassbox exec)
// from the container's: args, then the container's environment with -e on
// top, -w, -u and -t as for run.
func ForExec(s *specs.Spec, args, env []string, workdir, user string, terminal bool) (*specs.Spec, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("no command given: glassbox exec CONTAINER CMD [ARG...]")
	}
	p := *s.Process
	caps := *p.Capabilities
	p.Capabilities = &caps
	p.Args, p.Terminal = args, terminal
	extra, err := buildEnv(nil, env)
	if err != nil {
		return nil, err
	}
	p.Env = termEnv(mergeEnv(p.Env, extra), terminal)
	if workdir != "" {
		if !filepath.IsAbs(workdir) {
			return nil, fmt.Errorf("-w %s: the working directory must be an absolute path", workdir)
		}
		p.Cwd = filepath.Clean(workdir)
	}
	out := *s
	out.Process = &p
	out.Annotations = map[string]string{}
	for k, v := range s.Annotations {
		out.Annotations[k] = v
	}
	if user != "" {
		// Another user, with the container's --group-add gids all the same (as Docker).
		p.User = specs.User{AdditionalGids: s.Process.User.AdditionalGids}
		delete(out.Annotations, UserAnnotation)
		if err := applyUser(&out, user); err != nil {
			return nil, err
		}
	}
	return &out, nil
}
