// Package progress reports what a build is doing: events passed in as data,
// rendered as BuildKit-style plain text, as a compact live view on a
// terminal, or as JSON lines for machines.
package progress

import (
	"sync"
	"time"
)

// Status is what happened to a vertex.
type Status string

// The statuses of a vertex.
const (
	Started  Status = "started"
	Cached   Status = "cached"
	Done     Status = "done"
	Failed   Status = "error"
	Log      Status = "log"
	Canceled Status = "canceled"
)

// Event is one thing that happened to a vertex: a build step or an internal
// task (resolving an image, exporting).
type Event struct {
	// ID numbers the vertex, from 1, in the order vertices were first reported.
	ID     int       `json:"id"`
	Name   string    `json:"name"`
	Status Status    `json:"status"`
	Time   time.Time `json:"time"`
	// Data is a chunk of output for Log events.
	Data []byte `json:"data,omitempty"`
	// Elapsed is the vertex's duration, for Done, Failed and Canceled.
	Elapsed time.Duration `json:"elapsed,omitempty"`
	// Error is the failure's message, for Failed.
	Error string `json:"error,omitempty"`
}

// Sink receives events. Implementations must be safe for concurrent use.
type Sink interface {
	Event(Event)
	// Close flushes what is buffered; no events follow.
	Close() error
}

// Discard is a Sink that drops everything.
type Discard struct{}

// Event drops e.
func (Discard) Event(Event) {}

// Close does nothing.
func (Discard) Close() error { return nil }

// Recorder numbers vertices and timestamps their events before handing them
// to a Sink.
type Recorder struct {
	sink Sink
	mu   sync.Mutex
	next int
	now  func() time.Time
}

// NewRecorder returns a Recorder writing to sink.
func NewRecorder(sink Sink) *Recorder {
	if sink == nil {
		sink = Discard{}
	}
	return &Recorder{sink: sink, now: time.Now}
}

// Vertex is a unit of work being reported.
type Vertex struct {
	r     *Recorder
	id    int
	name  string
	start time.Time
	once  sync.Once
}

// Start reports a new vertex as started.
func (r *Recorder) Start(name string) *Vertex {
	r.mu.Lock()
	r.next++
	id := r.next
	r.mu.Unlock()
	v := &Vertex{r: r, id: id, name: name, start: r.now()}
	r.sink.Event(Event{ID: id, Name: name, Status: Started, Time: v.start})
	return v
}

// Cached reports a vertex whose result came from the cache; it is finished.
func (r *Recorder) Cached(name string) {
	r.mu.Lock()
	r.next++
	id := r.next
	r.mu.Unlock()
	r.sink.Event(Event{ID: id, Name: name, Status: Cached, Time: r.now()})
}

// Write reports output of the vertex; it implements io.Writer.
func (v *Vertex) Write(p []byte) (int, error) {
	b := append([]byte(nil), p...)
	v.r.sink.Event(Event{ID: v.id, Name: v.name, Status: Log, Time: v.r.now(), Data: b})
	return len(p), nil
}

// Done reports the vertex finished: successfully when err is nil, as
// canceled when err is a context error, as failed otherwise. Only the first
// call counts.
func (v *Vertex) Done(err error, canceled bool) {
	v.once.Do(func() {
		now := v.r.now()
		e := Event{ID: v.id, Name: v.name, Status: Done, Time: now, Elapsed: now.Sub(v.start)}
		switch {
		case err != nil && canceled:
			e.Status = Canceled
		case err != nil:
			e.Status, e.Error = Failed, err.Error()
		}
		v.r.sink.Event(e)
	})
}

// Close closes the sink.
func (r *Recorder) Close() error { return r.sink.Close() }
