package resolve

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

func TestImageFromStoreUsesNoNetwork(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	img := platformImage(t, v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
	desc, err := st.WriteImage(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Tag("registry.invalid/team/app:1", desc); err != nil {
		t.Fatal(err)
	}
	r := New(Options{Store: st, Transport: failTransport{t}})
	for _, ref := range []string{"registry.invalid/team/app:1", "docker-image://registry.invalid/team/app:1", desc.Digest.String(), desc.Digest.String()[:19]} {
		res, err := r.Image(ctx, ref)
		if err != nil {
			t.Fatalf("Image(%s): %v", ref, err)
		}
		if res.Descriptor.Digest != desc.Digest {
			t.Errorf("Image(%s) = %s, want %s", ref, res.Descriptor.Digest, desc.Digest)
		}
	}
	opened, err := r.Open(ctx, "registry.invalid/team/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if d := mustDigest(t, opened); d != desc.Digest {
		t.Errorf("Open = %s, want %s", d, desc.Digest)
	}
	ir, err := r.ResolveImage(ctx, "registry.invalid/team/app:1", "")
	if err != nil {
		t.Fatal(err)
	}
	if ir.Digest != desc.Digest || ir.Config == nil || ir.Config.Architecture != runtime.GOARCH || ir.Platform != DefaultPlatform() {
		t.Errorf("ResolveImage = %+v", ir)
	}
}

func TestPullThenStore(t *testing.T) {
	ctx := context.Background()
	reg := newCountingRegistry(t)
	img := platformImage(t, v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
	reg.push(t, "team/app:1", img)
	want := mustDigest(t, img)
	reg.take()

	st := openStore(t)
	ref := reg.host + "/team/app:1"
	res, err := New(Options{Store: st}).Image(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if res.Descriptor.Digest != want {
		t.Fatalf("pulled %s, want %s", res.Descriptor.Digest, want)
	}
	reqs := reg.take()
	// Manifest, config and two layers.
	if n := reg.count("GET /v2/team/app/blobs/", reqs); n != 3 {
		t.Errorf("pull fetched %d blobs, want 3: %v", n, reqs)
	}
	entries, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name != ref || entries[0].Descriptor.Digest != want {
		t.Errorf("store names after pull: %+v", entries)
	}

	// A new resolver on the same store: no request at all.
	res, err = New(Options{Store: st}).Image(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if res.Descriptor.Digest != want {
		t.Errorf("second resolve = %s", res.Descriptor.Digest)
	}
	if reqs := reg.take(); len(reqs) != 0 {
		t.Errorf("second resolve made requests: %v", reqs)
	}
	// The image reads back whole from the store.
	layers, err := res.Image.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("layers: %v, %v", layers, err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
}

func TestConcurrentImagePullsOnce(t *testing.T) {
	ctx := context.Background()
	reg := newCountingRegistry(t)
	img := platformImage(t, v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
	reg.push(t, "app:1", img)
	reg.take()
	r := New(Options{Store: openStore(t)})
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.Image(ctx, reg.host+"/app:1")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	reqs := reg.take()
	if n := reg.count("/manifests/", reqs); n != 1 {
		t.Errorf("%d manifest requests for 8 concurrent resolves, want 1: %v", n, reqs)
	}
	if n := reg.count("/blobs/", reqs); n != 3 {
		t.Errorf("%d blob requests, want 3: %v", n, reqs)
	}
}

func TestPlatformSelection(t *testing.T) {
	ctx := context.Background()
	reg := newCountingRegistry(t)
	idx, digests := platformIndex(t, "linux/amd64", "linux/arm64", "linux/arm/v7")
	r, err := name.ParseReference(reg.host + "/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	ref := reg.host + "/multi:1"

	for _, tc := range []struct{ platform, want string }{
		{"linux/arm64", "linux/arm64"},
		{"linux/arm64/v8", "linux/arm64"},
		{"linux/arm", "linux/arm/v7"},
		{"linux/amd64", "linux/amd64"},
	} {
		t.Run(strings.ReplaceAll(tc.platform, "/", "-"), func(t *testing.T) {
			res, err := New(Options{Store: st, Platform: tc.platform}).Image(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if res.Descriptor.Digest != digests[tc.want] {
				t.Errorf("got %s, want the %s image %s", res.Descriptor.Digest, tc.want, digests[tc.want])
			}
			cfg, err := res.Image.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.OS + "/" + cfg.Architecture; !strings.HasPrefix(tc.want, got) {
				t.Errorf("config platform %s, want %s", got, tc.want)
			}
		})
	}

	_, err = New(Options{Store: st, Platform: "linux/s390x"}).Image(ctx, ref)
	var pe *PlatformError
	if !errors.As(err, &pe) {
		t.Fatalf("s390x: got %v, want a PlatformError", err)
	}
	if got := strings.Join(pe.Available, ", "); got != "linux/amd64, linux/arm/v7, linux/arm64" {
		t.Errorf("available platforms %q", got)
	}
	if !strings.Contains(err.Error(), "linux/s390x") || !strings.Contains(err.Error(), "linux/arm/v7") {
		t.Errorf("error does not name the platforms: %v", err)
	}

	// The store has the three platforms pulled: asking for another one
	// without a registry says what the store has.
	_, err = New(Options{Store: st, Platform: "linux/ppc64le", Transport: errTransport{}}).Image(ctx, ref)
	var nf *NotFoundError
	if !errors.As(err, &nf) || strings.Join(nf.StorePlatforms, ", ") != "linux/amd64, linux/arm/v7, linux/arm64" {
		t.Fatalf("got %v, want a NotFoundError naming the stored platforms", err)
	}
	if !strings.Contains(err.Error(), "not linux/ppc64le") {
		t.Errorf("message: %v", err)
	}
}

// TestPullsForEachPlatformShareTheName: a multi-platform build pulls its
// base for every platform; the store's name keeps each platform's image (an
// index made in the store), so that builds without a registry find them all.
func TestPullsForEachPlatformShareTheName(t *testing.T) {
	ctx := context.Background()
	reg := newCountingRegistry(t)
	idx, digests := platformIndex(t, "linux/amd64", "linux/arm64")
	r, err := name.ParseReference(reg.host + "/base:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	ref := reg.host + "/base:1"
	for _, order := range [][]string{{"linux/amd64", "linux/arm64", "linux/arm64"}, {"linux/arm64", "linux/amd64"}} {
		st := openStore(t)
		for _, p := range order {
			res, err := New(Options{Store: st, Platform: p}).Image(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if res.Descriptor.Digest != digests[p] {
				t.Errorf("%v, %s: got %s, want %s", order, p, res.Descriptor.Digest, digests[p])
			}
		}
		if d, err := st.Lookup(ref); err != nil || !d.MediaType.IsIndex() {
			t.Errorf("%v: the store names %v (%v), want an index of both", order, d, err)
		}
		for _, p := range []string{"linux/amd64", "linux/arm64"} {
			res, err := New(Options{Store: st, Platform: p, Transport: errTransport{}}).Image(ctx, ref)
			if err != nil || res.Descriptor.Digest != digests[p] {
				t.Errorf("%v: offline for %s: %v, %v", order, p, res, err)
			}
		}
	}
}

func TestNotFoundSaysWhatToDo(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	r := New(Options{Store: st, Transport: errTransport{}})
	_, err := r.Image(ctx, "golang:bookworm")
	if err == nil {
		t.Fatal("resolved an image with no store entry and no network")
	}
	want := "image golang:bookworm is not in the local store (whittle images) and pulling it from index.docker.io failed: "
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q\ndoes not start with %q", err, want)
	}
	for _, s := range []string{"network unreachable (test transport)", "whittle base", "whittle load", "check the name"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("error does not match store.ErrNotFound")
	}

	// A closed port on loopback: a real connection failure.
	_, err = New(Options{Store: st}).Image(ctx, "127.0.0.1:1/nothing:1")
	if err == nil || !strings.Contains(err.Error(), "pulling it from 127.0.0.1:1 failed") {
		t.Errorf("closed port: %v", err)
	}
	// An image ID is never pulled.
	_, err = r.Image(ctx, "sha256:0123456789abcdef0123")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown image ID: %v", err)
	}
	// --pull says so.
	_, err = New(Options{Store: st, Pull: true, Transport: errTransport{}}).Image(ctx, "golang:bookworm")
	if err == nil || !strings.Contains(err.Error(), "--pull") {
		t.Errorf("--pull: %v", err)
	}
}

func TestPullOptionAsksTheRegistryOncePerResolver(t *testing.T) {
	ctx := context.Background()
	reg := newCountingRegistry(t)
	st := openStore(t)
	ref := reg.host + "/app:1"
	old := platformImage(t, v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
	reg.push(t, "app:1", old)
	if _, err := New(Options{Store: st}).Image(ctx, ref); err != nil {
		t.Fatal(err)
	}
	// The tag moves in the registry.
	newer := platformImage(t, v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
	reg.push(t, "app:1", newer)
	reg.take()

	res, err := New(Options{Store: st}).Image(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if res.Descriptor.Digest != mustDigest(t, old) {
		t.Errorf("without --pull: got %s, want the stored %s", res.Descriptor.Digest, mustDigest(t, old))
	}
	if reqs := reg.take(); len(reqs) != 0 {
		t.Errorf("without --pull the registry was asked: %v", reqs)
	}

	r := New(Options{Store: st, Pull: true})
	for range 3 {
		res, err = r.Image(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if res.Descriptor.Digest != mustDigest(t, newer) {
			t.Errorf("with --pull: got %s, want the registry's %s", res.Descriptor.Digest, mustDigest(t, newer))
		}
	}
	if n := reg.count("/manifests/", reg.take()); n != 1 {
		t.Errorf("--pull: %d manifest requests for three resolves, want 1", n)
	}
}

func TestOpenIsLazy(t *testing.T) {
	ctx := context.Background()
	reg := newCountingRegistry(t)
	img := platformImage(t, v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
	reg.push(t, "lazy:1", img)
	reg.take()
	st := openStore(t)
	opened, err := New(Options{Store: st}).Open(ctx, reg.host+"/lazy:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opened.ConfigFile(); err != nil {
		t.Fatal(err)
	}
	reqs := reg.take()
	if n := reg.count("/blobs/", reqs); n != 1 {
		t.Errorf("reading the config fetched %d blobs, want 1 (the config): %v", n, reqs)
	}
	if entries, _ := st.List(); len(entries) != 0 {
		t.Errorf("Open wrote into the store: %+v", entries)
	}
	m, err := opened.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		if st.HasBlob(l.Digest) {
			t.Errorf("Open stored layer %s", l.Digest)
		}
	}
}

func TestOCILayoutSources(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	v1img := platformImage(t, v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
	v2img := platformImage(t, v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
	testutil.WriteOCILayout(t, v1img, dir, "v1")
	testutil.WriteOCILayout(t, v2img, dir, "docker.io/library/app:v2")
	// A multi-platform index in a second layout.
	multi := t.TempDir()
	idx, digests := platformIndex(t, "linux/amd64", "linux/arm64")
	writeIndexLayout(t, multi, idx)

	cases := []struct {
		ref      string
		platform string
		want     v1.Hash
		err      string
	}{
		{ref: "oci-layout://" + dir + ":v1", want: mustDigest(t, v1img)},
		{ref: "oci:" + dir + ":v1", want: mustDigest(t, v1img)},
		{ref: "oci-layout://" + dir + ":app:v2", want: mustDigest(t, v2img)},
		{ref: "oci-layout://" + dir + ":docker.io/library/app:v2", want: mustDigest(t, v2img)},
		{ref: "oci-layout://" + dir + "@" + mustDigest(t, v2img).String(), want: mustDigest(t, v2img)},
		{ref: "oci-layout://" + dir, err: "holds 2 images and none is named latest"},
		{ref: "oci-layout://" + dir + ":v3", err: `no image named "v3"`},
		{ref: "oci-layout://" + multi, platform: "linux/arm64", want: digests["linux/arm64"]},
		{ref: "oci:" + multi, platform: "linux/amd64", want: digests["linux/amd64"]},
		{ref: "oci-layout://" + multi + "@" + digests["linux/arm64"].String(), platform: "linux/arm64", want: digests["linux/arm64"]},
		{ref: "oci-layout://" + multi, platform: "linux/riscv64", err: "offers linux/amd64, linux/arm64"},
		{ref: "oci-layout://" + filepath.Join(dir, "missing"), err: "reading OCI layout"},
	}
	for _, tc := range cases {
		t.Run(strings.TrimPrefix(tc.ref, dir), func(t *testing.T) {
			st := openStore(t)
			res, err := New(Options{Store: st, Platform: tc.platform, Transport: failTransport{t}}).Image(ctx, tc.ref)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Descriptor.Digest != tc.want {
				t.Errorf("got %s, want %s", res.Descriptor.Digest, tc.want)
			}
			// Imported by digest, not named.
			if _, err := st.Lookup(tc.want.String()); err != nil {
				t.Errorf("the store cannot find the import by digest: %v", err)
			}
			if entries, _ := st.List(); len(entries) != 0 {
				t.Errorf("import named something: %+v", entries)
			}
		})
	}
}

// writeIndexLayout writes idx as the one entry of an OCI layout in dir.
func writeIndexLayout(t *testing.T, dir string, idx v1.ImageIndex) {
	t.Helper()
	p, err := layout.Write(dir, mutate.IndexMediaType(empty.Index, types.OCIImageIndex))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
}

func TestDockerArchiveSource(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "app.tar")
	a := platformImage(t, v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
	b := platformImage(t, v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
	ta, _ := name.NewTag("app:a")
	tb, _ := name.NewTag("example.com/app:b")
	if err := tarball.MultiWriteToFile(file, map[name.Tag]v1.Image{ta: a, tb: b}); err != nil {
		t.Fatal(err)
	}
	configOf := func(img v1.Image) v1.Hash {
		h, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	for _, tc := range []struct {
		ref  string
		want v1.Hash
		err  string
	}{
		{ref: "docker-archive:" + file + ":app:a", want: configOf(a)},
		{ref: "docker-archive:" + file + ":docker.io/library/app:a", want: configOf(a)},
		{ref: "docker-archive:" + file + ":example.com/app:b", want: configOf(b)},
		{ref: "docker-archive:" + file, err: "single image"},
		{ref: "docker-archive:" + file + ":@5", err: "there is no @5"},
		{ref: "docker-archive:" + file + "x", err: "no such file"},
	} {
		t.Run(strings.TrimPrefix(tc.ref, "docker-archive:"+file), func(t *testing.T) {
			st := openStore(t)
			res, err := New(Options{Store: st, Transport: failTransport{t}}).Image(ctx, tc.ref)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := configOf(res.Image); got != tc.want {
				t.Errorf("config %s, want %s", got, tc.want)
			}
			if !st.HasBlob(res.Descriptor.Digest) {
				t.Errorf("manifest %s not in the store", res.Descriptor.Digest)
			}
		})
	}
	// Index @N of a one-image archive without names.
	one := filepath.Join(t.TempDir(), "one.tar")
	if err := tarball.Write(nil, a, mustCreate(t, one)); err != nil {
		t.Fatal(err)
	}
	res, err := New(Options{Store: openStore(t)}).Image(ctx, "docker-archive:"+one+":@0")
	if err != nil {
		t.Fatal(err)
	}
	if configOf(res.Image) != configOf(a) {
		t.Errorf("@0: wrong image")
	}
}

func mustCreate(t *testing.T, path string) io.Writer {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestPullOverTLSWithCAFile(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host + "/tls:1")
	if err := remote.Write(ref, img, remote.WithTransport(srv.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	// Without the CA: refused.
	_, err = New(Options{Store: openStore(t)}).Image(ctx, host+"/tls:1")
	if err == nil {
		t.Fatal("pulled over TLS from a registry whose CA is not trusted")
	}
	// With the CA in a bundle file: pulled over TLS.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	cert := srv.Certificate()
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := New(Options{Store: openStore(t), CAFile: caFile, Platform: "linux/amd64"}).Image(ctx, host+"/tls:1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Descriptor.Digest != mustDigest(t, img) {
		t.Errorf("pulled %s, want %s", res.Descriptor.Digest, mustDigest(t, img))
	}
}
