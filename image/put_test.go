package image

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// layersOf serves an image whose layers are fetched through fetch.
type layersOf struct {
	v1.Image
	fetch func(i int, l v1.Layer) (io.ReadCloser, error)
}

func (img layersOf) Layers() ([]v1.Layer, error) {
	layers, err := img.Image.Layers()
	for i, l := range layers {
		layers[i] = fetched{l, func() (io.ReadCloser, error) { return img.fetch(i, l) }}
	}
	return layers, err
}

type fetched struct {
	v1.Layer
	compressed func() (io.ReadCloser, error)
}

func (l fetched) Compressed() (io.ReadCloser, error) { return l.compressed() }

// Layers come side by side, and each lands whole in the store.
func TestPutLayersSideBySide(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unpacking layers needs root (device files, owners)")
	}
	img, err := random.Image(4096, 6)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Put(img, []string{"side:1"}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	for i, l := range rec.Layers {
		if l.DiffID != cfg.RootFS.DiffIDs[i].String() {
			t.Errorf("layer %d: diff id %s, want %s (the record lists them in order)", i, l.DiffID, cfg.RootFS.DiffIDs[i])
		}
		if _, err := os.Stat(s.LayerDir(l.DiffID)); err != nil {
			t.Errorf("layer %d: %v", i, err)
		}
	}
}

// When a layer fails, the pull ends: the layers not yet begun are not
// fetched, and nothing half-made stays in the store.
func TestPutStopsAtAFailedLayer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unpacking layers needs root (device files, owners)")
	}
	const layers = 32
	base, err := random.Image(4096, layers)
	if err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int32
	broken := errors.New("connection reset by the registry")
	// The layers begun beside layer 0 wait until its fetch has begun. One
	// of them may still finish, and free its place for another, before
	// layer 0's goroutine has returned its error and the pull knows it
	// failed (it did so in a slow VM): how many begin in that moment is up
	// to the scheduler, but it is a few, never most of them.
	failing := make(chan struct{})
	img := layersOf{base, func(i int, l v1.Layer) (io.ReadCloser, error) {
		fetches.Add(1)
		if i == 0 {
			close(failing)
			return nil, broken
		}
		<-failing
		return l.Compressed()
	}}
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(img, []string{"broken:1"}, "", nil); !errors.Is(err, broken) {
		t.Fatalf("Put: %v, want the failed layer's error", err)
	}
	// Layer 0 fails at once; only the layers begun before that was known
	// (one per other CPU, and the few of that moment) go on.
	if n := fetches.Load(); n >= layers/2 {
		t.Errorf("%d of %d layers were fetched after the first one failed", n, layers)
	}
	for _, dir := range []string{filepath.Join(root, "images", "blobs", "sha256"), filepath.Join(root, "images", "layers")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp") {
				t.Errorf("%s left in %s", e.Name(), dir)
			}
		}
	}
}
