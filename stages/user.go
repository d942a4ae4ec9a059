package stages

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
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
// passwd when it is listed; supplementary groups come from /etc/group.
func resolveUser(u specs.User, flag string) (execUser, error) {
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
	if entry != nil {
		out.UID = parseID(entry[2])
		out.Home = entry[5]
		if flag != "" && !hasGroup {
			out.GID = parseID(entry[3])
		}
	}
	if hasGroup && !isNumeric(group) {
		g := findEntry(groups, 0, group)
		if g == nil {
			return out, &Error{Msg: fmt.Sprintf("group %q: no such group in the container's /etc/group", group)}
		}
		out.GID = parseID(g[2])
	}
	if flag != "" && entry != nil {
		for _, g := range groups {
			if len(g) >= 4 && g[3] != "" && contains(strings.Split(g[3], ","), entry[0]) {
				out.Groups = append(out.Groups, parseID(g[2]))
			}
		}
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

func parseID(s string) uint32 {
	v, _ := strconv.ParseUint(s, 10, 32)
	return uint32(v)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
