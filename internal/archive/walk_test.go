package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWalk(t *testing.T) {
	layer := makeTar(t,
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "global", PAXRecords: map[string]string{"comment": "x"}}},
		dirEntry("./d/"),
		reg("d/f", "hello"),
		reg("d/.wh.gone", ""),
		reg("/e/.wh..wh..opq", ""),
		reg(".wh..wh.aufs", ""),
		symEntry("l", "d/f"),
	)
	want := []string{"d/ 0", "d/f 0 hello", "d/gone 1", "e 2", "l 0"}
	for _, c := range []Compression{None, Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			var got []string
			err := Walk(context.Background(), bytes.NewReader(compress(t, layer, c, 1<<20)), func(e Entry, content io.Reader) error {
				data, err := io.ReadAll(content)
				if err != nil {
					return err
				}
				s := fmt.Sprintf("%s %d", e.Path, e.Whiteout)
				if e.Header.Typeflag == tar.TypeDir {
					s = fmt.Sprintf("%s/ %d", e.Path, e.Whiteout)
				}
				if len(data) > 0 {
					s += " " + string(data)
				}
				got = append(got, s)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWalkErrors(t *testing.T) {
	stop := errors.New("stop")
	err := Walk(context.Background(), bytes.NewReader(makeTar(t, reg("a", ""), reg("b", ""))), func(e Entry, _ io.Reader) error {
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("Walk returned %v, want the callback's error", err)
	}
	err = Walk(context.Background(), bytes.NewReader(makeTar(t, reg("a/../../x", ""))), func(Entry, io.Reader) error { return nil })
	if !errors.Is(err, ErrUnsafePath) {
		t.Errorf("Walk of an escaping name: %v, want ErrUnsafePath", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = Walk(ctx, bytes.NewReader(makeTar(t, reg("a", ""))), func(Entry, io.Reader) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Walk with a cancelled context: %v", err)
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		in, want string
		unsafe   bool
	}{
		{"usr/bin/", "usr/bin", false},
		{"./usr/bin", "usr/bin", false},
		{"/etc/passwd", "etc/passwd", false},
		{"//a//b/./c", "a/b/c", false},
		{"a/../b", "b", false},
		{"./", "", false},
		{"/", "", false},
		{"", "", false},
		{"..", "", true},
		{"../a", "", true},
		{"a/../../b", "", true},
		{"/../a", "", true},
		{"...", "...", false},
		{"..a", "..a", false},
	}
	for _, tt := range tests {
		got, err := CleanPath(tt.in)
		if tt.unsafe != errors.Is(err, ErrUnsafePath) || got != tt.want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q, unsafe %v", tt.in, got, err, tt.want, tt.unsafe)
		}
	}
	if _, err := CleanPath("a\x00b"); err == nil {
		t.Error("CleanPath accepted a NUL byte")
	}
}
