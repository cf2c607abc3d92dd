package testutil

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh/agent"
)

// SSHAgent serves an SSH agent holding one new ed25519 key (comment
// "fake-agent") on a unix socket of mode 0600, as an agent's socket is, and
// returns the socket's path and the key. The socket lives under os.TempDir,
// not t.TempDir, whose paths can pass the 108 bytes a socket path may have.
func SSHAgent(t testing.TB) (string, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kr := agent.NewKeyring()
	if err := kr.Add(agent.AddedKey{PrivateKey: priv, Comment: "fake-agent"}); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := os.Chmod(sock, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				agent.ServeAgent(kr, c) //nolint:errcheck // a client's error is the client's business
			}()
		}
	}()
	return sock, priv
}
