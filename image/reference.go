package image

import (
	"errors"
	"fmt"
	"strings"
)

// CheckReference refuses what Docker's grammar for image names refuses
// before anything looks the name up: go-containerregistry alone takes
// "../../etc" for an image on a registry named "..", which would send a DNS
// query for it. A name is [registry[:port]/]path[:tag][@digest], its path
// components lowercase letters and digits joined by . _ __ or dashes.
//
// The grammar is distribution/reference's, written as loops: that package
// compiles its regular expressions when a program starts, half a millisecond
// of every glassbox run.
func CheckReference(ref string) error {
	if err := checkReference(ref); err != nil {
		return fmt.Errorf("image reference %q: %v: expected name[:tag] or name@sha256:digest, like busybox:1.36", ref, err)
	}
	return nil
}

func checkReference(ref string) error {
	name, digest, hasDigest := strings.Cut(ref, "@")
	if hasDigest {
		if err := checkDigest(digest); err != nil {
			return err
		}
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		var tag string
		name, tag = name[:i], name[i+1:]
		if !validTag(tag) {
			return errors.New("invalid tag: letters, digits, _ . - (not first), at most 128")
		}
	}
	switch {
	case name == "":
		return errors.New("no name")
	case len(ref) == 64 && isHex(ref):
		return errors.New("a 64-digit hexadecimal string is an id, not a name")
	}
	path := strings.Split(name, "/")
	// As Docker splits it: the first part is a registry if it looks like a
	// host (a dot, a port, localhost, or capitals no path may have) and is
	// one; otherwise it is part of the path, and must pass as that.
	looksLikeHost := func(s string) bool {
		return strings.ContainsAny(s, ".:") || s == "localhost" || strings.ToLower(s) != s
	}
	if first := path[0]; len(path) > 1 && looksLikeHost(first) && validHost(first) {
		path = path[1:]
	} else if len(path) == 1 {
		path = []string{"library", path[0]} // as Docker names an official image
	}
	if n := len(strings.Join(path, "/")); n > 255 {
		return fmt.Errorf("the name's path has %d characters, more than 255", n)
	}
	for _, component := range path {
		if !validPathComponent(component) {
			return fmt.Errorf("invalid name component %q: lowercase letters and digits, joined by . _ __ or -", component)
		}
	}
	return nil
}

// validPathComponent: [a-z0-9]+ joined by [_.] or __ or -+.
func validPathComponent(s string) bool {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); {
		if alnum(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && !alnum(s[j]) {
			j++
		}
		if sep := s[i:j]; sep != "." && sep != "_" && sep != "__" && strings.Trim(sep, "-") != "" {
			return false
		}
		i = j
	}
	return true
}

// validHost: a domain name (dot-separated components of letters, digits and
// inner dashes), an IPv4 address, or an IPv6 one in brackets; with a port.
func validHost(s string) bool {
	host, port, hasPort := strings.Cut(s, ":")
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 2 || strings.Trim(s[1:end], "0123456789abcdefABCDEF:") != "" {
			return false
		}
		host, port, hasPort = s[:end+1], strings.TrimPrefix(s[end+1:], ":"), strings.HasPrefix(s[end+1:], ":")
		if !hasPort && end+1 != len(s) {
			return false
		}
	} else {
		for _, c := range strings.Split(host, ".") {
			if c == "" || c[0] == '-' || c[len(c)-1] == '-' || strings.Trim(c, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
				return false
			}
		}
	}
	return !hasPort || port != "" && strings.Trim(port, "0123456789") == ""
}

// validTag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func validTag(s string) bool {
	word := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
	return s != "" && len(s) <= 128 && strings.IndexByte(word, s[0]) >= 0 && strings.Trim(s, word+".-") == ""
}

// digestLengths are the hexadecimal digits of the digests an image may be
// named by (go-digest's algorithms).
var digestLengths = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}

// checkDigest: algorithm:hex.
func checkDigest(d string) error {
	algo, hex, _ := strings.Cut(d, ":")
	n, known := digestLengths[algo]
	switch {
	case !known:
		return fmt.Errorf("invalid digest algorithm %q: sha256, sha384 or sha512", algo)
	case len(hex) != n || !isHex(hex):
		return fmt.Errorf("invalid digest: %s takes %d hexadecimal digits", algo, n)
	}
	return nil
}

func isHex(s string) bool {
	return s != "" && strings.Trim(s, "0123456789abcdef") == ""
}

// canonical is ref as go-containerregistry names it, the key of a tag in the
// store's index: name.ParseReference(ref).Name(), as pulls and imports
// record it (index.docker.io/library/busybox:latest for busybox, its digest
// after @ for name@digest). Its rules, written out here: a run looks its
// image up at every start, and importing that package imports go-digest,
// whose regular expressions compile at every start (0.35 ms with its own).
// It takes every reference go-containerregistry takes, and names it the
// same (TestCanonicalIsGoContainerregistrys); what it takes besides — it
// leaves a registry's name unchecked — no index has a key for.
func canonical(ref string) (name, digest string, ok bool) {
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		return "", "", false
	}
	if repo, tag, ok := splitTag(ref); ok {
		if repo, ok := repository(repo); ok {
			return repo + ":" + tag, "", true
		}
	}
	base, digest, found := strings.Cut(ref, "@")
	if !found || strings.Contains(digest, "@") || checkDigest(digest) != nil {
		return "", "", false
	}
	repo, _, ok := splitTag(base) // name:tag@digest: the tag goes
	if !ok {
		return "", "", false
	}
	if repo, ok = repository(repo); !ok {
		return "", "", false
	}
	return repo + "@" + digest, digest, true
}

// splitTag splits a reference at the colon of its tag, if the last colon is
// one (a registry's port is followed by a path), and checks the tag's
// characters; the tag is "latest" when there is none.
func splitTag(ref string) (repo, tag string, ok bool) {
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || strings.Contains(ref[i+1:], "/") {
		return ref, "latest", true
	}
	tag = ref[i+1:]
	const tagChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
	return ref[:i], tag, tag != "" && len(tag) <= 128 && strings.Trim(tag, tagChars) == ""
}

// repository is registry/path: the first part is the registry if it is
// localhost or has a dot or a colon, else the registry is Docker Hub's,
// whose one-part paths are under library/.
func repository(s string) (string, bool) {
	registry, path := "", s
	if first, rest, found := strings.Cut(s, "/"); found && (first == "localhost" || strings.ContainsAny(first, ".:")) {
		registry, path = first, rest
	}
	const pathChars = "abcdefghijklmnopqrstuvwxyz0123456789_-./"
	if path == "" || len(path) > 255 || strings.Trim(path, pathChars) != "" {
		return "", false
	}
	if registry == "" || registry == "docker.io" {
		registry = "index.docker.io"
	}
	if registry == "index.docker.io" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	return registry + "/" + path, true
}
