package solver

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemo(t *testing.T) {
	var m memo[string]
	var calls atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := m.get("k", func() (string, error) {
				calls.Add(1)
				time.Sleep(20 * time.Millisecond)
				return "v", nil
			})
			if err != nil || v != "v" {
				t.Errorf("get = %q, %v", v, err)
			}
		}()
	}
	wg.Wait()
	if v, _ := m.get("k", func() (string, error) { calls.Add(1); return "other", nil }); v != "v" || calls.Load() != 1 {
		t.Errorf("after 9 gets: %q, resolved %d times; want v, once", v, calls.Load())
	}
	// An error is returned, not remembered: the next get tries again.
	if _, err := m.get("e", func() (string, error) { return "", errors.New("down") }); err == nil {
		t.Error("the error was lost")
	}
	if v, err := m.get("e", func() (string, error) { return "up", nil }); err != nil || v != "up" {
		t.Errorf("after an error: %q, %v", v, err)
	}
}
