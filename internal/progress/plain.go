package progress

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
)

// Plain renders events as BuildKit's --progress=plain does:
//
//	#3 [build 2/4] RUN go build -o /app .
//	#3 0.412 go: downloading ...
//	#3 DONE 3.1s
//	#4 [stage-1 2/2] COPY --from=build /app /app
//	#4 CACHED
type Plain struct {
	mu    sync.Mutex
	w     io.Writer
	start map[int]time.Time
	// partial holds a vertex's unterminated last line of output.
	partial map[int][]byte
	last    int
}

// NewPlain returns a Plain renderer writing to w.
func NewPlain(w io.Writer) *Plain {
	return &Plain{w: w, start: map[int]time.Time{}, partial: map[int][]byte{}}
}

// Event renders e.
func (p *Plain) Event(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Status {
	case Started:
		p.start[e.ID] = e.Time
		p.header(e)
	case Cached:
		fmt.Fprintf(p.w, "#%d %s\n#%d CACHED\n\n", e.ID, e.Name, e.ID)
		p.last = 0
	case Log:
		p.log(e)
	case Done, Failed, Canceled:
		if rest := p.partial[e.ID]; len(rest) > 0 {
			p.line(e.ID, p.start[e.ID], e.Time, rest)
			delete(p.partial, e.ID)
		}
		switch e.Status {
		case Done:
			fmt.Fprintf(p.w, "#%d DONE %.1fs\n\n", e.ID, e.Elapsed.Seconds())
		case Canceled:
			fmt.Fprintf(p.w, "#%d CANCELED\n\n", e.ID)
		default:
			fmt.Fprintf(p.w, "#%d ERROR: %s\n\n", e.ID, e.Error)
		}
		// The start stays: output written after Done (a late line)
		// is still timed from it, not from the zero time.
		p.last = 0
	}
}

func (p *Plain) header(e Event) {
	fmt.Fprintf(p.w, "#%d %s\n", e.ID, e.Name)
	p.last = e.ID
}

func (p *Plain) log(e Event) {
	if p.last != e.ID {
		p.header(Event{ID: e.ID, Name: e.Name})
	}
	data := append(p.partial[e.ID], e.Data...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		p.line(e.ID, p.start[e.ID], e.Time, data[:i])
		data = data[i+1:]
	}
	p.partial[e.ID] = append([]byte(nil), data...)
}

func (p *Plain) line(id int, start, now time.Time, b []byte) {
	fmt.Fprintf(p.w, "#%d %.3f %s\n", id, now.Sub(start).Seconds(), bytes.TrimRight(b, "\r"))
}

// Close does nothing: Plain does not buffer.
func (p *Plain) Close() error { return nil }
