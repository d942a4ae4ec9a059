// Package volume keeps named volumes: directories that outlive the containers
// that use them (docker run -v NAME:/path, docker volume create), in the state
// root beside the containers:
//
//	<root>/volumes/<name>/volume.json   its name, creation time, labels
//	<root>/volumes/<name>/_data         what containers see: bind-mounted at their path
//
// A volume is made the first time a container names it, or by Create. It goes
// only by Remove, and not while a container (running or not) still has it.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/internal/atomicfile"
)

// Volume is one named volume.
type Volume struct {
	Name    string            `json:"name"`
	Created time.Time         `json:"created"`
	Labels  map[string]string `json:"labels,omitempty"`
	Path    string            `json:"-"` // its _data directory: what is mounted
}

// The ways a volume is not what a caller asked for.
var (
	ErrNotFound = errors.New("no such volume")
	ErrInUse    = errors.New("is in use")
)

// Dir is where a state root's volumes live.
func Dir(root string) string { return filepath.Join(root, "volumes") }

// Get reads a volume, or says there is none (ErrNotFound). A name no volume
// can have (../x) names none.
func Get(root, name string) (*Volume, error) {
	if !container.ValidName(name) {
		return nil, fmt.Errorf("volume %q: %w", name, ErrNotFound)
	}
	data, err := os.ReadFile(filepath.Join(Dir(root), name, "volume.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("volume %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("volume %s: %w", name, err)
	}
	var v Volume
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("volume %s: %w", name, err)
	}
	v.Path = filepath.Join(Dir(root), name, "_data")
	return &v, nil
}

// Ensure gives the volume of that name, made now if there is none ("" makes
// one named by a random id, as docker's anonymous ones). made: it is new.
func Ensure(root, name string, labels map[string]string) (v *Volume, made bool, err error) {
	if name == "" {
		id := make([]byte, 32)
		rand.Read(id)
		name = hex.EncodeToString(id)
	}
	if !container.ValidName(name) {
		return nil, false, fmt.Errorf("volume name %q: letters, digits, _ . - (not first), at most 64", name)
	}
	if v, err := Get(root, name); err == nil || !errors.Is(err, ErrNotFound) {
		return v, false, err
	}
	dir := filepath.Join(Dir(root), name)
	if err := os.MkdirAll(filepath.Join(dir, "_data"), 0o755); err != nil {
		return nil, false, fmt.Errorf("volume %s: %w", name, err)
	}
	// The state root and volumes/ are searchable, as containers' are: a
	// container's user (a host uid of no privilege, under userns) reaches
	// _data below them.
	os.Chmod(Dir(root), 0o711)
	os.Chmod(dir, 0o711)
	v = &Volume{Name: name, Created: time.Now().UTC(), Labels: labels, Path: filepath.Join(dir, "_data")}
	data, _ := json.Marshal(v)
	// A second maker of the same name writes the same record: either wins.
	if err := atomicfile.WriteFile(filepath.Join(dir, "volume.json"), data, 0o600); err != nil {
		return nil, false, fmt.Errorf("volume %s: %w", name, err)
	}
	return v, true, nil
}

// PathOf is where volume name's files are (made or not), once the name is
// one a volume can have.
func PathOf(root, name string) (string, error) {
	if !container.ValidName(name) {
		return "", fmt.Errorf("volume name %q: letters, digits, _ . - (not first), at most 64", name)
	}
	return filepath.Join(Dir(root), name, "_data"), nil
}

// List gives a root's volumes, by name.
func List(root string) ([]*Volume, error) {
	entries, err := os.ReadDir(Dir(root))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Volume
	for _, e := range entries {
		if v, err := Get(root, e.Name()); err == nil {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a volume and what it holds, unless a container has it
// (users: the containers that do).
func Remove(root, name string, users func(path string) []string) error {
	v, err := Get(root, name)
	if err != nil {
		return err
	}
	if who := users(v.Path); len(who) > 0 {
		return fmt.Errorf("volume %s %w by container %s: remove the container first", name, ErrInUse, strings.Join(who, ", "))
	}
	return os.RemoveAll(filepath.Dir(v.Path))
}

// NameOf says whether a -v source names a volume (not a host path), and
// which.
func NameOf(source string) (string, bool) {
	return source, source != "" && !strings.HasPrefix(source, "/") && !strings.HasPrefix(source, ".")
}
