// Package spec is glassbox's front end: it turns `run` flags or an OCI bundle into
// an OCI runtime-spec Spec. The stages consume only that Spec — the same contract
// that dockerd → containerd → runc use, so a config.json and a command line end up
// on exactly the same code path.
package spec

import (
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultPath is the PATH a container gets unless its Spec says otherwise (Docker's).
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// UserAnnotation carries a `-u name[:group]` that can only be resolved against the
// container's own /etc/passwd and /etc/group, which the exec stage reads after
// pivot_root (the runtime-spec's user fields are numeric on Linux).
const UserAnnotation = "org.glassbox.user"

// Networking is not part of the OCI runtime-spec (a runtime gets a network
// namespace; Docker's engine or a CNI plugin wires it). glassbox's front end
// asks the network stage for it in annotations: NetworkAnnotation is
// "bridge" (the default for `run` flags), a user network's name, "none",
// "host", or "container:<id>"; PublishAnnotation lists the -p ports. A
// bundle without them gets a network namespace with only lo, as with runc.
// AliasesAnnotation lists more names the container answers to on its
// network (--network-alias; a compose service's name).
const (
	NetworkAnnotation = "org.glassbox.network"
	PublishAnnotation = "org.glassbox.publish"
	AliasesAnnotation = "org.glassbox.network.aliases"
)

// DefaultCapabilities is Docker's default capability set: enough for a typical
// root-in-container workload, without CAP_SYS_ADMIN, CAP_NET_ADMIN or CAP_SYS_PTRACE.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Default returns the Spec `glassbox spec` prints: the container runs `sh` as root
// in new pid, mount, uts, ipc, network and cgroup namespaces, with the kernel
// filesystems a Linux program expects and runc's masked and read-only /proc paths.
func Default() *specs.Spec {
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args: []string{"sh"},
			Env:  []string{DefaultPath},
			Cwd:  "/",
			User: specs.User{UID: 0, GID: 0},
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  clone(DefaultCapabilities),
				Effective: clone(DefaultCapabilities),
				Permitted: clone(DefaultCapabilities),
			},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "glassbox",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			// Deny every device but the ones the container is given (the
			// cgroup stage allows those after this rule), as Docker does.
			Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
				{Type: specs.CgroupNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
				"/proc/sched_debug", "/proc/scsi", "/sys/firmware",
				"/sys/devices/virtual/powercap",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
}

func clone(s []string) []string { return append([]string(nil), s...) }

// hostEnv is os.LookupEnv, a variable so tests can give `-e NAME` a fixed host.
var hostEnv = os.LookupEnv
