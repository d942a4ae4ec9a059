package lab

// Lab 21: user namespaces. The lab's bundle runs busybox as root without
// one; the attendee maps the container's root to an unprivileged uid of the
// host, and sees what root means then: uid 0 inside, 100000 outside, and
// the image's files, which belong to the host's root, owned by nobody.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox-dev/glassbox/container"
)

const lab21Dir = "21-user-namespaces"

// lab21Program says who the container's root is, and tries to write a
// directory of the image's.
const lab21Program = "id; cat /proc/self/uid_map; ls -lnd /bin; touch /bin/lab21"

func startUserns(e *Env) (string, error) {
	return "", writeBundle(e, filepath.Join(e.Home, lab21Dir), lab21Program, func(map[string]any) {})
}

func checkUserns(e *Env) []string {
	c := e.container("lab21")
	if c == nil {
		return []string{"no container named lab21 (glassbox run --name lab21 --bundle …, no --rm)"}
	}
	var missing []string
	inUserns := slices.ContainsFunc(c.Spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.UserNamespace })
	mapped := slices.ContainsFunc(c.Spec.Linux.UIDMappings, func(m specs.LinuxIDMapping) bool { return m.ContainerID == 0 && m.HostID != 0 })
	if !inUserns || !mapped {
		missing = append(missing, "lab21 has no user namespace whose root is a uid of the host other than 0 (linux.namespaces, linux.uidMappings)")
	}
	uidMap := "" // as the unshare stage wrote it
	if f := e.runTrace(c); f != nil {
		for _, sp := range f.Spans() {
			if m := sp.Attr("glassbox.ns.uid_map"); m != "" {
				uidMap = m
			}
		}
	}
	if f := strings.Fields(uidMap); len(f) != 3 || f[0] != "0" || f[1] == "0" {
		missing = append(missing, fmt.Sprintf("the trace of lab21 shows no uid map that makes root someone else (%q)", uidMap))
	}
	if log, _ := e.glassbox("logs", "lab21"); c.Status != container.Exited || !strings.Contains(log, "touch: /bin/lab21: Permission denied") {
		missing = append(missing, "lab21's root was not refused /bin (touch: /bin/lab21: Permission denied in its log)")
	}
	overflow, _ := os.ReadFile("/proc/sys/kernel/overflowuid")
	answer, err := os.ReadFile(filepath.Join(e.Home, lab21Dir, "answer"))
	switch {
	case err != nil:
		missing = append(missing, "no answer yet: the owner lab21 saw on /bin (ls -lnd /bin), into "+filepath.Join(e.Home, lab21Dir, "answer"))
	case strings.TrimSpace(string(answer)) != strings.TrimSpace(string(overflow)):
		missing = append(missing, fmt.Sprintf("the answer %q is not the owner an unmapped uid shows as", strings.TrimSpace(string(answer))))
	}
	return missing
}
