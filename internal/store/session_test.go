package store

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestOpenConcurrently opens and closes one store from many goroutines at
// once, as many whittle processes starting together do (flock locks belong
// to open files, so goroutines contend like processes): every Open
// succeeds, although each one sweeps the staging of sessions it finds
// unlocked, and once all are closed no staging is left behind.
func TestOpenConcurrently(t *testing.T) {
	root := t.TempDir()
	const workers, opens = 8, 150
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range opens {
				s, err := Open(root)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				if _, err := s.TempDir("x-"); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
				s.Close()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d opens failed; first: %v", len(errs), workers*opens, errs[0])
	}
	left, err := os.ReadDir(filepath.Join(root, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left in tmp/: %s", e.Name())
	}
}
