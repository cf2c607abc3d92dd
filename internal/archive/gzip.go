package archive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/pgzip"
)

// gzipWriter writes what klauspost/pgzip writes with gzipBlockSize blocks
// at the default level, byte for byte, but a stream that ends within its
// first block never starts pgzip: pgzip's block buffers, compressors and
// goroutines cost a millisecond or more in a fresh process, far more than
// compressing the few kilobytes of the small layers most steps make. Such
// a stream is one pgzip block: a gzip header, the block deflated and
// sync-flushed, an empty final block, and the CRC-32 and size.
type gzipWriter struct {
	w      io.Writer
	buf    []byte        // the stream so far, while it is shorter than a block
	pz     *pgzip.Writer // the stream's writer once it reaches a block
	err    error
	closed bool
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.pz != nil {
		return g.pz.Write(p)
	}
	if len(g.buf)+len(p) < gzipBlockSize {
		g.buf = append(g.buf, p...)
		return len(p), nil
	}
	if g.pz, g.err = newPgzip(g.w); g.err != nil {
		return 0, g.err
	}
	if _, g.err = g.pz.Write(g.buf); g.err != nil {
		return 0, g.err
	}
	g.buf = nil
	return g.pz.Write(p)
}

// Close writes the rest of the stream; closing again does nothing, and a
// write after Close fails.
func (g *gzipWriter) Close() error {
	if g.closed {
		return nil
	}
	g.closed = true
	if g.err != nil {
		return g.err
	}
	if g.pz != nil {
		g.err = g.pz.Close()
	} else {
		g.err = g.writeBlock()
	}
	if g.err != nil {
		return g.err
	}
	g.err = errors.New("gzip writer: write after close")
	return nil
}

// gzipHeader is pgzip's header at the default level with ModTime 0: magic,
// deflate, no flags, no time, no extra flags, unknown OS.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// writeBlock writes the buffered stream as pgzip writes its only block.
func (g *gzipWriter) writeBlock() error {
	if _, err := g.w.Write(gzipHeader); err != nil {
		return err
	}
	fw, err := flate.NewWriter(g.w, flate.DefaultCompression)
	if err != nil {
		return fmt.Errorf("creating deflate writer: %w", err)
	}
	if _, err := fw.Write(g.buf); err != nil {
		return err
	}
	if err := fw.Flush(); err != nil {
		return err
	}
	if err := fw.Close(); err != nil {
		return err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], crc32.ChecksumIEEE(g.buf))
	binary.LittleEndian.PutUint32(trailer[4:], uint32(len(g.buf)))
	_, err = g.w.Write(trailer[:])
	g.buf = nil
	return err
}

// newPgzip is the parallel writer for streams of a block or more.
func newPgzip(w io.Writer) (*pgzip.Writer, error) {
	z, err := pgzip.NewWriterLevel(w, pgzip.DefaultCompression)
	if err != nil {
		return nil, fmt.Errorf("creating gzip writer: %w", err)
	}
	// pgzip writes ModTime.Unix() unchecked: the zero time would become
	// a meaningless number, so say "no time" explicitly.
	z.ModTime = time.Unix(0, 0)
	if err := z.SetConcurrency(gzipBlockSize, 4); err != nil {
		return nil, fmt.Errorf("configuring gzip writer: %w", err)
	}
	return z, nil
}
