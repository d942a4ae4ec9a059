package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BenchmarkImportVsUmoci imports a 100 MB, four-layer OCI layout (files of
// mixed sizes, half compressible text, half random bytes) into a fresh store
// — decompress, hash, unpack with the openat2 checks — and unpacks the same
// layout with umoci (`umoci unpack`, Debian's package), and reports both
// rates in MB/s of uncompressed content and glassbox's as a ratio of umoci's.
func BenchmarkImportVsUmoci(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	umoci, err := exec.LookPath("umoci")
	if err != nil {
		b.Skip("umoci is not installed (hack/bench.sh installs it)")
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "layout")
	size := writeBenchLayout(b, src, 4, 25<<20)
	mb := float64(size) / 1e6

	start := time.Now()
	s, err := Open(filepath.Join(dir, "state"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Import(src, "bench:1"); err != nil {
		b.Fatal(err)
	}
	ours := time.Since(start)

	start = time.Now()
	if out, err := exec.Command(umoci, "unpack", "--image", src+":bench", filepath.Join(dir, "bundle")).CombinedOutput(); err != nil {
		b.Fatalf("umoci unpack: %v %s", err, out)
	}
	theirs := time.Since(start)
	b.ReportMetric(mb/ours.Seconds(), "glassbox_MB/s")
	b.ReportMetric(mb/theirs.Seconds(), "umoci_MB/s")
	b.ReportMetric(theirs.Seconds()/ours.Seconds(), "ratio")
}

func writeBenchLayout(b *testing.B, out string, layers, perLayer int) int64 {
	rng := rand.New(rand.NewSource(1))
	img := ociImage()
	var total int64
	for l := 0; l < layers; l++ {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("layer%d/", l), Typeflag: tar.TypeDir, Mode: 0o755})
		for n, i := 0, 0; n < perLayer; i++ {
			size := 1 << (8 + rng.Intn(12)) // 256 B … 512 KiB
			data := make([]byte, size)
			if i%2 == 0 {
				rng.Read(data)
			} else {
				for j := range data {
					data[j] = "glassbox layer text\n"[j%20]
				}
			}
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("layer%d/f%05d", l, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(size)})
			tw.Write(data)
			n += size
		}
		tw.Close()
		total += int64(buf.Len())
		data := buf.Bytes()
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			b.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			b.Fatal(err)
		}
	}
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	img, _ = mutate.ConfigFile(img, cfg)
	p, err := layout.Write(out, empty.Index)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "bench"})); err != nil {
		b.Fatal(err)
	}
	return total
}
