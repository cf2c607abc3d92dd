package archive

import (
	"bytes"
	"math/rand"
	"testing"
)

// TestGzipMatchesPgzip checks that Compress(Gzip) writes exactly what
// pgzip writes, for streams below, at and above one block, written in
// one piece and in random pieces: layer digests must not depend on which
// path a stream took.
func TestGzipMatchesPgzip(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	sizes := []int{0, 1, 2, 100, 3000, 65535, 65536, 65537, 300000,
		gzipBlockSize - 1, gzipBlockSize, gzipBlockSize + 1, 2*gzipBlockSize + 12345}
	for _, n := range sizes {
		// Compressible text and incompressible bytes behave differently
		// in deflate (stored blocks).
		for _, random := range []bool{false, true} {
			data := make([]byte, n)
			for i := range data {
				if random {
					data[i] = byte(r.Intn(256))
				} else {
					data[i] = "abcd \n"[r.Intn(6)]
				}
			}
			var want bytes.Buffer
			pz, err := newPgzip(&want)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pz.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := pz.Close(); err != nil {
				t.Fatal(err)
			}
			for _, pieces := range []int{1, 7} {
				var got bytes.Buffer
				w, err := Compress(&got, Gzip)
				if err != nil {
					t.Fatal(err)
				}
				rest := data
				for i := 1; i < pieces && len(rest) > 0; i++ {
					k := r.Intn(len(rest) + 1)
					if _, err := w.Write(rest[:k]); err != nil {
						t.Fatal(err)
					}
					rest = rest[k:]
				}
				if _, err := w.Write(rest); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("%d bytes (random %v) in %d pieces: %d compressed bytes differ from pgzip's %d", n, random, pieces, got.Len(), want.Len())
				}
			}
		}
	}
}

func TestGzipWriterClose(t *testing.T) {
	var b bytes.Buffer
	w, err := Compress(&b, Gzip)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	n := b.Len()
	if err := w.Close(); err != nil || b.Len() != n {
		t.Errorf("second Close: %v, wrote %d more bytes; want nil and nothing", err, b.Len()-n)
	}
	if _, err := w.Write([]byte("y")); err == nil {
		t.Error("Write after Close succeeded")
	}
}
