package sshforward

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// DefaultID is the id of `--ssh default` and of a RUN --mount=type=ssh
// without id=.
const DefaultID = "default"

// ErrNotFound is returned for an agent id the build was not given.
var ErrNotFound = errors.New("ssh agent not provided")

// Spec is one --ssh value: an id and what it forwards, an agent socket or
// private key files.
type Spec struct {
	ID    string
	Paths []string
}

// ParseSpec parses a --ssh value as docker buildx does:
// "default" (the agent at $SSH_AUTH_SOCK, read through getenv),
// "ID" (likewise), or "ID=PATH[,PATH...]" (a socket or key files).
func ParseSpec(s string, getenv func(string) string) (Spec, error) {
	id, rest, hasPaths := strings.Cut(s, "=")
	if id == "" {
		return Spec{}, fmt.Errorf("parsing --ssh %q: an id is required (e.g. default)", s)
	}
	sp := Spec{ID: id}
	if hasPaths {
		for _, p := range strings.Split(rest, ",") {
			if p != "" {
				sp.Paths = append(sp.Paths, p)
			}
		}
	}
	if len(sp.Paths) == 0 {
		sock := getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return Spec{}, fmt.Errorf("--ssh %s: no agent socket: SSH_AUTH_SOCK is not set (start ssh-agent, or give --ssh %s=PATH)", id, id)
		}
		sp.Paths = []string{sock}
	}
	return sp, nil
}

// agentSource is one forwarded agent: a socket to dial, or a keyring.
type agentSource struct {
	socket  string
	keyring agent.Agent
}

// Agents are the ssh agents a build may forward, by id.
type Agents struct {
	m map[string]agentSource
}

// NewAgents checks specs and returns their agents. A spec with one path
// that is a unix socket forwards that agent; otherwise every path must be
// an unencrypted private key file, and the keys are served by an
// in-process agent that can only list keys and sign.
func NewAgents(specs []Spec) (*Agents, error) {
	a := &Agents{m: map[string]agentSource{}}
	for _, sp := range specs {
		if sp.ID == "" || len(sp.Paths) == 0 {
			return nil, fmt.Errorf("--ssh: an agent needs an id and a socket or key files")
		}
		if len(sp.Paths) == 1 {
			fi, err := os.Stat(sp.Paths[0])
			if err != nil {
				return nil, fmt.Errorf("--ssh %s: %w", sp.ID, err)
			}
			if fi.Mode()&os.ModeSocket != 0 {
				a.m[sp.ID] = agentSource{socket: sp.Paths[0]}
				continue
			}
		}
		kr := agent.NewKeyring()
		for _, p := range sp.Paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("--ssh %s: %w", sp.ID, err)
			}
			key, err := ssh.ParseRawPrivateKey(b)
			if err != nil {
				var pe *ssh.PassphraseMissingError
				if errors.As(err, &pe) {
					return nil, fmt.Errorf("--ssh %s: %s is protected by a passphrase: add it to an ssh-agent and forward the agent instead", sp.ID, p)
				}
				return nil, fmt.Errorf("--ssh %s: %s is neither an agent socket nor a private key: %w", sp.ID, p, err)
			}
			if err := kr.Add(agent.AddedKey{PrivateKey: key, Comment: filepath.Base(p)}); err != nil {
				return nil, fmt.Errorf("--ssh %s: %s: %w", sp.ID, p, err)
			}
		}
		a.m[sp.ID] = agentSource{keyring: readOnly{kr}}
	}
	return a, nil
}

// Has reports whether the build has the agent id.
func (a *Agents) Has(id string) bool {
	if a == nil {
		return false
	}
	_, ok := a.m[id]
	return ok
}

// Forwarder is a socket that forwards connections to one agent.
type Forwarder struct {
	// Path is the socket's host path.
	Path string
	l    net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	// conns are the open connections, closed by Close.
	conns map[net.Conn]bool
}

// Forward serves the agent id on a new unix socket, name in dir, owned
// by uid:gid (when running as root) with mode perm, until Close.
func (a *Agents) Forward(id, dir, name string, uid, gid int, perm os.FileMode) (*Forwarder, error) {
	if a == nil {
		return nil, fmt.Errorf("ssh agent %q: %w", id, ErrNotFound)
	}
	src, ok := a.m[id]
	if !ok {
		return nil, fmt.Errorf("ssh agent %q: %w", id, ErrNotFound)
	}
	p := filepath.Join(dir, name)
	l, err := net.Listen("unix", p)
	if err != nil {
		return nil, fmt.Errorf("forwarding ssh agent %q: %w", id, err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(p, uid, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("forwarding ssh agent %q: %w", id, err)
		}
	}
	if err := os.Chmod(p, perm); err != nil {
		l.Close()
		return nil, fmt.Errorf("forwarding ssh agent %q: %w", id, err)
	}
	f := &Forwarder{Path: p, l: l, conns: map[net.Conn]bool{}}
	f.wg.Add(1)
	go f.serve(src)
	return f, nil
}

func (f *Forwarder) serve(src agentSource) {
	defer f.wg.Done()
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		if !f.track(c, true) {
			c.Close()
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.track(c, false)
			defer c.Close()
			if src.keyring != nil {
				_ = agent.ServeAgent(src.keyring, c)
				return
			}
			up, err := net.Dial("unix", src.socket)
			if err != nil {
				return
			}
			if !f.track(up, true) {
				up.Close()
				return
			}
			defer f.track(up, false)
			defer up.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(up, c); closeWrite(up); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, up); closeWrite(c); done <- struct{}{} }()
			<-done
			<-done
		}()
	}
}

func closeWrite(c net.Conn) {
	if uc, ok := c.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
}

// track adds or removes an open connection; adding fails once closed.
func (f *Forwarder) track(c net.Conn, add bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !add {
		delete(f.conns, c)
		return true
	}
	if f.conns == nil {
		return false
	}
	f.conns[c] = true
	return true
}

// Close stops serving, closes the open connections and removes the socket.
func (f *Forwarder) Close() error {
	err := f.l.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
	os.Remove(f.Path)
	return err
}

// readOnly serves the keys of an agent but refuses to change them, as
// BuildKit's forwarded key files do.
type readOnly struct{ agent.Agent }

var errReadOnly = errors.New("the forwarded agent is read-only")

func (readOnly) Add(agent.AddedKey) error   { return errReadOnly }
func (readOnly) Remove(ssh.PublicKey) error { return errReadOnly }
func (readOnly) RemoveAll() error           { return errReadOnly }
func (readOnly) Lock([]byte) error          { return errReadOnly }
func (readOnly) Unlock([]byte) error        { return errReadOnly }
