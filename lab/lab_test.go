package lab

import (
	"path/filepath"
	"strings"
	"testing"
)

// Every lab has its page, its check and hints, numbered in order; the
// directories the labs' functions spell out are the ones Env.Dir gives.
func TestLabsAreComplete(t *testing.T) {
	e := &Env{Home: "/h"}
	for i, l := range All {
		if l.N != i+1 || l.Check == nil || len(l.Hints) == 0 {
			t.Errorf("lab %d (%s): number, check or hints missing", l.N, l.Slug)
		}
		if page := l.Page(); !strings.HasPrefix(page, "# Lab ") || !strings.Contains(page, "## Check") {
			t.Errorf("lab %d: page %.60q", l.N, page)
		}
	}
	for n, dir := range map[int]string{3: lab3Dir, 5: lab5Dir, 11: lab11Dir, 12: lab12Dir} {
		l, _ := Find(n)
		if e.Dir(l) != filepath.Join(e.Home, dir) {
			t.Errorf("lab %d: Env.Dir %s, the lab uses %s", n, e.Dir(l), dir)
		}
	}
}
