package analyze

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// The synthetic benchmark image: benchFiles regular files holding
// benchBytes bytes in benchLayers layers, plus a last layer that
// overwrites and deletes some of them. Content is part text-like
// (compresses about 3:1) and part random (does not compress).
const (
	benchFiles  = 30_000
	benchBytes  = 1 << 30
	benchLayers = 10
	benchCache  = "whittle-analyze-bench-v3"
)

// BenchmarkAnalyzeLarge analyses a 1 GiB, 30,000-file image read from an OCI
// layout on disk, as the local store serves it, with gzip and with zstd
// layers, through layer.Uncompressed() and with Options.ReadCompressed.
// The image is generated on first use into the system's temporary
// directory and kept there (delete whittle-analyze-bench-v3 to regenerate).
// Besides time per run it reports the CPU time (user+system: other load on
// the machine stretches the wall time, not this), the process's peak
// resident memory during the run (VmHWM, reset before each run) and the
// peak Go heap.
func BenchmarkAnalyzeLarge(b *testing.B) {
	for _, bc := range []struct {
		name, compression string
		readCompressed    bool
	}{
		{"gzip", "gzip", false},
		{"gzip-readcompressed", "gzip", true},
		{"zstd", "zstd", false},
		{"zstd-readcompressed", "zstd", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := bc.compression
			img := benchImage(b, c)
			b.SetBytes(benchBytes)
			var peakRSS, peakHeap uint64
			var cpu time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				runtime.GC()
				debug.FreeOSMemory()
				resetPeakRSS(b)
				stop := sampleHeap(&peakHeap)
				cpu0 := cpuTime(b)
				b.StartTimer()
				r, err := Analyze(context.Background(), img, "bench", Options{ReadCompressed: bc.readCompressed})
				b.StopTimer()
				cpu += cpuTime(b) - cpu0
				stop()
				if err != nil {
					b.Fatal(err)
				}
				if want := benchFinalFiles(); r.Files != want || r.WastedBytes == 0 {
					b.Fatalf("%d files and %d wasted bytes; want %d files and some waste", r.Files, r.WastedBytes, want)
				}
				peakRSS = max(peakRSS, readPeakRSS(b))
				b.StartTimer()
			}
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
		})
	}
}

// cpuTime returns the CPU time (user and system) this process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets the kernel's peak resident set size of this process.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak RSS (/proc/self/clear_refs): %v", err)
	}
}

// readPeakRSS returns VmHWM from /proc/self/status, in bytes.
func readPeakRSS(b *testing.B) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// sampleHeap records the largest heap object bytes seen every 10 ms into
// peak until the returned function is called. It reads runtime/metrics,
// which does not stop the world (runtime.ReadMemStats would, and its
// preemptions would show up in the measured CPU time).
func sampleHeap(peak *uint64) (stop func()) {
	var done atomic.Bool
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for !done.Load() {
			metrics.Read(sample)
			*peak = max(*peak, sample[0].Value.Uint64())
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return func() { done.Store(true); <-finished }
}

// benchImage returns the synthetic image compressed with compression,
// generating its OCI layout on first use.
func benchImage(b *testing.B, compression string) v1.Image {
	b.Helper()
	dir := filepath.Join(os.TempDir(), benchCache, compression)
	if _, err := os.Stat(filepath.Join(dir, "complete")); err != nil {
		b.Logf("generating the %s benchmark image in %s (once)", compression, dir)
		start := time.Now()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		if err := writeBenchLayout(dir, compression); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "complete"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated in %s", time.Since(start).Round(time.Second))
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		b.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		b.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		b.Fatal(err)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		b.Fatal(err)
	}
	return img
}

// writeBenchLayout writes the synthetic image as an OCI layout at dir.
func writeBenchLayout(dir, compression string) error {
	rng := rand.New(rand.NewPCG(1, 2))
	// Sizes: most files 1-40 KiB, 100 large files share the rest.
	sizes := make([]int64, benchFiles)
	var small int64
	for i := range sizes[100:] {
		sizes[100+i] = 1024 + rng.Int64N(39*1024)
		small += sizes[100+i]
	}
	for i := range 100 {
		sizes[i] = (benchBytes - small) / 100
	}
	sizes[0] += (benchBytes - small) % 100
	rng.Shuffle(len(sizes), func(i, j int) { sizes[i], sizes[j] = sizes[j], sizes[i] })

	words := benchWords(rng, 4000)
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	perLayer := benchFiles / benchLayers
	for l := range benchLayers + 1 {
		name := filepath.Join(tmp, fmt.Sprintf("layer%d", l))
		err := writeBenchLayer(name, compression, func(tw *tar.Writer) error {
			if l == benchLayers { // overwrite 200 files, delete 2 directories of 100
				for _, i := range benchOverwritten() {
					if err := benchFile(tw, benchPath(i), 4096, words, rng); err != nil {
						return err
					}
				}
				for _, p := range benchDeleted() {
					if err := tw.WriteHeader(&tar.Header{Name: filepath.Dir(p) + "/.wh." + filepath.Base(p), Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
						return err
					}
				}
				return nil
			}
			for i := l * perLayer; i < (l+1)*perLayer; i++ {
				if i%100 == 0 {
					if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/l%02d/d%03d/", l, (i%perLayer)/100), Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
						return err
					}
				}
				if err := benchFile(tw, benchPath(i), sizes[i], words, rng); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		mt := types.OCILayer
		if compression == "zstd" {
			mt = types.OCILayerZStd
		}
		layer, err := tarball.LayerFromFile(name, tarball.WithMediaType(mt))
		if err != nil {
			return err
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: mt,
			History: v1.History{CreatedBy: fmt.Sprintf("COPY data%d /data # synthetic", l)}}); err != nil {
			return err
		}
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img); err != nil {
		return err
	}
	return os.RemoveAll(tmp)
}

// writeBenchLayer writes a compressed tar made by fill to name.
func writeBenchLayer(name, compression string, fill func(*tar.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	var zw io.WriteCloser
	switch compression {
	case "zstd":
		if zw, err = zstd.NewWriter(bw); err != nil {
			return err
		}
	default:
		zw = pgzip.NewWriter(bw)
	}
	tw := tar.NewWriter(zw)
	if err := fill(tw); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// benchOverwritten lists the files the last layer writes again.
func benchOverwritten() []int {
	var out []int
	for k := range 200 {
		out = append(out, (k*149+50)%benchFiles)
	}
	return out
}

// benchDeleted lists the directories (100 files each) the last layer
// deletes.
func benchDeleted() []string { return []string{"data/l03/d007", "data/l08/d021"} }

// benchFinalFiles is the number of files in the final filesystem: the last
// layer's own files survive its whiteouts.
func benchFinalFiles() int {
	n := benchFiles - 100*len(benchDeleted())
	for _, i := range benchOverwritten() {
		for _, d := range benchDeleted() {
			if strings.HasPrefix(benchPath(i), d+"/") {
				n++
			}
		}
	}
	return n
}

// benchPath is the path of file number i: 100 files per directory, one
// tree per layer.
func benchPath(i int) string {
	perLayer := benchFiles / benchLayers
	return fmt.Sprintf("data/l%02d/d%03d/f%05d", i/perLayer, (i%perLayer)/100, i)
}

// benchFile writes a regular file of size bytes of fresh content: one in
// five files is random bytes, the others text drawn from a vocabulary of
// words with skewed frequencies (about 3:1 with gzip). The image as a whole
// compresses about 2:1, as images of binaries and libraries do.
func benchFile(tw *tar.Writer, name string, size int64, words []string, rng *rand.Rand) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		return err
	}
	buf := make([]byte, 0, size+16)
	if rng.IntN(5) == 0 {
		for int64(len(buf)) < size {
			buf = binary.LittleEndian.AppendUint64(buf, rng.Uint64())
		}
	} else {
		for int64(len(buf)) < size {
			buf = append(buf, words[int(rng.ExpFloat64()*400)%len(words)]...)
			buf = append(buf, " \n"[rng.IntN(12)/11])
		}
	}
	_, err := tw.Write(buf[:size])
	return err
}

// benchWords makes a vocabulary of n random words.
func benchWords(rng *rand.Rand, n int) []string {
	words := make([]string, n)
	for i := range words {
		w := make([]byte, 2+rng.IntN(9))
		for j := range w {
			w[j] = byte('a' + rng.IntN(26))
		}
		words[i] = string(w)
	}
	return words
}
