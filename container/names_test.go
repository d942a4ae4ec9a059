package container

import (
	"os"
	"path/filepath"
	"testing"
)

// namesIn reads the names from the records' first fields, and a record that
// is cut short, empty or not JSON at all names nothing rather than failing.
func TestNamesIn(t *testing.T) {
	root := t.TempDir()
	for id, name := range map[string]string{"a1": "web", "b2": "", "c3": "db"} {
		c := &Container{Dir: filepath.Join(ContainersDir(root), id), Record: Record{ID: id, Name: name, Status: Exited}}
		os.MkdirAll(c.Dir, 0o700)
		if err := c.Save(); err != nil {
			t.Fatal(err)
		}
	}
	for id, data := range map[string]string{"d4": `{"id": "d4"`, "e5": ``, "f6": `null`, "g7": `{"name": 7}`} {
		os.MkdirAll(filepath.Join(ContainersDir(root), id), 0o700)
		os.WriteFile(filepath.Join(ContainersDir(root), id, "state.json"), []byte(data), 0o600)
	}
	got, err := namesIn(root)
	if err != nil || len(got) != 2 || got["web"] != "a1" || got["db"] != "c3" {
		t.Errorf("namesIn: %v %v, want web=a1 db=c3", got, err)
	}
}
