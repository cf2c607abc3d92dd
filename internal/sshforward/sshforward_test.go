package sshforward

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestParseSpec(t *testing.T) {
	env := func(k string) string {
		if k == "SSH_AUTH_SOCK" {
			return "/run/agent.sock"
		}
		return ""
	}
	noEnv := func(string) string { return "" }
	tests := []struct {
		in      string
		getenv  func(string) string
		want    Spec
		wantErr bool
	}{
		{"default", env, Spec{ID: "default", Paths: []string{"/run/agent.sock"}}, false},
		{"work", env, Spec{ID: "work", Paths: []string{"/run/agent.sock"}}, false},
		{"default=/a.sock", noEnv, Spec{ID: "default", Paths: []string{"/a.sock"}}, false},
		{"gh=/k1,/k2", noEnv, Spec{ID: "gh", Paths: []string{"/k1", "/k2"}}, false},
		{"default", noEnv, Spec{}, true},
		{"=/a.sock", env, Spec{}, true},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.in, tt.getenv)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// echoAgent is a unix socket server that answers each line with "pong: "
// and the line.
func echoAgent(t *testing.T) string {
	t.Helper()
	p := filepath.Join(shortDir(t), "agent.sock")
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewScanner(c)
				for r.Scan() {
					c.Write([]byte("pong: " + r.Text() + "\n"))
				}
			}()
		}
	}()
	return p
}

func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "sshfw-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestForwardSocket(t *testing.T) {
	sock := echoAgent(t)
	a, err := NewAgents([]Spec{{ID: "default", Paths: []string{sock}}})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Has("default") || a.Has("other") {
		t.Fatal("Has is wrong")
	}
	dir := shortDir(t)
	f, err := a.Forward("default", dir, "s.0", os.Getuid(), os.Getgid(), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("forwarded socket mode %v, want a socket with 0600", fi.Mode())
	}
	for i := 0; i < 2; i++ { // two connections, one after the other
		c, err := net.Dial("unix", f.Path)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("ping\n"))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "pong: ping\n" {
			t.Fatalf("got %q, %v", line, err)
		}
		c.Close()
	}
	// An open connection does not keep Close waiting.
	open, err := net.Dial("unix", f.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	open.Write([]byte("x\n"))
	bufio.NewReader(open).ReadString('\n')
	closed := make(chan error)
	go func() { closed <- f.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs on an open connection")
	}
	if _, err := os.Lstat(f.Path); !os.IsNotExist(err) {
		t.Errorf("Close left the socket: %v", err)
	}
	if _, err := a.Forward("nope", dir, "s.1", 0, 0, 0o600); err == nil {
		t.Error("forwarding an unknown agent worked")
	}
}

func TestForwardKeyFiles(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := shortDir(t)
	block, err := ssh.MarshalPrivateKey(priv, "test key")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := NewAgents([]Spec{{ID: "default", Paths: []string{keyFile}}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := a.Forward("default", dir, "agent", os.Getuid(), os.Getgid(), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := net.Dial("unix", f.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client := agent.NewClient(c)
	keys, err := client.List()
	if err != nil || len(keys) != 1 {
		t.Fatalf("List = %v, %v; want one key", keys, err)
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	if string(keys[0].Marshal()) != string(pub.Marshal()) {
		t.Error("the agent lists another key")
	}
	sig, err := client.Sign(pub, []byte("data"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Verify([]byte("data"), sig); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	if err := client.RemoveAll(); err == nil {
		t.Error("the forwarded agent let a client remove keys")
	}

	// Passphrase-protected keys and other files are refused up front.
	enc, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "k", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	encFile := filepath.Join(dir, "enc")
	os.WriteFile(encFile, pem.EncodeToMemory(enc), 0o600)
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not a key"), 0o600)
	for _, p := range []string{encFile, junk, filepath.Join(dir, "missing")} {
		if _, err := NewAgents([]Spec{{ID: "x", Paths: []string{p}}}); err == nil {
			t.Errorf("NewAgents accepted %s", p)
		}
	}
}
