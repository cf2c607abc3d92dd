package testutil

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"sort"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// HostBusybox is where Debian's busybox-static package installs its binary.
const HostBusybox = "/bin/busybox"

// BusyboxApplets are the applets linked to /bin/busybox in the busybox
// fixture image, in /bin. Every one exists in Debian bookworm's busybox-static.
var BusyboxApplets = []string{
	"[", "[[", "ash", "awk", "basename", "cat", "chgrp", "chmod", "chown", "cmp",
	"cp", "cut", "date", "dd", "df", "diff", "dirname", "du", "echo", "egrep", "env",
	"expr", "false", "find", "getopt", "grep", "groups", "gunzip", "gzip", "head",
	"hexdump", "hostname", "id", "kill", "ln", "ls", "md5sum", "mkdir", "mkfifo",
	"mktemp", "mv", "nproc", "od", "printf", "ps", "pwd", "readlink", "realpath", "rm",
	"rmdir", "sed", "seq", "sh", "sha1sum", "sha256sum", "sha512sum", "sleep", "sort",
	"stat", "sync", "tail", "tar", "tee", "test", "timeout", "touch", "tr", "true",
	"truncate", "uname", "uniq", "vi", "wc", "wget", "which", "whoami", "xargs", "yes",
	"zcat",
}

const (
	busyboxPasswd = "root:x:0:0:root:/root:/bin/sh\n" +
		"app:x:1000:1000:app:/home/app:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	busyboxGroup = "root:x:0:\n" +
		"app:x:1000:\n" +
		"nogroup:x:65534:\n"
)

// BusyboxImage returns a one-layer OCI image around the host's /bin/busybox
// (Debian's busybox-static): the binary and its applet links in /bin,
// /etc/passwd with root, app (1000:1000) and nobody, /etc/group, /root,
// /home/app owned by app, /tmp with mode 1777, PATH in Env and Cmd ["sh"].
// Every time is FixtureTime, so the digest depends only on the busybox binary.
// Without /bin/busybox the test is skipped (failed when CI=true).
func BusyboxImage(t testing.TB) v1.Image {
	t.Helper()
	bin, err := os.ReadFile(HostBusybox)
	if err != nil {
		Unavailable(t, "reading %s (apt-get install busybox-static): %v", HostBusybox, err)
	}
	img, err := NewBusyboxImage(bin)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// NewBusyboxImage builds the busybox fixture image (see BusyboxImage) around
// the given busybox binary.
func NewBusyboxImage(busybox []byte) (v1.Image, error) {
	layerTar, err := busyboxLayerTar(busybox)
	if err != nil {
		return nil, fmt.Errorf("making the busybox layer: %w", err)
	}
	layer, err := newBytesLayer(layerTar)
	if err != nil {
		return nil, fmt.Errorf("making the busybox layer: %w", err)
	}
	cfg := &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: FixtureTime},
		Config: v1.Config{
			Env: []string{"PATH=" + DefaultPath},
			Cmd: []string{"sh"},
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	return ociImage(cfg, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: FixtureTime},
			CreatedBy: "whittle testutil: busybox",
		},
	})
}

// ociImage returns an image with OCI media types, the given config and layers.
func ociImage(cfg *v1.ConfigFile, adds ...mutate.Addendum) (v1.Image, error) {
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	// ConfigFile keeps the layers' diff IDs and history that Append wrote.
	current, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.RootFS = current.RootFS
	cfg.History = current.History
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("setting the config: %w", err)
	}
	return img, nil
}

// busyboxLayerTar writes the busybox layer as an uncompressed tar with sorted
// entries, numeric owners and fixed times.
func busyboxLayerTar(busybox []byte) ([]byte, error) {
	type entry struct {
		hdr  tar.Header
		body []byte
	}
	dir := func(name string, mode int64, uid int) entry {
		return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: uid}}
	}
	file := func(name string, mode int64, body []byte) entry {
		return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body: body}
	}
	entries := []entry{
		dir("bin", 0o755, 0),
		file("bin/busybox", 0o755, busybox),
	}
	for _, a := range BusyboxApplets {
		entries = append(entries, entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777}})
	}
	entries = append(entries,
		dir("etc", 0o755, 0),
		file("etc/group", 0o644, []byte(busyboxGroup)),
		file("etc/passwd", 0o644, []byte(busyboxPasswd)),
		dir("home", 0o755, 0),
		dir("home/app", 0o755, 1000),
		dir("root", 0o700, 0),
		dir("tmp", 0o1777, 0),
	)
	sort.Slice(entries, func(i, j int) bool { return entries[i].hdr.Name < entries[j].hdr.Name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		e.hdr.ModTime = FixtureTime
		e.hdr.Format = tar.FormatUSTAR
		if err := tw.WriteHeader(&e.hdr); err != nil {
			return nil, fmt.Errorf("writing %s: %w", e.hdr.Name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("writing %s: %w", e.hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing the tar: %w", err)
	}
	return buf.Bytes(), nil
}
