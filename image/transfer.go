//go:build !lean

package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ParseReference reads a reference with Docker's defaults: busybox means
// index.docker.io/library/busybox:latest.
func (o Registry) ParseReference(ref string) (name.Reference, error) {
	if err := CheckReference(ref); err != nil {
		return nil, err
	}
	var opts []name.Option
	for _, reg := range o.Insecure {
		if strings.HasPrefix(ref, reg+"/") {
			opts = append(opts, name.Insecure)
		}
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return r, nil
}

func (o Registry) platform() (*v1.Platform, error) {
	if o.Platform == "" {
		return &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, nil
	}
	p, err := v1.ParsePlatform(o.Platform)
	if err != nil {
		return nil, fmt.Errorf("--platform %q: %w", o.Platform, err)
	}
	return p, nil
}

func (o Registry) options(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithContext(ctx)}
}

// Pull fetches an image (by tag or digest; from an index or manifest list,
// the one for the platform) and stores it.
func (s *Store) Pull(ctx context.Context, ref string, o Registry) (*Record, error) {
	r, err := o.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	plat, err := o.platform()
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, append(o.options(ctx), remote.WithPlatform(*plat))...)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", Familiar(r.Name()), unreachable(r.Context().RegistryStr(), err))
	}
	img, err := desc.Image() // an index resolves to the platform's image
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", Familiar(r.Name()), err)
	}
	if cfg, err := img.ConfigFile(); err == nil && (cfg.OS != plat.OS || cfg.Architecture != plat.Architecture) && cfg.OS != "" {
		return nil, fmt.Errorf("pull %s: the image is for %s/%s, not %s", Familiar(r.Name()), cfg.OS, cfg.Architecture, plat)
	}
	return s.Put(img, []string{r.Name()}, plat.String(), o.Progress)
}

// unreachable says what a registry that cannot be reached needs, rather
// than the resolver's words alone.
func unreachable(registry string, err error) error {
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &dns):
		return fmt.Errorf("cannot resolve the registry %s (%w): is there a network, a DNS server? A registry on this host is named by its address, 127.0.0.1:PORT/NAME", registry, err)
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Errorf("cannot connect to the registry %s (%w): is it running, on that port?", registry, err)
	}
	return err
}

// Push sends a stored image to a registry under ref, and gives its record.
func (s *Store) Push(ctx context.Context, ref string, o Registry) (*Record, error) {
	rec, err := s.Find(ref)
	if err != nil {
		return nil, err
	}
	r, err := o.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	img, err := s.Image(rec)
	if err != nil {
		return nil, err
	}
	if err := remote.Write(r, img, o.options(ctx)...); err != nil {
		return nil, fmt.Errorf("push %s: %w", Familiar(r.Name()), unreachable(r.Context().RegistryStr(), err))
	}
	return rec, nil
}

// Login checks credentials against a registry, then records them in
// ~/.docker/config.json (where Docker keeps them, and where pull and push
// look).
func Login(ctx context.Context, registry, user, password string, o Registry) error {
	var opts []name.Option
	for _, reg := range o.Insecure {
		if reg == registry {
			opts = append(opts, name.Insecure)
		}
	}
	reg, err := name.NewRegistry(registry, opts...)
	if err != nil {
		return fmt.Errorf("registry %q: %w", registry, err)
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	// The authenticated transport does the registry's handshake (a bearer
	// token exchange fails here on bad credentials); then GET /v2/ with it,
	// as Docker does, which basic auth only answers 200 with good ones.
	rt, err := transport.NewWithContext(ctx, reg, auth, http.DefaultTransport, []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return fmt.Errorf("login to %s: %w", registry, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return fmt.Errorf("login to %s: %w", registry, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("login to %s: %s (wrong user name or password?)", registry, resp.Status)
	}
	cf, err := config.Load(config.Dir())
	if err != nil {
		return fmt.Errorf("%s: %w", config.Dir(), err)
	}
	key := reg.RegistryStr()
	if key == name.DefaultRegistry {
		key = "https://index.docker.io/v1/" // the key Docker uses for Docker Hub
	}
	cf.AuthConfigs[key] = types.AuthConfig{Username: user, Password: password, ServerAddress: key}
	return cf.Save()
}

// Import reads images from a file or directory: a `docker save` archive, an
// OCI image layout (directory or tar), or a plain root filesystem tarball
// (one layer). tag names the image when the source does not, or overrides
// it when the source holds one image.
func (s *Store) Import(src, tag string) ([]*Record, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		if !exists(filepath.Join(src, "oci-layout")) {
			return nil, fmt.Errorf("%s is a directory but not an OCI image layout (no oci-layout file)", src)
		}
		return s.importLayout(src, tag)
	}
	names, err := tarNames(src)
	if err != nil {
		return nil, err
	}
	switch {
	case names["oci-layout"] && names["index.json"]:
		dir, err := os.MkdirTemp(s.path(), tmpPrefix()+"import-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := extractPlain(src, dir); err != nil {
			return nil, err
		}
		return s.importLayout(dir, tag)
	case names["manifest.json"]:
		return s.importDockerArchive(src, tag)
	}
	return s.importRootfs(src, tag)
}

// ImportFrom imports what Import reads from a file, from a stream (docker
// load's body), kept in the store's directory meanwhile.
func (s *Store) ImportFrom(r io.Reader) ([]*Record, error) {
	f, err := os.CreateTemp(s.path(), tmpPrefix()+"load-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, r)
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, fmt.Errorf("the archive to load: %w", err)
	}
	return s.Import(f.Name(), "")
}

func (s *Store) importLayout(dir, tag string) ([]*Record, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, d := range im.Manifests {
		if !d.MediaType.IsImage() {
			continue // nested indexes: not followed
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		tags := refsOf(tag, d.Annotations["org.opencontainers.image.ref.name"], len(im.Manifests))
		rec, err := s.Put(img, tags, "", nil)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("OCI layout %s lists no image", dir)
	}
	return out, nil
}

func (s *Store) importDockerArchive(path, tag string) ([]*Record, error) {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		return nil, fmt.Errorf("docker archive %s: %w", path, err)
	}
	var out []*Record
	for _, entry := range m {
		var t *name.Tag
		var tags []string
		for _, rt := range entry.RepoTags {
			if nt, err := name.NewTag(rt); err == nil {
				t = &nt
				tags = append(tags, nt.Name())
			}
		}
		img, err := tarball.ImageFromPath(path, t)
		if err != nil {
			return nil, fmt.Errorf("docker archive %s: %w", path, err)
		}
		if tag != "" && len(m) == 1 {
			tags = refsOf(tag, "", 1)
		}
		rec, err := s.Put(img, tags, "", nil)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// importRootfs makes a one-layer image of a root filesystem tarball.
func (s *Store) importRootfs(path, tag string) ([]*Record, error) {
	layer, err := tarball.LayerFromFile(path)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, err
	}
	rec, err := s.Put(img, refsOf(tag, "", 1), "", nil)
	if err != nil {
		return nil, err
	}
	return []*Record{rec}, nil
}

// refsOf picks an image's tag: the one given, else the source's own name.
func refsOf(given, own string, images int) []string {
	t := own
	if given != "" && images == 1 {
		t = given
	}
	if t == "" {
		return nil
	}
	if r, err := name.NewTag(t); err == nil {
		return []string{r.Name()}
	}
	return nil
}

// Save writes images as one OCI image layout tar, with a manifest.json
// beside it naming the same blobs, as docker save (25+) writes: glassbox
// import, docker load of either age and most tools read it back.
func (s *Store) Save(refs []string, w io.Writer) error {
	dir, err := os.MkdirTemp(s.path(), tmpPrefix()+"save-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	var archive tarball.Manifest // docker save's manifest.json
	for _, ref := range refs {
		rec, err := s.Find(ref)
		if err != nil {
			return err
		}
		img, err := s.Image(rec)
		if err != nil {
			return err
		}
		var opts []layout.Option
		entry := tarball.Descriptor{Config: "blobs/sha256/" + strings.TrimPrefix(rec.ID, "sha256:")}
		if r, err := name.ParseReference(ref); err == nil {
			if t, ok := r.(name.Tag); ok {
				opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": Familiar(t.Name())}))
				entry.RepoTags = []string{Familiar(t.Name())}
			}
		}
		for _, l := range rec.Layers {
			entry.Layers = append(entry.Layers, "blobs/sha256/"+strings.TrimPrefix(l.Digest, "sha256:"))
		}
		if err := p.AppendImage(img, opts...); err != nil {
			return err
		}
		archive = append(archive, entry)
	}
	data, err := json.Marshal(archive)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), data, 0o644); err != nil {
		return err
	}
	return writeTree(w, dir)
}

// tarNames lists the top-level regular files of a tar archive.
func tarNames(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s is not a tar archive: %w", path, err)
		}
		if n := strings.TrimPrefix(hdr.Name, "./"); !strings.Contains(n, "/") {
			names[n] = true
		}
	}
}

// extractPlain unpacks an OCI layout tar (files and directories only) with
// the layer unpacker's protections.
func extractPlain(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = Unpack(f, dir)
	return err
}
