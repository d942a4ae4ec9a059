package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// --init, --restart, --label, --stop-signal and --stop-timeout on a rootfs
// (no image, so no annotations yet), each alone: each is kept, none panics.
func TestRootfsAnnotations(t *testing.T) {
	timeout := 3
	for want, o := range map[string]RunOptions{
		InitAnnotation:              {Init: true},
		RestartAnnotation:           {Restart: "always"},
		LabelAnnotationPrefix + "k": {Labels: map[string]string{"k": "v"}},
		StopSignalAnnotation:        {StopSignal: "INT"},
		StopTimeoutAnnotation:       {StopTimeout: &timeout},
	} {
		o.Rootfs, o.Args = "/r", []string{"sh"}
		s, err := FromRunOptions(o)
		if err != nil || s.Annotations[want] == "" {
			t.Errorf("%s on a rootfs: %v, annotations %v", want, err, s.Annotations)
		}
	}
}

func TestFromRunOptions(t *testing.T) {
	hostEnv = func(name string) (string, bool) {
		if name == "FROM_HOST" {
			return "h", true
		}
		return "", false
	}
	defer func() { hostEnv = os.LookupEnv }()
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("# c\n\nA=file\nB=file\n"), 0o644)
	s, err := FromRunOptions(RunOptions{
		Rootfs: "/r", Args: []string{"sh"}, Hostname: "h1", Workdir: "/w/../x",
		Env: []string{"B=flag", "FROM_HOST", "UNSET_ON_HOST"}, EnvFiles: []string{envFile},
		User: "1000:50", Volumes: []string{"/h:/c:ro"}, Tmpfs: []string{"/t:size=1m"}, ReadOnly: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	wantEnv := []string{DefaultPath, "HOSTNAME=h1", "A=file", "B=flag", "FROM_HOST=h"}
	if !reflect.DeepEqual(s.Process.Env, wantEnv) {
		t.Errorf("env %v, want %v", s.Process.Env, wantEnv)
	}
	if s.Process.Cwd != "/x" || s.Hostname != "h1" || !s.Root.Readonly || s.Root.Path != "/r" {
		t.Errorf("cwd %q hostname %q readonly %v root %q", s.Process.Cwd, s.Hostname, s.Root.Readonly, s.Root.Path)
	}
	if s.Process.User.UID != 1000 || s.Process.User.GID != 50 || s.Annotations[UserAnnotation] != "1000:50" {
		t.Errorf("user %+v annotation %q", s.Process.User, s.Annotations[UserAnnotation])
	}
	if len(s.Process.Capabilities.Effective) != 0 || len(s.Process.Capabilities.Bounding) != len(DefaultCapabilities) {
		t.Errorf("a non-root user keeps only the bounding set: %+v", s.Process.Capabilities)
	}
	n := len(s.Mounts)
	if got := s.Mounts[n-2]; got.Destination != "/c" || got.Type != "bind" || !reflect.DeepEqual(got.Options, []string{"rbind", "ro"}) {
		t.Errorf("volume mount %+v", got)
	}
	if got := s.Mounts[n-1]; got.Destination != "/t" || got.Type != "tmpfs" || !reflect.DeepEqual(got.Options, []string{"noexec", "nosuid", "nodev", "size=1m"}) {
		t.Errorf("tmpfs mount %+v", got)
	}
	if err := Validate(s); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestFromRunOptionsErrors(t *testing.T) {
	for _, c := range []struct {
		o    RunOptions
		want string
	}{
		{RunOptions{Args: []string{"sh"}}, "--rootfs DIR or --bundle DIR is required"},
		{RunOptions{Rootfs: "/r"}, "no command given"},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, Volumes: []string{"/a"}}, "expected /host/path:/container/path"},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, Volumes: []string{"/a:b"}}, "container path must be absolute"},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, Tmpfs: []string{"t"}}, "container path must be absolute"},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, Env: []string{"=x"}}, "not a variable name"},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, User: "a:"}, "expected uid[:gid]"},
		// Numbers past what their type holds: the message names the flag and the limit.
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, Memory: "99999999999g"}, `--memory "99999999999g": more than the largest size, 8 EiB`},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, Memory: "1m"}, "the minimum memory limit is 6m"},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, Memory: "8m", MemorySwap: "99999999999t"}, "more than the largest size"},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, CPUs: "NaN"}, "expected a positive number of CPUs"},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, CPUs: "+Inf"}, "expected a positive number of CPUs"},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, CPUs: "1e308"}, "this machine has"},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, CPUs: "0.001"}, "the smallest CPU limit is 0.01"},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, CPUShares: 4294967297}, "expected 2 to 262144"},
		// One host port, two rules: refused as Docker does.
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, Publish: []string{"18190:80", "18190:81"}}, "-p 18190:81: host port 18190/tcp is published twice"},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, Publish: []string{"127.0.0.1:18190:80", "18189-18191:81-83"}}, "host port 18190/tcp is published twice"},
		{RunOptions{Rootfs: "/r", Args: []string{"sh"}, Publish: []string{"65536:80"}}, "expected a port number 1-65535"},
	} {
		if _, err := FromRunOptions(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.o, err, c.want)
		}
	}
}

func TestRootUserKeepsCapabilities(t *testing.T) {
	s, err := FromRunOptions(RunOptions{Rootfs: "/r", Args: []string{"sh"}, User: "root"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Process.Capabilities.Effective) != len(DefaultCapabilities) {
		t.Errorf("root lost its effective capabilities: %v", s.Process.Capabilities.Effective)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		edit func(*specs.Spec)
		want string
	}{
		{func(s *specs.Spec) { s.Version = "1.2.0" }, ""},
		{func(s *specs.Spec) { s.Version = "0.9" }, `ociVersion "0.9"`},
		{func(s *specs.Spec) { s.Process.Args = nil }, "process.args"},
		{func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE"}, {Type: "RLIMIT_BOGUS"}}
		}, `process.rlimits[1].type "RLIMIT_BOGUS"`},
		{func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true"}}} }, ""},
		{func(s *specs.Spec) { s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "true"}}} }, `hooks.prestart[0].path "true" must be absolute`},
		{func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: new(int64)}}
		}, ""},
		{func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: new(uint16)}}
		}, "linux.resources.blockIO.leafWeight/weightDevice: not supported"},
		{func(s *specs.Spec) {
			w := uint16(5)
			s.Linux.Resources = &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: &w}}
		}, "between 10 and 1000"},
		{func(s *specs.Spec) {
			limit, swap := int64(64<<20), int64(32<<20)
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &swap}}
		}, "smaller than memory.limit"},
		{func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
		}, ""},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "linux.uidMappings must map the container's uid 0"},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, ""},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/1/ns/user"})
		}, "joining an existing user namespace"},
		{func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, "linux.namespaces has none"},
		{func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "/proc/1/ns/pid" }, ""},
		{func(s *specs.Spec) { s.Linux.Namespaces[4].Path = "/proc/1/ns/mnt" }, ""}, // joined; the host's own is refused by the init
		{func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"} }, ""},
		{func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} }, `linux.sysctl "vm.swappiness"`},
		{func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"} }, "linux.seccomp.defaultAction"},
		{func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:4] }, ""}, // the host's mount namespace, shared
		{func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind} }, "linux.memoryPolicy: not supported"},
		{func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"rbind", "idmap"}})
		}, "idmapped mounts"},
		{func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/tmp", UIDMappings: []specs.LinuxIDMapping{{Size: 1}}})
		}, "idmapped mounts"},
		{func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"rbind", "bogus"}})
		}, `mounts[7].options: "bogus" is no mount flag`},
	} {
		s := Default()
		c.edit(s)
		err := Validate(s)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
}

func TestHostID(t *testing.T) {
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}, {ContainerID: 1000, HostID: 1000, Size: 1}}
	for id, want := range map[uint32]uint32{0: 100000, 999: 100999, 1000: 1000} {
		if got, ok := HostID(m, id); !ok || got != want {
			t.Errorf("HostID(%d) = %d %v, want %d", id, got, ok, want)
		}
	}
	if _, ok := HostID(m, 1001); ok {
		t.Error("1001 is not mapped")
	}
}

func TestLoadBundleResolvesRoot(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"ociVersion":"1.0.0","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"},"linux":{}}`), 0o644)
	s, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Root.Path != filepath.Join(dir, "rootfs") {
		t.Errorf("root.path %q, want it relative to the bundle", s.Root.Path)
	}
	if _, err := LoadBundle(t.TempDir()); err == nil || !strings.Contains(err.Error(), "glassbox spec") {
		t.Errorf("missing config.json: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"512": 512, "64m": 64 << 20, "64M": 64 << 20, "64mb": 64 << 20, "64MiB": 64 << 20,
		"1g": 1 << 30, "1.5g": 3 << 29, "2k": 2048, "100b": 100,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "m", "12x", "-1m", "1e3", "inf", "1..2m", "NaN", "0x10m", "1_0m",
		"99999999999g", "8388608t", "9223372036854775807", "1e400"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

// The same host port may be published once per protocol and host address.
func TestPublishDistinctPorts(t *testing.T) {
	for _, p := range [][]string{
		{"18190:80", "18190:80/udp"},
		{"127.0.0.1:18190:80", "127.0.0.2:18190:81"},
		{"80", "80/udp", "81"}, // ephemeral host ports are all distinct
	} {
		if _, err := FromRunOptions(RunOptions{Rootfs: "/r", Args: []string{"sh"}, Publish: p}); err != nil {
			t.Errorf("-p %v: %v", p, err)
		}
	}
}

func TestRunOptionsResources(t *testing.T) {
	s, err := FromRunOptions(RunOptions{Rootfs: "/tmp", Args: []string{"true"}, ID: "abc",
		Memory: "32m", CPUs: "0.5", PidsLimit: 20, CgroupParent: "/parent"})
	if err != nil {
		t.Fatal(err)
	}
	r := s.Linux.Resources
	if *r.Memory.Limit != 32<<20 || *r.Memory.Swap != 64<<20 {
		t.Errorf("memory %d, swap %d: want 32 MiB and Docker's default of twice that", *r.Memory.Limit, *r.Memory.Swap)
	}
	if *r.CPU.Quota != 50000 || *r.CPU.Period != 100000 || *r.Pids.Limit != 20 {
		t.Errorf("cpu %d/%d pids %d", *r.CPU.Quota, *r.CPU.Period, *r.Pids.Limit)
	}
	if s.Linux.CgroupsPath != "/parent/abc" {
		t.Errorf("cgroupsPath %q", s.Linux.CgroupsPath)
	}
}

// config.json is what a container controls before anything runs: whatever it
// says, one error naming the field, never a panic.
func TestHostileBundles(t *testing.T) {
	valid := func(edit func(*specs.Spec)) []byte {
		s := Default()
		edit(s)
		data, _ := json.Marshal(s)
		return data
	}
	for want, data := range map[string][]byte{
		"process: missing":  []byte(`null`),
		"root: missing":     []byte(`{"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"}}`),
		"linux: missing":    []byte(`{"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"}, "root": {"path": "rootfs"}}`),
		"linux.cgroupsPath": valid(func(s *specs.Spec) { s.Linux.CgroupsPath = "../../../../x" }),
		"a second network namespace": valid(func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
		}),
		"needs a UTS namespace": valid(func(s *specs.Spec) {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UTSNamespace })
		}),
		"process.cwd \"tmp\"": valid(func(s *specs.Spec) { s.Process.Cwd = "tmp" }),
		"mounts[7].destination \"/\"": valid(func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/", Type: "bind", Source: "/tmp"})
		}),
		"/proc must be a proc mount": valid(func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc", Type: "bind", Source: "/tmp"})
		}),
		"a mount in /proc": valid(func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc/sys", Type: "bind", Source: "/tmp"})
		}),
		"process.user.uid 4294967295": valid(func(s *specs.Spec) { s.Process.User.UID = NoID }),
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644)
		s, err := LoadBundle(dir)
		if err == nil {
			err = Validate(s)
		}
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line with %q", data, err, want)
		}
	}
}

// FuzzBundle: no config.json may panic the loader or the checks.
func FuzzBundle(f *testing.F) {
	data, _ := json.Marshal(Default())
	f.Add(data)
	f.Add([]byte(`null`))
	f.Add([]byte(`{"process": {"capabilities": {"ambient": ["CAP_KILL"]}}, "root": {}, "linux": {"resources": {"memory": {"swap": 1}}}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644)
		s, err := LoadBundle(dir)
		if err != nil {
			return
		}
		Warnings(s)
		Validate(s)
	})
}

func TestSecurityOptions(t *testing.T) {
	run := func(o SecurityOptions) (*specs.Spec, error) {
		return FromRunOptions(RunOptions{Rootfs: "/r", Args: []string{"sh"}, SecurityOptions: o})
	}
	// Docker: --cap-add ALL is every capability but those --cap-drop names.
	s, err := run(SecurityOptions{CapAdd: []string{"ALL"}, CapDrop: []string{"net_raw", "CAP_SYS_ADMIN"}})
	if err != nil {
		t.Fatal(err)
	}
	if caps := s.Process.Capabilities.Bounding; slices.Contains(caps, "CAP_NET_RAW") || slices.Contains(caps, "CAP_SYS_ADMIN") || !slices.Contains(caps, "CAP_SYS_PTRACE") {
		t.Errorf("--cap-add ALL --cap-drop NET_RAW,SYS_ADMIN: %v", caps)
	}
	for opt, want := range map[string]string{"seccomp=unconfined": "unconfined", "seccomp=builtin": "builtin"} {
		s, err := run(SecurityOptions{SecurityOpt: []string{opt}})
		if err != nil || s.Annotations[SeccompAnnotation] != want || (s.Linux.Seccomp == nil) != (want == "unconfined") {
			t.Errorf("--security-opt %s: %v, annotation %q", opt, err, s.Annotations[SeccompAnnotation])
		}
	}
	big := filepath.Join(t.TempDir(), "big.json")
	os.WriteFile(big, append([]byte(`{"defaultAction": "SCMP_ACT_ALLOW", "x": "`), make([]byte, 2<<20)...), 0o644)
	for _, c := range []struct{ opt, want string }{
		{"seccomp=/dev/zero", "--security-opt seccomp=/dev/zero: not a regular file"}, // would read forever
		{"seccomp=/", "--security-opt seccomp=/: not a regular file"},
		{"seccomp=" + big, "larger than 1 MiB"},
		{"seccomp=/nonexistent", "no such file"},
	} {
		if _, err := run(SecurityOptions{SecurityOpt: []string{c.opt}}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--security-opt %s: %v, want %q", c.opt, err, c.want)
		}
	}
}

func TestUserIDs(t *testing.T) {
	for u, want := range map[string]string{
		"4294967295":              "uid 4294967295 is (uid_t)-1",
		"0:4294967295":            "gid 4294967295 is (gid_t)-1",
		"x:4294967295":            "gid 4294967295 is (gid_t)-1",
		"99999999999999999999999": "uid 99999999999999999999999 is more than an id holds",
		"1:4294967296":            "gid 4294967296 is more than an id holds",
	} {
		_, err := FromRunOptions(RunOptions{Rootfs: "/r", Args: []string{"sh"}, User: u})
		if err == nil || !strings.HasPrefix(err.Error(), "-u "+u+": "+want) {
			t.Errorf("-u %s: %v, want an error naming -u and %q", u, err, want)
		}
	}
	// exec -u: another user, the container's --group-add gids all the same.
	s, err := FromRunOptions(RunOptions{Rootfs: "/r", Args: []string{"sh"}, SecurityOptions: SecurityOptions{GroupAdd: []string{"10", "wheel"}}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := ForExec(s, []string{"id"}, nil, "", "1000:1000", false)
	if err != nil {
		t.Fatal(err)
	}
	if u := e.Process.User; u.UID != 1000 || u.GID != 1000 || !slices.Equal(u.AdditionalGids, []uint32{10}) || e.Annotations[GroupAddAnnotation] != "wheel" {
		t.Errorf("exec -u 1000:1000: %+v, annotations %v", u, e.Annotations)
	}
}

// The image's HEALTHCHECK is the base: each --health-* flag changes one
// field of it, --no-healthcheck (or an image's NONE) leaves none.
func TestHealthFromImageAndFlags(t *testing.T) {
	image := &Healthcheck{Test: []string{"CMD", "/healthz"}, Interval: 10 * time.Second, Retries: 5}
	retries, interval := 2, time.Second
	for _, c := range []struct {
		name  string
		image *Healthcheck
		o     HealthOptions
		want  *Healthcheck
		err   string
	}{
		{"the image's", image, HealthOptions{}, image, ""},
		{"flags change fields", image, HealthOptions{Retries: &retries, Interval: &interval},
			&Healthcheck{Test: []string{"CMD", "/healthz"}, Interval: time.Second, Retries: 2}, ""},
		{"a command replaces the test", image, HealthOptions{Test: []string{"CMD-SHELL", "true"}},
			&Healthcheck{Test: []string{"CMD-SHELL", "true"}, Interval: 10 * time.Second, Retries: 5}, ""},
		{"--no-healthcheck", image, HealthOptions{None: true}, nil, ""},
		{"NONE in the image", &Healthcheck{Test: []string{"NONE"}}, HealthOptions{}, nil, ""},
		{"no image check", nil, HealthOptions{}, nil, ""},
		{"options without a check", nil, HealthOptions{Retries: &retries}, nil, "need a check"},
		{"an unknown form", nil, HealthOptions{Test: []string{"EXEC", "x"}}, nil, "CMD-SHELL"},
		{"CMD alone", nil, HealthOptions{Test: []string{"CMD"}}, nil, "CMD-SHELL"},
	} {
		got, err := mergeHealth(c.image, c.o)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
		case err != nil || !reflect.DeepEqual(got, c.want):
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
	s := Default()
	s.Annotations = map[string]string{HealthAnnotation: `{"Test":["CMD-SHELL","x"],"Interval":-5}`}
	if err := Validate(s); err == nil || !strings.Contains(err.Error(), "from 1ms to 24h") {
		t.Errorf("a bundle's negative interval: %v", err)
	}
	s.Annotations[HealthAnnotation] = `null`
	if err := Validate(s); err == nil {
		t.Errorf("a bundle's null health check was taken")
	}
}
