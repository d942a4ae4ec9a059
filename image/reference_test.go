package image

import (
	"strings"
	"testing"
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
