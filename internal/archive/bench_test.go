package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// benchTree makes the tree the benchmarks measure: 20,000 files in 420
// directories, about 200 MB. One file in a hundred is 512 KiB, the others
// up to 10 KiB; contents are half random, half text. It returns the number
// of content bytes.
func benchTree(b *testing.B, dir string) int64 {
	b.Helper()
	pool := append(pseudoRandom("pool", 1<<20), bytes.Repeat([]byte("FROM debian AS build\nRUN make\n"), (1<<20)/30)...)
	var total int64
	for i := 0; i < 20000; i++ {
		d := filepath.Join(dir, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("s%02d", (i/20)%20))
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		size := (i * 7919) % 10600
		if i%100 == 0 {
			size = 512 << 10
		}
		off := (i * 104729) % (len(pool) - size)
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%05d", i)), pool[off:off+size], 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(size)
	}
	return total
}

// cpuTime returns the CPU time (user and system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start: on a shared
// machine it says more than the wall time.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
}

func benchWriteDir(b *testing.B, sink func() io.WriteCloser) {
	dir := b.TempDir()
	total := benchTree(b, dir)
	b.SetBytes(total)
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		w := sink()
		if err := WriteDir(context.Background(), w, dir, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteDir measures WriteDir alone, into io.Discard.
func BenchmarkWriteDir(b *testing.B) {
	benchWriteDir(b, func() io.WriteCloser { return nopWriteCloser{io.Discard} })
}

// BenchmarkWriteDirDigest measures WriteDir into sha256, as a build step
// computing a diffID does.
func BenchmarkWriteDirDigest(b *testing.B) {
	benchWriteDir(b, func() io.WriteCloser { return nopWriteCloser{sha256.New()} })
}

// BenchmarkWriteDirGzip measures WriteDir into the gzip compressor.
func BenchmarkWriteDirGzip(b *testing.B) {
	benchWriteDir(b, func() io.WriteCloser {
		w, err := Compress(io.Discard, Gzip)
		if err != nil {
			b.Fatal(err)
		}
		return w
	})
}

// BenchmarkWriteDirZstd measures WriteDir into the zstd compressor.
func BenchmarkWriteDirZstd(b *testing.B) {
	benchWriteDir(b, func() io.WriteCloser {
		w, err := Compress(io.Discard, Zstd)
		if err != nil {
			b.Fatal(err)
		}
		return w
	})
}

// BenchmarkApply measures Apply of the benchmark tree's layer (held in
// memory) into a fresh directory.
func BenchmarkApply(b *testing.B) {
	src := b.TempDir()
	total := benchTree(b, src)
	var layer bytes.Buffer
	if err := WriteDir(context.Background(), &layer, src, WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(src)
	parent := b.TempDir()
	opts := ApplyOptions{NoChown: !isRoot(), NoDevices: !isRoot()}
	b.SetBytes(total)
	b.ResetTimer()
	var removing time.Duration
	start := cpuTime()
	defer func() { reportCPU(b, start+removing) }()
	i := 0
	for b.Loop() {
		dst := filepath.Join(parent, fmt.Sprint(i))
		if _, _, err := Apply(context.Background(), dst, bytes.NewReader(layer.Bytes()), opts); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		c := cpuTime()
		os.RemoveAll(dst)
		removing += cpuTime() - c
		b.StartTimer()
		i++
	}
}
