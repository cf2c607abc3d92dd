package compat

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"

	"github.com/whittle-build/whittle/internal/testutil"
)

// archiveDirTime and archiveFileTime are times of entries of archiveTar.
var (
	archiveDirTime  = time.Date(2011, time.March, 4, 5, 6, 7, 0, time.UTC)
	archiveFileTime = time.Date(2012, time.April, 5, 6, 7, 8, 0, time.UTC)
)

// archiveTar is a small tar with what ADD must keep when it unpacks: a
// directory owned by uid 1000 with mode 0750, files with their own times and
// modes (one setuid), a symlink, and a hard link.
func archiveTar(t *testing.T) []byte {
	t.Helper()
	dataTime := time.Date(2013, time.May, 6, 7, 8, 9, 0, time.UTC)
	files := []tarFile{
		{tar.Header{Typeflag: tar.TypeDir, Name: "app/", Mode: 0o750, Uid: 1000, Gid: 1000, ModTime: archiveDirTime}, ""},
		{tar.Header{Typeflag: tar.TypeDir, Name: "app/bin/", Mode: 0o755, ModTime: archiveDirTime}, ""},
		{tar.Header{Typeflag: tar.TypeReg, Name: "app/bin/tool", Mode: 0o755}, "#!/bin/sh\necho tool\n"},
		{tar.Header{Typeflag: tar.TypeReg, Name: "app/bin/suid", Mode: 0o4755}, "setuid\n"},
		{tar.Header{Typeflag: tar.TypeReg, Name: "app/data.txt", Mode: 0o640, Uid: 1000, Gid: 1000, ModTime: dataTime}, "data\n"},
		{tar.Header{Typeflag: tar.TypeSymlink, Name: "app/link", Linkname: "data.txt", Mode: 0o777}, ""},
		// A hard link's header carries its file's metadata, as tar and Go's
		// FileInfoHeader write it (extractors apply it to the shared inode).
		{tar.Header{Typeflag: tar.TypeLink, Name: "app/hard", Linkname: "app/data.txt", Mode: 0o640, Uid: 1000, Gid: 1000, ModTime: dataTime}, ""},
		{tar.Header{Typeflag: tar.TypeReg, Name: "top.txt", Mode: 0o644}, "top\n"},
	}
	for i := range files {
		if files[i].ModTime.IsZero() {
			files[i].ModTime = archiveFileTime
		}
		files[i].Format = tar.FormatPAX
	}
	return tarBytes(t, files...)
}

// tarFile is an entry of a tar a test makes, and its content.
type tarFile struct {
	tar.Header
	body string
}

// tarBytes makes a tar of files, each header's size that of its body.
func tarBytes(t *testing.T, files ...tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := f.Header
		h.Size = int64(len(f.body))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// setupArchives writes archive.tar and its gzip, bzip2, xz and zstd forms.
func setupArchives(t *testing.T, dir string) {
	raw := archiveTar(t)
	writeFile(t, filepath.Join(dir, "archive.tar"), raw)
	writeFile(t, filepath.Join(dir, "archive.tar.gz"), gzipBytes(t, raw))

	var xzBuf bytes.Buffer
	xw, err := xz.NewWriter(&xzBuf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := xw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "archive.tar.xz"), xzBuf.Bytes())

	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "archive.tar.zst"), zw.EncodeAll(raw, nil))

	// Go has no bzip2 writer: Debian's bzip2 makes it.
	cmd := exec.Command(testutil.Tool(t, "bzip2"), "-c")
	cmd.Stdin = bytes.NewReader(raw)
	bz, err := cmd.Output()
	if err != nil {
		t.Fatalf("bzip2: %v", err)
	}
	writeFile(t, filepath.Join(dir, "archive.tar.bz2"), bz)
}

// setupLinks makes files/: a hard link and symlinks of every kind.
func setupLinks(t *testing.T, dir string) {
	files := filepath.Join(dir, "files")
	for _, err := range []error{
		os.Link(filepath.Join(files, "target.txt"), filepath.Join(files, "hard")),
		os.Symlink("target.txt", filepath.Join(files, "rel-link")),
		os.Symlink("/etc/passwd", filepath.Join(files, "abs-link")),
		os.Symlink("nowhere", filepath.Join(files, "dangling")),
		os.Symlink("../files", filepath.Join(files, "dir-link")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// mtimeFile is a context path of the mtimes case and its time.
type mtimeFile struct {
	path string
	t    time.Time
}

// mtimeFiles are the context paths of the mtimes case and their times,
// children before their directories. The directory's name is the case's
// own: buildctl builds share one copy of the context in buildkitd, synced
// from one build's context to the next, and BuildKit v0.34 leaves the time
// of the sync on a directory that the previous context had too (copy-rules
// has a "dir", so "dir" here failed whenever it ran after copy-rules).
func mtimeFiles() []mtimeFile {
	return []mtimeFile{
		{"old.txt", time.Date(2001, time.February, 3, 4, 5, 6, 0, time.UTC)},
		{"new.txt", time.Date(2023, time.November, 12, 13, 14, 15, 500_000_000, time.UTC)},
		{"mtimes-dir/f", time.Date(2012, time.December, 1, 2, 3, 4, 0, time.UTC)},
		{"mtimes-dir/sub/g", time.Date(2014, time.July, 8, 9, 10, 11, 0, time.UTC)},
		{"mtimes-dir/sub", time.Date(2015, time.August, 9, 10, 11, 12, 0, time.UTC)},
		{"mtimes-dir", time.Date(2010, time.January, 2, 3, 4, 5, 0, time.UTC)},
	}
}

// mtimeKeep are the paths whose times setupMtimes sets.
func mtimeKeep() []string {
	var out []string
	for _, f := range mtimeFiles() {
		out = append(out, f.path)
	}
	return out
}

// setupMtimes writes the archive and gives the files their own times.
func setupMtimes(t *testing.T, dir string) {
	writeFile(t, filepath.Join(dir, "archive.tar"), archiveTar(t))
	for _, f := range mtimeFiles() {
		if err := lchtimes(filepath.Join(dir, f.path), f.t); err != nil {
			t.Fatal(err)
		}
	}
}

// setupXattrs gives the copy-xattrs context's files extended attributes:
// user.origin on both, and on tool the security.capability that `setcap
// cap_net_bind_service=+ep` writes (VFS_CAP_REVISION_2, effective).
func setupXattrs(t *testing.T, dir string) {
	capability := make([]byte, 20)
	binary.LittleEndian.PutUint32(capability[0:], 0x02000001)
	binary.LittleEndian.PutUint32(capability[4:], 1<<unix.CAP_NET_BIND_SERVICE)
	for _, x := range []struct {
		file, name string
		value      []byte
	}{
		{"tool", "user.origin", []byte("context")},
		{"note", "user.origin", []byte("context")},
		{"tool", "security.capability", capability},
	} {
		if err := unix.Lsetxattr(filepath.Join(dir, x.file), x.name, x.value, 0); err != nil {
			t.Fatalf("setting %s on %s: %v", x.name, x.file, err)
		}
	}
}

// setupNames makes the names case's context: names/ with files whose names
// have spaces, non-ASCII letters and 200 characters, a symlink with a
// 150-character target, and plain.txt.
func setupNames(t *testing.T, dir string) {
	names := filepath.Join(dir, "names")
	if err := os.MkdirAll(names, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"plain.txt", "with space.txt", "ünïcödé-名前.txt", strings.Repeat("n", 200)} {
		writeFile(t, filepath.Join(names, n), []byte(n+"\n"))
	}
	if err := os.Symlink("/"+strings.Repeat("t", 149), filepath.Join(names, "long-link")); err != nil {
		t.Fatal(err)
	}
}
