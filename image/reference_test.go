package image

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestCheckReference(t *testing.T) {
	for _, ok := range []string{
		"busybox", "busybox:1.36", "library/busybox", "docker.io/library/busybox:latest",
		"127.0.0.1:5000/demo/app:v1", "localhost:5000/a_b__c-d.e",
		"busybox@sha256:" + strings.Repeat("ab", 32),
	} {
		if err := CheckReference(ok); err != nil {
			t.Errorf("CheckReference(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{
		"", "../../../etc", "..", "/etc/passwd", "ok/../x", ".foo/bar", "UPPER", "a b",
		"busybox:", "busybox@sha256:zz", "a/" + strings.Repeat("b", 300), "-x", "x\n",
	} {
		err := CheckReference(bad)
		if err == nil {
			t.Errorf("CheckReference(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "\n") && !strings.Contains(bad, "\n") {
			t.Errorf("CheckReference(%q): error of more than one line: %v", bad, err)
		}
	}
}

// An id or id prefix is found as one; a name that is not one is refused as
// such, not reported missing (run would pull a missing one).
func TestFindRefusesBadNames(t *testing.T) {
	idx := &index{Images: map[string]*Record{}, Tags: map[string]string{}}
	if _, err := idx.find("../../../etc"); err == nil || !strings.Contains(err.Error(), "expected name[:tag]") {
		t.Errorf("find(../../../etc): %v", err)
	}
	if _, err := idx.find("busybox"); err == nil || !strings.Contains(err.Error(), ErrNotFound.Error()) {
		t.Errorf("find(busybox): %v", err)
	}
}

// A tag's target is a name[:tag] by Docker's grammar; anything else is
// refused by name, before the store is looked at, and nothing is tagged.
func TestTagRefusesBadTargets(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"", "../../etc", "a/../../b", "x@sha256:" + strings.Repeat("0", 64), "x:4294967295@sha256:0",
		strings.Repeat("a", 5000), "Busybox", "x:" + strings.Repeat("t", 129), "http://x/y", "x\ny"} {
		err := s.Tag("busybox", target)
		if err == nil || !strings.Contains(err.Error(), "tag") || strings.Contains(err.Error(), "\n") {
			t.Errorf("tag busybox %q: %v; want one line refusing the target", target, err)
		}
	}
	if idx, err := s.load(); err != nil || len(idx.Tags) != 0 {
		t.Errorf("the index: %v, %v; want no tags", idx, err)
	}
}

// The hand-written grammar says what distribution/reference says (the
// package Docker uses, kept out of the binary: its regular expressions are
// compiled at every start), for names written by hand and for generated ones.
func TestCheckReferenceAgreesWithDocker(t *testing.T) {
	for _, ref := range referenceCorpus() {
		_, theirs := reference.ParseNormalizedNamed(ref)
		if ours := checkReference(ref); (ours == nil) != (theirs == nil) {
			t.Errorf("%q: glassbox says %v, distribution/reference says %v", ref, ours, theirs)
		}
	}
}

// canonical names a reference as go-containerregistry does — the keys pulls
// and imports put in the index — for every reference go-containerregistry
// takes.
func TestCanonicalIsGoContainerregistrys(t *testing.T) {
	corpus := append(referenceCorpus(), "docker.io/busybox", "index.docker.io/busybox", "docker.io/x/y:z",
		"localhost:5000", "localhost", "a:b/c", "http://x/y", "https://x/y", "x@@sha256:"+strings.Repeat("0", 64),
		"x:1@sha256:"+strings.Repeat("0", 64)+"@x", "a/b:c@sha384:"+strings.Repeat("e", 96), "[::1]:5000/a:b", "127.0.0.1/a")
	for _, ref := range corpus {
		theirs, err := name.ParseReference(ref)
		if err != nil {
			continue
		}
		n, digest, ok := canonical(ref)
		d, isDigest := theirs.(name.Digest)
		if !ok || n != theirs.Name() || isDigest != (digest != "") || isDigest && digest != d.DigestStr() {
			t.Errorf("%q: glassbox %q %q %v, go-containerregistry %q", ref, n, digest, ok, theirs.Name())
		}
	}
}

// referenceCorpus is names written by hand and generated ones.
func referenceCorpus() []string {
	corpus := []string{
		"busybox", "busybox:1.36", "library/busybox", "docker.io/library/busybox:latest", "a", "a/b/c/d",
		"127.0.0.1:5000/demo/app:v1", "localhost:5000/a_b__c-d.e", "localhost/x", "LOCALHOST/x", "Registry.Example/x",
		"[::1]:5000/x", "[::1]/x", "[fe80::1%eth0]/x", "example.com:/x", "example.com:abc/x", "-example.com/x", "example-.com/x",
		"a..b", "a._b", "a__b", "a___b", "a--b", "a-", "_a", "a.", "a/b/", "/a", "a//b", "a:b:c", "a:" + strings.Repeat("t", 128),
		"a:" + strings.Repeat("t", 129), "a:.t", "a:-t", "a:_t", "a@sha256:" + strings.Repeat("0", 64), "a@sha256:" + strings.Repeat("0", 63),
		"a@sha512:" + strings.Repeat("0", 128), "a@md5:" + strings.Repeat("0", 32), "a@SHA256:" + strings.Repeat("0", 64),
		"a:tag@sha256:" + strings.Repeat("f", 64), strings.Repeat("ab", 32), strings.Repeat("ab", 32) + ":x",
		"Busybox", "bUSYBOX", "a/B", "ex.com/Upper", "x y", "x\n", "é", strings.Repeat("a", 255), strings.Repeat("a", 256),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "b", "0", "-", "_", "__", ".", "/", ":", "@", "sha256", "sha512", strings.Repeat("c", 64), "A", "localhost", "5000", "[", "]", "::1", "é", " "}
	for range 3000 {
		var b strings.Builder
		for range 1 + rng.IntN(7) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		corpus = append(corpus, b.String())
	}
	return corpus
}
