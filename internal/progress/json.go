package progress

import (
	"encoding/json"
	"io"
	"sync"
)

// JSON writes each event as one JSON object per line (the Event fields;
// Data as base64, Elapsed in nanoseconds).
type JSON struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewJSON returns a JSON renderer writing to w.
func NewJSON(w io.Writer) *JSON { return &JSON{enc: json.NewEncoder(w)} }

// Event writes e.
func (j *JSON) Event(e Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.enc.Encode(e)
}

// Close does nothing.
func (j *JSON) Close() error { return nil }
