package output

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/whittle-build/whittle/internal/store"
)

// multiPlatform stores two images, for linux/amd64 (salt "amd") and
// linux/arm64 (salt "arm"), and an index of them, and returns the index.
func multiPlatform(t *testing.T, st *store.Store) v1.Descriptor {
	t.Helper()
	var descs []v1.Descriptor
	for _, p := range []struct{ arch, salt string }{{"amd64", "amd"}, {"arm64", "arm"}} {
		d := storeImage(t, st, testImage(t, p.salt))
		d.Platform = &v1.Platform{OS: "linux", Architecture: p.arch}
		descs = append(descs, d)
	}
	idx, err := st.WriteIndex(descs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// checkIndex checks that idx lists the two images of multiPlatform.
func checkIndex(t *testing.T, where string, idx v1.ImageIndex, want v1.Hash) {
	t.Helper()
	if got, err := idx.Digest(); err != nil || got != want {
		t.Fatalf("%s: index %v (%v), want %s", where, got, err, want)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var plats []string
	for _, d := range im.Manifests {
		plats = append(plats, d.Platform.String())
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		ls, err := img.Layers()
		if err != nil || len(ls) != 2 {
			t.Fatalf("%s: %s has %d layers (%v), want 2", where, d.Platform, len(ls), err)
		}
		// Every blob is there and matches its digest.
		if err := validateLayers(ls); err != nil {
			t.Errorf("%s: %s: %v", where, d.Platform, err)
		}
	}
	if !slices.Equal(plats, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("%s: platforms %v", where, plats)
	}
}

// readLayout opens the OCI layout dir: its index.json as an index and as
// a manifest.
func readLayout(t *testing.T, dir string) (v1.ImageIndex, *v1.IndexManifest) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return top, tm
}

func validateLayers(ls []v1.Layer) error {
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, _, err = v1.SHA256(rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func TestWriteIndex(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	desc := multiPlatform(t, st)
	dir := t.TempDir()

	t.Run("docker-refused", func(t *testing.T) {
		f := filepath.Join(dir, "d.tar")
		err := Write(ctx, st, desc, []string{"app:multi"}, mustParse(t, "type=docker,dest="+f), Options{})
		if err == nil || !strings.Contains(err.Error(), "single-platform") {
			t.Errorf("got %v, want a refusal naming single-platform images", err)
		}
		if _, err := os.Stat(f); err == nil {
			t.Error("a refused docker output left a file")
		}
	})

	t.Run("store", func(t *testing.T) {
		if err := Write(ctx, st, desc, []string{"app:multi"}, mustParse(t, "type=image"), Options{}); err != nil {
			t.Fatal(err)
		}
		d, err := st.Lookup("app:multi")
		if err != nil || d.Digest != desc.Digest {
			t.Fatalf("the store names %v (%v), want the index %s", d.Digest, err, desc.Digest)
		}
		// Saved as OCI the index goes whole, and loads back whole; as a
		// docker archive, the host's image.
		f := filepath.Join(dir, "saved.tar")
		w, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := Save(ctx, st, []string{"app:multi"}, w, FormatOCI); err != nil {
			t.Fatal(err)
		}
		w.Close()
		st2 := openStore(t)
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := Load(ctx, st2, r); err != nil {
			t.Fatal(err)
		}
		if d, err := st2.Lookup("app:multi"); err != nil || d.Digest != desc.Digest {
			t.Errorf("loaded back as %v (%v), want the index %s", d.Digest, err, desc.Digest)
		}
		var buf bytes.Buffer
		if err := Save(ctx, st, []string{"app:multi"}, &buf, FormatDocker); err != nil {
			t.Fatal(err)
		}
		m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
		if err != nil || len(m) != 1 {
			t.Fatalf("docker archive manifest.json: %v, %v", m, err)
		}
	})

	t.Run("oci", func(t *testing.T) {
		lay := filepath.Join(dir, "layout")
		if err := Write(ctx, st, desc, []string{"app:multi"}, mustParse(t, "type=oci,dest="+lay), Options{}); err != nil {
			t.Fatal(err)
		}
		top, tm := readLayout(t, lay)
		if len(tm.Manifests) != 1 || !tm.Manifests[0].MediaType.IsIndex() || tm.Manifests[0].Annotations[store.RefNameAnnotation] != "multi" {
			t.Fatalf("index.json: %+v, want one index entry named multi", tm.Manifests)
		}
		child, err := top.ImageIndex(tm.Manifests[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkIndex(t, "layout", child, desc.Digest)
	})

	t.Run("oci-tar", func(t *testing.T) {
		f := filepath.Join(dir, "multi.tar")
		if err := Write(ctx, st, desc, []string{"app:multi"}, mustParse(t, "type=oci,tar=true,dest="+f), Options{}); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "unpacked")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		run(t, "tar", "-xf", f, "-C", out)
		top, tm := readLayout(t, out)
		if len(tm.Manifests) != 1 || tm.Manifests[0].Digest != desc.Digest {
			t.Fatalf("index.json: %+v, want the index", tm.Manifests)
		}
		child, err := top.ImageIndex(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkIndex(t, "OCI tar", child, desc.Digest)
		t.Run("skopeo", func(t *testing.T) {
			skopeo := needTool(t, "skopeo")
			raw := run(t, skopeo, "inspect", "--raw", "oci-archive:"+f+":multi")
			var im v1.IndexManifest
			if err := json.Unmarshal([]byte(raw), &im); err != nil || len(im.Manifests) != 2 {
				t.Fatalf("skopeo inspect --raw: %v\n%s", err, raw)
			}
			// skopeo copies every platform, each verified.
			run(t, skopeo, "copy", "--all", "oci-archive:"+f+":multi", "oci:"+filepath.Join(t.TempDir(), "copy")+":x")
		})
	})

	t.Run("local-and-tar", func(t *testing.T) {
		local := filepath.Join(dir, "local")
		if err := Write(ctx, st, desc, nil, mustParse(t, "type=local,dest="+local), Options{}); err != nil {
			t.Fatal(err)
		}
		for sub, want := range map[string]string{"linux_amd64/c": "camd", "linux_arm64/c": "carm", "linux_arm64/dir/b": "barm"} {
			if b, err := os.ReadFile(filepath.Join(local, sub)); err != nil || string(b) != want {
				t.Errorf("%s: %q (%v), want %q", sub, b, err, want)
			}
		}
		if _, err := os.Stat(filepath.Join(local, "linux_amd64", "a")); err == nil {
			t.Error("linux_amd64/a survived its whiteout")
		}
		f := filepath.Join(dir, "fs.tar")
		if err := Write(ctx, st, desc, nil, mustParse(t, "type=tar,dest="+f), Options{}); err != nil {
			t.Fatal(err)
		}
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got := tarNames(t, r)
		want := []string{"linux_amd64/", "linux_amd64/c", "linux_amd64/dir/", "linux_amd64/dir/b", "linux_arm64/", "linux_arm64/c", "linux_arm64/dir/", "linux_arm64/dir/b"}
		if !slices.Equal(got, want) {
			t.Errorf("tar entries %q, want %q", got, want)
		}
	})

	t.Run("registry", func(t *testing.T) {
		reg := newCountingRegistry(t)
		dest := reg.host + "/team/app:multi"
		if err := Write(ctx, st, desc, []string{dest}, mustParse(t, "type=registry"), Options{}); err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(dest, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := remote.Index(ref)
		if err != nil {
			t.Fatal(err)
		}
		checkIndex(t, "registry", idx, desc.Digest)
		// type=image,push=true pushes too, and names the index in the store.
		dest2 := reg.host + "/team/app:again"
		if err := Write(ctx, st, desc, []string{dest2}, mustParse(t, "type=image,push=true"), Options{}); err != nil {
			t.Fatal(err)
		}
		if d, err := st.Lookup(dest2); err != nil || d.Digest != desc.Digest {
			t.Errorf("the store names %v (%v), want the index", d.Digest, err)
		}
	})
}
