package container

// A container created without a name gets one, as Docker's do: an adjective
// and a thing of the kernel's, joined by an underscore ("brisk_futex"), unique
// in its state root. People say these, and /etc/hosts resolves them.

import (
	"math/rand/v2"
	"strconv"
)

var (
	nameAdjectives = []string{"amber", "bold", "brisk", "calm", "candid", "clever", "crisp", "deft", "eager", "frank",
		"gentle", "glad", "keen", "lively", "lucid", "merry", "nimble", "plucky", "quiet", "rapid",
		"serene", "steady", "sturdy", "sunny", "swift", "tidy", "vivid", "wary", "witty", "zesty"}
	nameNouns = []string{"bridge", "cgroup", "clone", "dentry", "epoll", "execve", "futex", "inode", "ioctl", "kprobe",
		"mmap", "mount", "namespace", "netlink", "overlay", "pidfd", "pipe", "pivot", "ptrace", "rcu",
		"seccomp", "semaphore", "signal", "slab", "socket", "spinlock", "syscall", "tmpfs", "tracepoint", "veth"}
)

// generatedName picks a name free among taken: tried at random a few times,
// then with a number after it.
func generatedName(taken func(string) bool) string {
	for i := 0; ; i++ {
		name := nameAdjectives[rand.IntN(len(nameAdjectives))] + "_" + nameNouns[rand.IntN(len(nameNouns))]
		if i >= 10 {
			name += strconv.Itoa(i)
		}
		if !taken(name) {
			return name
		}
	}
}
