package progress

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func fixedRecorder(sink Sink) *Recorder {
	r := NewRecorder(sink)
	t0 := time.Unix(1000, 0)
	n := 0
	r.now = func() time.Time { n++; return t0.Add(time.Duration(n) * 100 * time.Millisecond) }
	return r
}

func TestPlain(t *testing.T) {
	var buf bytes.Buffer
	r := fixedRecorder(NewPlain(&buf))
	v := r.Start("[build 1/2] RUN echo hi")
	v.Write([]byte("hi\npart"))
	v.Write([]byte("ial\n"))
	v.Done(nil, false)
	r.Cached("[build 2/2] COPY a /a")
	w := r.Start("[final 1/1] RUN false")
	w.Done(errors.New("exit code: 1"), false)
	want := `#1 [build 1/2] RUN echo hi
#1 0.100 hi
#1 0.200 partial
#1 DONE 0.3s

#2 [build 2/2] COPY a /a
#2 CACHED

#3 [final 1/1] RUN false
#3 ERROR: exit code: 1

`
	if got := buf.String(); got != want {
		t.Errorf("plain output:\n%s\nwant:\n%s", got, want)
	}
}

// TestPlainAfterDone: a line written to a vertex after it is done is timed
// from the vertex's start, not printed as 9223372036.855 s.
func TestPlainAfterDone(t *testing.T) {
	var buf bytes.Buffer
	r := fixedRecorder(NewPlain(&buf))
	v := r.Start("[internal] load build definition from Dockerfile")
	v.Done(nil, false)
	v.Write([]byte("Dockerfile:1: late\n"))
	if want := "#1 0.200 Dockerfile:1: late\n"; !strings.HasSuffix(buf.String(), want) {
		t.Errorf("plain output:\n%s\nwant it to end with %q", buf.String(), want)
	}
}

func TestJSON(t *testing.T) {
	var buf bytes.Buffer
	r := fixedRecorder(NewJSON(&buf))
	v := r.Start("step")
	v.Write([]byte("out"))
	v.Done(nil, false)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3: %q", len(lines), buf.String())
	}
	var e Event
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil {
		t.Fatal(err)
	}
	if e.Status != Log || string(e.Data) != "out" || e.ID != 1 {
		t.Errorf("log event = %+v", e)
	}
}

func TestTTYFinalView(t *testing.T) {
	var buf bytes.Buffer
	tty := NewTTY(&buf, 80)
	r := NewRecorder(tty)
	v := r.Start("[a 1/1] RUN make")
	v.Write([]byte("compiling\nerror: boom\n"))
	v.Done(errors.New("exit code: 2"), false)
	r.Close()
	out := buf.String()
	for _, want := range []string{"ERROR [a 1/1] RUN make", "error: boom", "FINISHED"} {
		if !strings.Contains(out, want) {
			t.Errorf("tty output lacks %q:\n%s", want, out)
		}
	}
}
