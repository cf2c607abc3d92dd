package output

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/whittle-build/whittle/internal/resolve"
	"github.com/whittle-build/whittle/internal/store"
)

func mustParse(t *testing.T, s string) Spec {
	t.Helper()
	spec, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestWriteImageTagsTheStore(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	desc := storeImage(t, st, testImage(t, "1"))
	if err := Write(ctx, st, desc, []string{"app:1", "example.com/team/app:2"}, mustParse(t, "type=image"), Options{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"app:1", "app", "example.com/team/app:2"} {
		got, err := st.Lookup(n)
		if n == "app" {
			if err == nil {
				t.Errorf("app:latest was tagged")
			}
			continue
		}
		if err != nil || got.Digest != desc.Digest {
			t.Errorf("Lookup(%s) = %v, %v", n, got.Digest, err)
		}
	}
	// name= wins over the build's names.
	if err := Write(ctx, st, desc, []string{"ignored:1"}, mustParse(t, "type=image,name=other:3"), Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Lookup("ignored:1"); err == nil {
		t.Error("names were used although name= was given")
	}
	if _, err := st.Lookup("other:3"); err != nil {
		t.Error(err)
	}
	if err := Write(ctx, st, desc, nil, mustParse(t, "type=image,push=true"), Options{}); err == nil {
		t.Error("push=true without a name did not fail")
	}
}

func TestWriteOCIDirectory(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	one := storeImage(t, st, testImage(t, "1"))
	two := storeImage(t, st, testImage(t, "2"))
	three := storeImage(t, st, testImage(t, "3"))
	dir := filepath.Join(t.TempDir(), "layout")
	spec := mustParse(t, "type=oci,dest="+dir)
	if err := Write(ctx, st, one, []string{"app:1"}, spec, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := Write(ctx, st, two, []string{"app:2", "example.com/other:2"}, spec, Options{}); err != nil {
		t.Fatal(err)
	}
	// app:1 again, now another image: replaces the entry, keeps the rest.
	if err := Write(ctx, st, three, []string{"app:1"}, spec, Options{}); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]v1.Hash{}
	for _, d := range im.Manifests {
		got[d.Annotations[ContainerdNameAnnotation]+" "+d.Annotations[store.RefNameAnnotation]] = d.Digest
	}
	want := map[string]v1.Hash{
		"docker.io/library/app:1 1": three.Digest,
		"docker.io/library/app:2 2": two.Digest,
		"example.com/other:2 2":     two.Digest,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("index.json entries (-want +got):\n%s", diff)
	}

	// whittle reads it back.
	res, err := resolve.New(resolve.Options{Store: openStore(t)}).Image(ctx, "oci-layout://"+dir+":app:2")
	if err != nil {
		t.Fatal(err)
	}
	if res.Descriptor.Digest != two.Digest {
		t.Errorf("read back %s, want %s", res.Descriptor.Digest, two.Digest)
	}

	t.Run("skopeo", func(t *testing.T) {
		skopeo := needTool(t, "skopeo")
		var info struct{ Digest string }
		if err := json.Unmarshal([]byte(run(t, skopeo, "inspect", "oci:"+dir+":1")), &info); err != nil {
			t.Fatal(err)
		}
		if info.Digest != three.Digest.String() {
			t.Errorf("skopeo inspect oci:DIR:1 says %s, want %s", info.Digest, three.Digest)
		}
	})
	t.Run("umoci", func(t *testing.T) {
		umoci := needTool(t, "umoci")
		bundle := filepath.Join(t.TempDir(), "bundle")
		// ":2" would be ambiguous to umoci: app:2 and other:2 share the tag.
		args := []string{"unpack", "--image", dir + ":1", bundle}
		if os.Geteuid() != 0 {
			args = append([]string{"--log", "error"}, append([]string{"unpack", "--rootless"}, args[1:]...)...)
		}
		run(t, umoci, args...)
		checkFilesystem(t, filepath.Join(bundle, "rootfs"), "3")
	})
}

// checkFilesystem checks the final filesystem of testImage(salt) in dir.
func checkFilesystem(t *testing.T, dir, salt string) {
	t.Helper()
	for f, want := range map[string]string{"c": "c" + salt, "dir/b": "b" + salt} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Error(err)
			continue
		}
		if string(b) != want {
			t.Errorf("%s holds %q, want %q", f, b, want)
		}
	}
	for _, gone := range []string{"a", ".wh.a"} {
		if _, err := os.Lstat(filepath.Join(dir, gone)); err == nil {
			t.Errorf("%s is there; the whiteout should have removed it", gone)
		}
	}
}

func TestWriteOCITarAndDocker(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	img := testImage(t, "1")
	desc := storeImage(t, st, img)
	dir := t.TempDir()
	ociTar := filepath.Join(dir, "app-oci.tar")
	dockerTar := filepath.Join(dir, "app-docker.tar")
	if err := Write(ctx, st, desc, []string{"app:1"}, mustParse(t, "type=oci,tar=true,dest="+ociTar), Options{}); err != nil {
		t.Fatal(err)
	}
	if err := Write(ctx, st, desc, []string{"app:1", "example.com/app:2"}, mustParse(t, "type=docker,dest="+dockerTar), Options{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ociTar, dockerTar} {
		ents, _ := os.ReadDir(filepath.Dir(f))
		for _, e := range ents {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("temporary file left: %s", e.Name())
			}
		}
	}
	f, _ := os.Open(ociTar)
	names := tarNames(t, f)
	f.Close()
	if slices.Contains(names, "manifest.json") || !slices.Contains(names, "index.json") || !slices.Contains(names, "oci-layout") {
		t.Errorf("OCI tar entries: %v", names)
	}

	// go-containerregistry reads the docker archive by its manifest.json.
	tag, _ := name.NewTag("example.com/app:2")
	fromDocker, err := tarball.ImageFromPath(dockerTar, &tag)
	if err != nil {
		t.Fatal(err)
	}
	wantConfig, _ := img.ConfigName()
	if got, _ := fromDocker.ConfigName(); got != wantConfig {
		t.Errorf("docker archive config %s, want %s", got, wantConfig)
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(dockerTar) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || !cmp.Equal(m[0].RepoTags, []string{"app:1", "example.com/app:2"}) {
		t.Errorf("manifest.json: %+v", m)
	}

	t.Run("skopeo", func(t *testing.T) {
		skopeo := needTool(t, "skopeo")
		var info struct {
			Digest string
			Layers []string
		}
		if err := json.Unmarshal([]byte(run(t, skopeo, "inspect", "oci-archive:"+ociTar+":1")), &info); err != nil {
			t.Fatal(err)
		}
		if info.Digest != desc.Digest.String() {
			t.Errorf("skopeo inspect oci-archive: digest %s, want %s", info.Digest, desc.Digest)
		}
		out := run(t, skopeo, "inspect", "--config", "docker-archive:"+dockerTar+":app:1")
		var cfg v1.ConfigFile
		if err := json.Unmarshal([]byte(out), &cfg); err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(cfg.Config.Cmd, []string{"/c"}) || len(cfg.RootFS.DiffIDs) != 2 {
			t.Errorf("skopeo inspect docker-archive: config %+v", cfg)
		}
		// skopeo copies the archive into a directory with every layer
		// verified against the config's diffIDs.
		run(t, skopeo, "copy", "docker-archive:"+dockerTar+":example.com/app:2", "oci:"+filepath.Join(t.TempDir(), "copy")+":x")
	})
}

func TestWriteFilesystem(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	desc := storeImage(t, st, testImage(t, "1"))
	dir := t.TempDir()

	file := filepath.Join(dir, "rootfs.tar")
	if err := Write(ctx, st, desc, nil, mustParse(t, "type=tar,dest="+file), Options{}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := tarNames(t, f), []string{"c", "dir/", "dir/b"}; !cmp.Equal(got, want) {
		t.Errorf("type=tar entries %v, want %v", got, want)
	}

	var stdout bytes.Buffer
	if err := Write(ctx, st, desc, nil, mustParse(t, "-"), Options{Stdout: &stdout}); err != nil {
		t.Fatal(err)
	}
	if got := tarNames(t, &stdout); !cmp.Equal(got, []string{"c", "dir/", "dir/b"}) {
		t.Errorf("tar on stdout: %v", got)
	}

	out := filepath.Join(dir, "out")
	if err := Write(ctx, st, desc, nil, mustParse(t, out), Options{}); err != nil {
		t.Fatal(err)
	}
	checkFilesystem(t, out, "1")
}

// TestWriteToSpecialFiles: a destination that is a named pipe or a device
// (`dest=/dev/null`, `/dev/stdout`) is written in place, never replaced by a
// renamed file; a symlink to a file stays a symlink, its target replaced;
// a directory is refused.
func TestWriteToSpecialFiles(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	desc := storeImage(t, st, testImage(t, "1"))
	dir := t.TempDir()
	want := []string{"c", "dir/", "dir/b"}

	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []string, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- tarNames(t, bytes.NewReader(b))
	}()
	if err := Write(ctx, st, desc, nil, mustParse(t, "type=tar,dest="+fifo), Options{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		// Replaced: the reader may wait on the old pipe for ever.
		t.Errorf("the named pipe is now %v (%v)", fi.Mode(), err)
	} else {
		select {
		case names := <-got:
			if !cmp.Equal(names, want) {
				t.Errorf("entries read from the pipe: %v, want %v", names, want)
			}
		case <-time.After(time.Minute):
			t.Error("nothing came out of the pipe")
		}
	}

	if os.Geteuid() == 0 {
		null := filepath.Join(dir, "null")
		if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Fatal(err)
		}
		if err := Write(ctx, st, desc, nil, mustParse(t, "type=tar,dest="+null), Options{}); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(null); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Errorf("the null device is now %v (%v)", fi.Mode(), err)
		}
	}

	target := filepath.Join(dir, "real.tar")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.tar")
	if err := os.Symlink("real.tar", link); err != nil {
		t.Fatal(err)
	}
	if err := Write(ctx, st, desc, nil, mustParse(t, "type=tar,dest="+link), Options{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink is now %v (%v)", fi.Mode(), err)
	}
	f, err := os.Open(target)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if names := tarNames(t, f); !cmp.Equal(names, want) {
		t.Errorf("entries of the link's target: %v, want %v", names, want)
	}

	if err := Write(ctx, st, desc, nil, mustParse(t, "type=tar,dest="+dir), Options{}); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("a directory as the destination: %v, want an error", err)
	}
}

// TestWriteLocalKeepsUserFiles: type=local writes the final filesystem
// into a directory that may hold the user's files; what the image's layers
// delete (a whiteout, an opaque directory) is not deleted from it, as with
// BuildKit's local exporter.
func TestWriteLocalKeepsUserFiles(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base,
		layerOf(t, tarEntry{"keep/", ""}, tarEntry{"keep/a", "image"}, tarEntry{"gone", "image"}),
		layerOf(t, tarEntry{"keep/", ""}, tarEntry{"keep/.wh..wh..opq", ""}, tarEntry{"keep/b", "new"}, tarEntry{".wh.gone", ""}),
	)
	if err != nil {
		t.Fatal(err)
	}
	desc := storeImage(t, st, img)
	out := t.TempDir()
	for name, body := range map[string]string{"keep/userfile": "precious", "gone": "precious too", "mine": "mine"} {
		p := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := Write(ctx, st, desc, nil, mustParse(t, "type=local,dest="+out), Options{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"keep/userfile": "precious", "gone": "precious too", "mine": "mine", "keep/b": "new"} {
		if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q (%v), want %q", name, b, err, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(out, "keep/a")); err == nil {
		t.Error("keep/a, which the image deleted, was written")
	}
}

// TestWriteFilesystemDamagedStore: a layer blob that is valid gzip of the
// right content but not the blob the image names (compressed again) fails
// type=tar and type=local: each blob is checked against its digest.
func TestWriteFilesystemDamagedStore(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	img := testImage(t, "1")
	desc := storeImage(t, st, img)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	digest, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	zw, err := gzip.NewWriterLevel(&again, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Header.Comment = "not the stored blob"
	zw.Write(raw)
	zw.Close()
	if err := os.WriteFile(st.BlobPath(digest), again.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, spec := range []string{"type=tar,dest=" + filepath.Join(dir, "fs.tar"), "type=local,dest=" + filepath.Join(dir, "fs")} {
		if err := Write(ctx, st, desc, nil, mustParse(t, spec), Options{}); err == nil || !strings.Contains(err.Error(), "the store is damaged") {
			t.Errorf("%s from a damaged store: %v, want an error naming the damage", spec, err)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := openStore(t)
	a := storeImage(t, src, testImage(t, "a"))
	b := storeImage(t, src, testImage(t, "b"))
	for n, d := range map[string]v1.Descriptor{"app:a": a, "example.com/team/app:b": b, "app:also-b": b} {
		if err := src.Tag(n, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, format := range []string{FormatDocker, FormatOCI} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Save(ctx, src, []string{"app:a", "example.com/team/app:b", "app:also-b"}, &buf, format); err != nil {
				t.Fatal(err)
			}
			saved := buf.Bytes()
			// Reproducible: the same images give the same bytes.
			var again bytes.Buffer
			if err := Save(ctx, src, []string{"app:a", "example.com/team/app:b", "app:also-b"}, &again, format); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(saved, again.Bytes()) {
				t.Error("two saves of the same images differ")
			}
			dst := openStore(t)
			names, err := Load(ctx, dst, bytes.NewReader(saved))
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(names)
			if want := []string{"app:a", "app:also-b", "example.com/team/app:b"}; !cmp.Equal(names, want) {
				t.Errorf("loaded names %v, want %v", names, want)
			}
			for n, want := range map[string]v1.Hash{"app:a": a.Digest, "example.com/team/app:b": b.Digest, "app:also-b": b.Digest} {
				got, err := dst.Lookup(n)
				if err != nil {
					t.Fatal(err)
				}
				if got.Digest != want {
					t.Errorf("%s: digest %s after the round trip, want %s", n, got.Digest, want)
				}
			}
			// Layers read back whole, diffIDs recorded.
			img, _ := dst.Lookup("app:a")
			out := filepath.Join(t.TempDir(), "fs")
			if err := Write(ctx, dst, img, nil, mustParse(t, out), Options{}); err != nil {
				t.Fatal(err)
			}
			checkFilesystem(t, out, "a")
		})
	}
	if err := Save(ctx, src, []string{"missing:1"}, io.Discard, ""); err == nil {
		t.Error("saved an image the store does not have")
	}
	if err := Save(ctx, src, []string{"app:a"}, io.Discard, "zip"); err == nil {
		t.Error("accepted format zip")
	}
}

func TestLoadForeignArchives(t *testing.T) {
	ctx := context.Background()
	img := testImage(t, "x")
	wantConfig, _ := img.ConfigName()

	t.Run("go-containerregistry docker archive", func(t *testing.T) {
		var buf bytes.Buffer
		tag, _ := name.NewTag("example.com/x:1")
		if err := tarball.Write(tag, img, &buf); err != nil {
			t.Fatal(err)
		}
		st := openStore(t)
		names, err := Load(ctx, st, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(names, []string{"example.com/x:1"}) {
			t.Errorf("names %v", names)
		}
		d, err := st.Lookup("example.com/x:1")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := st.Image(d)
		if c, _ := got.ConfigName(); c != wantConfig {
			t.Errorf("config %s, want %s", c, wantConfig)
		}
	})
	t.Run("skopeo docker-archive and oci-archive", func(t *testing.T) {
		skopeo := needTool(t, "skopeo")
		st := openStore(t)
		desc := storeImage(t, st, img)
		dir := t.TempDir()
		layoutDir := filepath.Join(dir, "layout")
		if err := Write(ctx, st, desc, []string{"x:1"}, mustParse(t, "type=oci,dest="+layoutDir), Options{}); err != nil {
			t.Fatal(err)
		}
		dockerTar := filepath.Join(dir, "skopeo-docker.tar")
		ociTar := filepath.Join(dir, "skopeo-oci.tar")
		run(t, skopeo, "copy", "oci:"+layoutDir+":1", "docker-archive:"+dockerTar+":skopeo/x:2")
		run(t, skopeo, "copy", "oci:"+layoutDir+":1", "oci-archive:"+ociTar+":skopeo/x:3")
		for file, want := range map[string]string{dockerTar: "skopeo/x:2", ociTar: "skopeo/x:3"} {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			dst := openStore(t)
			names, err := Load(ctx, dst, f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if !cmp.Equal(names, []string{want}) {
				t.Errorf("%s: names %v, want %s", file, names, want)
			}
			d, err := dst.Lookup(want)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := dst.Image(d)
			if c, _ := got.ConfigName(); c != wantConfig {
				t.Errorf("%s: config %s, want %s", file, c, wantConfig)
			}
			if file == ociTar && d.Digest != desc.Digest {
				t.Errorf("oci-archive: digest %s, want %s (skopeo copies OCI to OCI unchanged)", d.Digest, desc.Digest)
			}
		}
	})
	t.Run("garbage", func(t *testing.T) {
		if _, err := Load(ctx, openStore(t), strings.NewReader("not a tar")); err == nil {
			t.Error("loaded garbage")
		}
		var buf bytes.Buffer
		if err := newTar(&buf, map[string]string{"hello.txt": "hi"}); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(ctx, openStore(t), &buf); err == nil || !strings.Contains(err.Error(), "neither an OCI image layout") {
			t.Errorf("a tar without images: %v", err)
		}
	})
	t.Run("corrupt blob", func(t *testing.T) {
		st := openStore(t)
		desc := storeImage(t, st, img)
		if err := st.Tag("x:1", desc); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Save(ctx, st, []string{"x:1"}, &buf, FormatOCI); err != nil {
			t.Fatal(err)
		}
		// Flip one byte inside the first layer blob's content.
		b := buf.Bytes()
		m, _ := img.Manifest()
		i := bytes.Index(b, []byte("blobs/sha256/"+m.Layers[0].Digest.Hex))
		if i < 0 {
			t.Fatal("layer not found in the archive")
		}
		b[i+512+20] ^= 0xff
		if _, err := Load(ctx, openStore(t), bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "digest") {
			t.Errorf("a corrupt blob loaded: %v", err)
		}
	})
}

// TestWriteLocalOwners: type=local writes every file as the user running
// whittle, as BuildKit's local exporter does, whatever owners the image
// gives; modes stay (setuid included).
func TestWriteLocalOwners(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "home/", Mode: 0o755},
		{Typeflag: tar.TypeDir, Name: "home/app/", Mode: 0o750, Uid: 1000, Gid: 1000},
		{Typeflag: tar.TypeReg, Name: "home/app/tool", Mode: 0o4755, Uid: 1000, Gid: 1000, Size: 1},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("x"))
		}
	}
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	desc := storeImage(t, st, img)
	out := filepath.Join(t.TempDir(), "out")
	if err := Write(context.Background(), st, desc, nil, mustParse(t, "type=local,dest="+out), Options{}); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{"home/app": os.ModeDir | 0o750, "home/app/tool": os.ModeSetuid | 0o755} {
		fi, err := os.Lstat(filepath.Join(out, p))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() || fi.Mode() != mode {
			t.Errorf("%s: %v %d:%d, want %v owned by %d:%d", p, fi.Mode(), st.Uid, st.Gid, mode, os.Getuid(), os.Getgid())
		}
	}
}
