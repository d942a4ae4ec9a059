package stages

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox-dev/glassbox/spec"
)

// execUser is who the container's program runs as.
type execUser struct {
	UID, GID uint32
	Groups   []uint32
	Home     string
}

// resolveUser works out the user from the Spec and, when `-u` was given, from
// the container's own /etc/passwd and /etc/group (read after pivot_root):
// a name must exist there; a bare uid takes its primary group and home from
// passwd when it is listed; supplementary groups come from /etc/group, and
// so do the gids of --group-add's names (groupAdd, comma-separated).
func resolveUser(u specs.User, flag, groupAdd string) (execUser, error) {
	out := execUser{UID: u.UID, GID: u.GID, Groups: u.AdditionalGids, Home: "/"}
	passwd, _ := readColonFile("/etc/passwd") // an image without one is fine for numeric ids
	groups, _ := readColonFile("/etc/group")
	name, group, hasGroup := strings.Cut(flag, ":")
	var entry []string
	if flag == "" || isNumeric(name) {
		entry = findEntry(passwd, 2, strconv.FormatUint(uint64(out.UID), 10))
	} else if entry = findEntry(passwd, 0, name); entry == nil {
		return out, &Error{Msg: fmt.Sprintf("user %q: no such user in the container's /etc/passwd", name), Hint: "use a numeric uid[:gid], or a user the image defines"}
	}
	// The container owns /etc/passwd and /etc/group: an id there that is no
	// id at all ("99999999999", "-1", 4294967295) must not become 0 or stay
	// root — it is refused.
	var err error
	if entry != nil {
		out.Home = entry[5]
		if out.UID, err = parseID(entry, 2, "/etc/passwd"); err != nil {
			return out, err
		}
		if flag != "" && !hasGroup {
			if out.GID, err = parseID(entry, 3, "/etc/passwd"); err != nil {
				return out, err
			}
		}
	}
	if hasGroup && !isNumeric(group) {
		g := findEntry(groups, 0, group)
		if g == nil {
			return out, &Error{Msg: fmt.Sprintf("group %q: no such group in the container's /etc/group", group)}
		}
		if out.GID, err = parseID(g, 2, "/etc/group"); err != nil {
			return out, err
		}
	}
	if flag != "" && entry != nil {
		for _, g := range groups {
			if len(g) >= 4 && g[3] != "" && contains(strings.Split(g[3], ","), entry[0]) {
				gid, err := parseID(g, 2, "/etc/group")
				if err != nil {
					return out, err
				}
				out.Groups = append(out.Groups, gid)
			}
		}
	}
	for _, name := range strings.Split(groupAdd, ",") {
		if name == "" {
			continue
		}
		g := findEntry(groups, 0, name)
		if g == nil {
			return out, &Error{Msg: fmt.Sprintf("--group-add %s: no such group in the container's /etc/group", name)}
		}
		gid, err := parseID(g, 2, "/etc/group")
		if err != nil {
			return out, err
		}
		out.Groups = append(out.Groups, gid)
	}
	if err := spec.ValidateUser(specs.User{UID: out.UID, GID: out.GID, AdditionalGids: out.Groups}, "process.user"); err != nil {
		return out, &Error{Err: err, Msg: err.Error()}
	}
	return out, nil
}

// readColonFile splits /etc/passwd-style lines into fields; short lines are skipped.
func readColonFile(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if fields := strings.Split(line, ":"); len(fields) >= 3 {
			for len(fields) < 7 {
				fields = append(fields, "")
			}
			out = append(out, fields)
		}
	}
	return out, sc.Err()
}

func findEntry(entries [][]string, field int, value string) []string {
	for _, e := range entries {
		if e[field] == value {
			return e
		}
	}
	return nil
}

func isNumeric(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// parseID reads field i of an /etc/passwd or /etc/group line as an id.
func parseID(entry []string, i int, file string) (uint32, error) {
	v, err := strconv.ParseUint(entry[i], 10, 32)
	if err != nil || v == spec.NoID {
		return 0, &Error{Msg: fmt.Sprintf("%s: %s has id %q, which is no id (0 to %d)", file, entry[0], entry[i], uint32(spec.NoID)-1)}
	}
	return uint32(v), nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
