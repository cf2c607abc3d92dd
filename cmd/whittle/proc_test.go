package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whittle-build/whittle/internal/progress"
)

// proc is a whittle process started by a Go test (the test binary, which
// TestMain put on PATH as "whittle"), with --progress json on stderr
// decoded into events.
type proc struct {
	t     *testing.T
	cmd   *exec.Cmd
	start time.Time
	done  chan struct{}
	err   error // set when done is closed

	mu     sync.Mutex
	events []progress.Event
	other  bytes.Buffer // stderr lines that are not events
	stdout bytes.Buffer
	notify chan struct{}
}

// whittleEnv is the environment of the processes the Go tests start.
func whittleEnv(extra ...string) []string {
	return append(os.Environ(), append([]string{"SOURCE_DATE_EPOCH=1700000000"}, extra...)...)
}

// startWhittle starts `whittle --root root ARGS...`.
func startWhittle(t *testing.T, root string, args ...string) *proc {
	t.Helper()
	bin, err := exec.LookPath("whittle")
	if err != nil {
		t.Fatalf("whittle is not on PATH (TestMain puts it there): %v", err)
	}
	cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
	cmd.Env = whittleEnv()
	p := &proc{t: t, cmd: cmd, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	cmd.Stdout = &lockedWriter{mu: &p.mu, w: &p.stdout}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			var ev progress.Event
			p.mu.Lock()
			if json.Unmarshal(line, &ev) == nil && ev.Name != "" {
				p.events = append(p.events, ev)
			} else {
				p.other.Write(line)
				p.other.WriteByte('\n')
			}
			p.mu.Unlock()
			select {
			case p.notify <- struct{}{}:
			default:
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// wait waits for the process to exit (at most d) and returns its error.
func (p *proc) wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("whittle %s did not finish in %v", strings.Join(p.cmd.Args[1:], " "), d)
	}
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// event returns the first event for which match is true, waiting for it at
// most d; ok is false when the process exited or d passed first.
func (p *proc) event(d time.Duration, match func(progress.Event) bool) (progress.Event, bool) {
	deadline := time.After(d)
	for {
		p.mu.Lock()
		for _, ev := range p.events {
			if match(ev) {
				p.mu.Unlock()
				return ev, true
			}
		}
		p.mu.Unlock()
		select {
		case <-p.notify:
		case <-p.done:
			// One last look: the final lines may have arrived with the exit.
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, ev := range p.events {
				if match(ev) {
					return ev, true
				}
			}
			return progress.Event{}, false
		case <-deadline:
			return progress.Event{}, false
		}
	}
}

// output is the process's stderr that was not events, and the log data of
// the events, for failure messages.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, ev := range p.events {
		if ev.Status == progress.Failed {
			fmt.Fprintf(&b, "%s: %s\n", ev.Name, ev.Error)
		}
		b.Write(ev.Data)
	}
	b.Write(p.other.Bytes())
	return b.String()
}

// started matches the start of a vertex whose name contains substr.
func started(substr string) func(progress.Event) bool {
	return func(ev progress.Event) bool {
		return ev.Status == progress.Started && strings.Contains(ev.Name, substr)
	}
}

// finished matches the end (done or cached) of a vertex whose name contains substr.
func finished(substr string) func(progress.Event) bool {
	return func(ev progress.Event) bool {
		return (ev.Status == progress.Done || ev.Status == progress.Cached) && strings.Contains(ev.Name, substr)
	}
}

// processesWith returns the pids (not this process's) whose command line
// contains one of the strings.
func processesWith(strs ...string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmdline := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		for _, s := range strs {
			if strings.Contains(cmdline, s) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// waitGone waits until no process's command line contains one of strs (a
// killed whittle's re-executed child and its sandboxed RUN processes die
// with it through their parent-death signals), failing after d.
func waitGone(t *testing.T, d time.Duration, strs ...string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		pids := processesWith(strs...)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var desc []string
			for _, pid := range pids {
				b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				desc = append(desc, fmt.Sprintf("%d: %s", pid, bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
			}
			t.Fatalf("processes still running %v after their whittle ended:\n%s", d, strings.Join(desc, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runWhittle runs whittle to the end and returns its stdout; it fails the
// test on a non-zero exit.
func runWhittle(t *testing.T, root string, args ...string) string {
	t.Helper()
	p := startWhittle(t, root, args...)
	if err := p.wait(5 * time.Minute); err != nil {
		t.Fatalf("whittle %s: %v\n%s", strings.Join(args, " "), err, p.output())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// exitStatus returns the exit status of a finished process's error.
func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
