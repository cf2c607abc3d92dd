package archive

import (
	"archive/tar"
	"bytes"
	stdgzip "compress/gzip"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// sample is data that compresses somewhat: text with random stretches,
// over several gzip blocks.
func sample() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 3<<20+4321; i++ {
		b.WriteString(strings.Repeat("whittle builds small images. ", i%17))
		b.Write(pseudoRandom(string(rune(i)), i%5000))
	}
	return b.Bytes()
}

// compress compresses data with c, writing it in chunks of the given size.
func compress(t testing.TB, data []byte, c Compression, chunk int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := Compress(&buf, c)
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		n := min(chunk, len(rest))
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCompressRoundTrip(t *testing.T) {
	data := sample()
	for _, c := range []Compression{None, Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			for _, in := range [][]byte{data, nil, []byte("x")} {
				z := compress(t, in, c, 64<<10)
				r, got, err := Decompress(bytes.NewReader(z))
				if err != nil {
					t.Fatal(err)
				}
				if got != c && len(in) > 0 {
					t.Errorf("Decompress found %q, want %q", got, c)
				}
				out, err := io.ReadAll(r)
				if err != nil {
					t.Fatal(err)
				}
				r.Close()
				if !bytes.Equal(out, in) {
					t.Errorf("%d bytes came back as %d other bytes", len(in), len(out))
				}
			}
		})
	}
}

func TestCompressDeterministic(t *testing.T) {
	data := sample()
	for _, c := range []Compression{Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			want := compress(t, data, c, len(data))
			for _, procs := range []int{1, 2, 8} {
				prev := runtime.GOMAXPROCS(procs)
				for _, chunk := range []int{511, 32 << 10, 1<<20 + 7} {
					if got := compress(t, data, c, chunk); !bytes.Equal(got, want) {
						t.Errorf("GOMAXPROCS=%d, writes of %d bytes: output differs", procs, chunk)
					}
				}
				runtime.GOMAXPROCS(prev)
			}
		})
	}
}

func TestGzipHeader(t *testing.T) {
	z := compress(t, []byte("hello"), Gzip, 5)
	// ID1 ID2 CM FLG MTIME(4) XFL OS: no name, no comment, no time.
	if flags, mtime := z[3], z[4:8]; flags != 0 || !bytes.Equal(mtime, []byte{0, 0, 0, 0}) {
		t.Errorf("gzip header flags %#x mtime %x, want no name and time zero", flags, mtime)
	}
	// Any gzip reader reads it, the standard library's included.
	r, err := stdgzip.NewReader(bytes.NewReader(compress(t, sample(), Gzip, 1<<16)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(out, sample()) {
		t.Errorf("compress/gzip read back %d bytes, %v", len(out), err)
	}
}

func TestDecompressDetects(t *testing.T) {
	want := []byte("hello from bzip2\n")
	bz, err := os.ReadFile("testdata/hello.txt.bz2") // made with bzip2(1): Go has no bzip2 writer
	if err != nil {
		t.Fatal(err)
	}
	var xzBuf bytes.Buffer
	xw, err := xz.NewWriter(&xzBuf)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(want)
	xw.Close()

	tests := []struct {
		name  string
		input []byte
		want  Compression
	}{
		{"gzip", compress(t, want, Gzip, 100), Gzip},
		{"zstd", compress(t, want, Zstd, 100), Zstd},
		{"bzip2", bz, Bzip2},
		{"xz", xzBuf.Bytes(), Xz},
		{"none", want, None},
		{"tar", makeTar(t, reg("hello", string(want))), None},
		{"empty", nil, None},
		{"tar named like bzip2", makeTar(t, reg("BZh91AY&SY", "x")), None},
		{"tar named like xz", makeTar(t, gnuNamed("\xfd7zXZ")), None},
		{"tar named like gzip", makeTar(t, gnuNamed("\x1f\x8b")), None},
		{"tar named like zstd", makeTar(t, gnuNamed("\x28\xb5\x2f\xfd")), None},
		{"short", []byte{0x1f}, None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, got, err := Decompress(bytes.NewReader(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got != tt.want {
				t.Errorf("Decompress found %q, want %q", got, tt.want)
			}
			out, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != None && !bytes.Equal(out, want) {
				t.Errorf("decompressed to %q, want %q", out, want)
			}
			if tt.want == None && !bytes.Equal(out, tt.input) {
				t.Errorf("uncompressed input came back changed")
			}
		})
	}
}

// gnuNamed is a file entry whose name bytes stand in the header block
// itself (GNU format), not in a PAX record before it.
func gnuNamed(name string) tarEntry {
	e := reg(name, "x")
	e.hdr.Format = tar.FormatGNU
	return e
}

func TestDecompressCorrupt(t *testing.T) {
	z := compress(t, sample(), Gzip, 1<<20)
	z[len(z)/2] ^= 0xff
	r, _, err := Decompress(bytes.NewReader(z))
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if err == nil {
		t.Error("a corrupted gzip stream read without error")
	}
}

func TestParseCompression(t *testing.T) {
	for in, want := range map[string]Compression{"": Gzip, "gzip": Gzip, "zstd": Zstd, "none": None} {
		if got, err := ParseCompression(in); err != nil || got != want {
			t.Errorf("ParseCompression(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"xz", "bzip2", "lz4", "GZIP"} {
		if _, err := ParseCompression(in); err == nil {
			t.Errorf("ParseCompression(%q) succeeded", in)
		}
	}
	if _, err := Compress(io.Discard, Xz); err == nil {
		t.Error("Compress with xz succeeded")
	}
}
