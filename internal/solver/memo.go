package solver

import (
	"sync"

	"golang.org/x/sync/singleflight"
)

// memo remembers, for one build, what was done once per key: what a
// remote source resolved to (an ADD URL's download, a Git ref's commit), so
// that the cache key and the copy see the same content and the server is
// asked once, and which cache mounts a --no-cache build made anew. Steps
// asking at the same time wait for the first. Errors are not remembered.
type memo[V any] struct {
	mu    sync.Mutex
	done  map[string]V
	group singleflight.Group
}

// get returns key's value, calling resolve once for it.
func (m *memo[V]) get(key string, resolve func() (V, error)) (V, error) {
	m.mu.Lock()
	v, ok := m.done[key]
	m.mu.Unlock()
	if ok {
		return v, nil
	}
	r, err, _ := m.group.Do(key, func() (any, error) {
		v, err := resolve()
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		if m.done == nil {
			m.done = map[string]V{}
		}
		m.done[key] = v
		m.mu.Unlock()
		return v, nil
	})
	if err != nil {
		var zero V
		return zero, err
	}
	return r.(V), nil
}
