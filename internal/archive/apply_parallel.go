package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// Creating a file is the slow part of unpacking on many file systems
// (about 0.2 ms on the ext4 of the VMs whittle is tested on, against
// 0.01 ms on tmpfs), and it waits on the disk, not the CPU. So when Apply
// unpacks into a new or empty directory, the regular files the tar brings
// for the first time are written by a few goroutines while the reader goes
// on.
// Everything else (directories, links, devices, whiteouts, metadata of
// directories) stays in the reader's goroutine, in tar order, and the
// reader waits for the writers (drain) before any entry that could touch a
// path a writer has not finished with:
//
//   - an entry at a path written by a pending file (a tar may name a path
//     twice; the later entry wins, as without writers);
//   - a hard link to a pending file;
//   - a parent directory resolved through a pending file's path;
//   - anything removed to make room (place), whiteouts and opaque markers;
//   - the directories' final modes and times, and the end of Apply.
//
// Writers never resolve paths, never remove anything and never touch the
// applier's maps: they create one file at a path the reader resolved,
// O_EXCL and O_NOFOLLOW, in a directory that exists.
const (
	// parallelWriters is how many goroutines create files.
	parallelWriters = 4
	// parallelMaxFile is the largest file handed to a writer; larger ones
	// are streamed by the reader (their time is in the data, not in the
	// create).
	parallelMaxFile = 1 << 20
	// parallelQueue bounds the files read ahead of the writers, and so
	// the memory they hold (at most parallelQueue+parallelWriters files
	// of at most parallelMaxFile bytes).
	parallelQueue = 16
)

// writeJob is one regular file for a writer.
type writeJob struct {
	abs  string
	name string // the tar name, for errors
	hdr  *tar.Header
	data []byte
}

// writers is the pool of file-creating goroutines of one Apply.
type writers struct {
	jobs    chan writeJob
	pending sync.WaitGroup // jobs handed out and not finished
	started bool
	stop    sync.WaitGroup // the goroutines

	mu  sync.Mutex
	err error // the first writer error
}

// dispatchable reports whether the regular file hdr at abs may go to a
// writer: Apply started on an empty directory, this tar has not written abs
// before (so nothing is there), and the file is small.
func (a *applier) dispatchable(abs string, hdr *tar.Header) bool {
	if !a.fresh || hdr.Size > parallelMaxFile || hdr.Typeflag != tar.TypeReg {
		return false
	}
	_, seen := a.written[abs]
	_, made := a.implicit[abs]
	_, whiteout := a.whitedOut[abs]
	return !seen && !made && !whiteout
}

// dispatch reads the file's content and hands it to a writer.
func (a *applier) dispatch(abs string, hdr *tar.Header, tr io.Reader) error {
	if err := a.w.failed(); err != nil {
		return err
	}
	data := make([]byte, hdr.Size)
	if _, err := io.ReadFull(tr, data); err != nil {
		return fmt.Errorf("short content: %w", err)
	}
	if !a.w.started {
		a.w.start(a)
	}
	a.pendingPaths[abs] = struct{}{}
	a.w.pending.Add(1)
	a.w.jobs <- writeJob{abs: abs, name: hdr.Name, hdr: hdr, data: data}
	return nil
}

func (w *writers) start(a *applier) {
	w.started = true
	w.jobs = make(chan writeJob, parallelQueue)
	for range parallelWriters {
		w.stop.Add(1)
		go func() {
			defer w.stop.Done()
			for j := range w.jobs {
				if w.failed() == nil {
					if err := a.writeFile(j); err != nil {
						w.fail(&writerError{name: j.name, err: err})
					}
				}
				w.pending.Done()
			}
		}()
	}
}

// writeFile creates one file with its content, owner, mode, attributes and
// times. It runs in a writer.
func (a *applier) writeFile(j writeJob) error {
	f, err := createExclusive(j.abs)
	if err != nil {
		return err
	}
	_, err = f.Write(j.data)
	if err == nil {
		err = a.attrs(f, j.hdr)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return fileTimes(j.abs, j.hdr)
}

func (w *writers) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

func (w *writers) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// writerError is a writer's failure, named by its own entry: the reader
// returns it from whichever later entry it surfaces at, unwrapped.
type writerError struct {
	name string
	err  error
}

func (e *writerError) Error() string { return fmt.Sprintf("applying entry %q: %v", e.name, e.err) }
func (e *writerError) Unwrap() error { return e.err }

// drain waits until every dispatched file is written, and returns the
// first writer error.
func (a *applier) drain() error {
	if !a.w.started {
		return nil
	}
	a.w.pending.Wait()
	clear(a.pendingPaths)
	return a.w.failed()
}

// close drains the writers and stops them.
func (a *applier) closeWriters() error {
	err := a.drain()
	if a.w.started {
		close(a.w.jobs)
		a.w.stop.Wait()
		a.w.started = false
	}
	return err
}

// drainFor drains the writers when abs, or a directory above it, is a
// path a writer may still be creating.
func (a *applier) drainFor(abs string) error {
	if len(a.pendingPaths) == 0 {
		return nil
	}
	for p := abs; len(p) > len(a.root); p = p[:strings.LastIndexByte(p, '/')] {
		if _, ok := a.pendingPaths[p]; ok {
			return a.drain()
		}
	}
	return nil
}

// isEmptyDir reports whether dir exists and holds nothing.
func isEmptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return err == io.EOF && len(names) == 0
}
