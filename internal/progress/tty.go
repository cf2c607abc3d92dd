package progress

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// TTY renders a live view on a terminal, redrawn a few times a second:
// finished steps one line each, running steps with their last lines of output.
// On failure the whole output of the failed step is printed after the view.
type TTY struct {
	mu      sync.Mutex
	w       io.Writer
	width   int
	start   time.Time
	order   []int
	verts   map[int]*ttyVertex
	lines   int // lines drawn last time, to move the cursor back over
	stop    chan struct{}
	stopped chan struct{}
	now     func() time.Time
}

type ttyVertex struct {
	name     string
	status   Status
	start    time.Time
	elapsed  time.Duration
	err      string
	log      []byte
	lastLine []string
}

const ttyLogLines = 6

// NewTTY returns a TTY renderer writing to w, a terminal width columns wide.
func NewTTY(w io.Writer, width int) *TTY {
	if width <= 20 {
		width = 80
	}
	t := &TTY{w: w, width: width, verts: map[int]*ttyVertex{}, stop: make(chan struct{}), stopped: make(chan struct{}), now: time.Now}
	t.start = t.now()
	go t.loop()
	return t
}

func (t *TTY) loop() {
	defer close(t.stopped)
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.mu.Lock()
			t.draw(false)
			t.mu.Unlock()
		}
	}
}

// Event records e; it shows at the next redraw.
func (t *TTY) Event(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.verts[e.ID]
	if !ok {
		v = &ttyVertex{name: e.Name, start: e.Time}
		t.verts[e.ID] = v
		t.order = append(t.order, e.ID)
	}
	switch e.Status {
	case Started:
		v.status = Started
	case Log:
		v.log = append(v.log, e.Data...)
		v.lastLine = lastLines(v.log, ttyLogLines)
	default:
		v.status, v.elapsed, v.err = e.Status, e.Elapsed, e.Error
	}
}

func lastLines(b []byte, n int) []string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

func (t *TTY) draw(final bool) {
	var buf bytes.Buffer
	if t.lines > 0 {
		fmt.Fprintf(&buf, "\x1b[%dA", t.lines)
	}
	n := 0
	done := 0
	for _, id := range t.order {
		if s := t.verts[id].status; s != Started {
			done++
		}
	}
	line := func(s string) {
		if len(s) > t.width-1 {
			s = s[:t.width-1]
		}
		buf.WriteString(s)
		buf.WriteString("\x1b[K\n")
		n++
	}
	line(fmt.Sprintf("[+] Building %.1fs (%d/%d)%s", t.now().Sub(t.start).Seconds(), done, len(t.order), map[bool]string{true: " FINISHED", false: ""}[final]))
	for _, id := range t.order {
		v := t.verts[id]
		switch v.status {
		case Cached:
			line(" => CACHED " + v.name)
		case Started:
			line(fmt.Sprintf(" => %s %.1fs", v.name, t.now().Sub(v.start).Seconds()))
			for _, l := range v.lastLine {
				line(" => => " + l)
			}
		case Failed:
			line(fmt.Sprintf(" => ERROR %s %.1fs", v.name, v.elapsed.Seconds()))
		case Canceled:
			line(fmt.Sprintf(" => CANCELED %s %.1fs", v.name, v.elapsed.Seconds()))
		default:
			line(fmt.Sprintf(" => %s %.1fs", v.name, v.elapsed.Seconds()))
		}
	}
	if t.lines > n {
		// Clear what the previous, longer view left below.
		for i := n; i < t.lines; i++ {
			buf.WriteString("\x1b[K\n")
		}
		fmt.Fprintf(&buf, "\x1b[%dA", t.lines-n)
	}
	t.lines = n
	t.w.Write(buf.Bytes())
}

// Close stops redrawing, draws the final view and prints the full output of
// failed steps.
func (t *TTY) Close() error {
	close(t.stop)
	<-t.stopped
	t.mu.Lock()
	defer t.mu.Unlock()
	t.draw(true)
	for _, id := range t.order {
		v := t.verts[id]
		if v.status == Failed && len(v.log) > 0 {
			fmt.Fprintf(t.w, "------\n > %s:\n", v.name)
			for _, l := range lastLines(v.log, 30) {
				fmt.Fprintf(t.w, "%s\n", l)
			}
			fmt.Fprintf(t.w, "------\n")
		}
	}
	return nil
}
