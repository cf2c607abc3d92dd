package build

import (
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/whittle-build/whittle/internal/sshforward"
	"github.com/whittle-build/whittle/internal/testutil"
)

// agentClient builds testdata/agentclient statically into dir.
func agentClient(t *testing.T, dir string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goBin, "build", "-o", filepath.Join(dir, "agentclient"), "./testdata/agentclient")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the agent client: %v\n%s", err, out)
	}
}

// TestSSHMount: --ssh forwards an agent (a socket the test serves, or key
// files) to RUN --mount=type=ssh through a socket of the mount's owner and
// mode; SSH_AUTH_SOCK points at the first; a missing agent is an error only
// when required; nothing is left in the image.
func TestSSHMount(t *testing.T) {
	e := newEnv(t)
	sock, priv := testutil.SSHAgent(t)
	keyDir := t.TempDir()
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(keyDir, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := contextDir(t, map[string]string{
		"Dockerfile": `FROM busybox
COPY agentclient /usr/local/bin/
RUN --mount=type=ssh agentclient > /default-keys && echo "$SSH_AUTH_SOCK" > /sock && stat -c '%u:%g %a %F' "$SSH_AUTH_SOCK" > /mode
RUN --mount=type=ssh,id=keys,target=/run/keys.sock agentclient /run/keys.sock > /file-keys
USER app
RUN --mount=type=ssh,uid=1000,gid=1000 agentclient > /tmp/app-keys
RUN --mount=type=ssh if agentclient > /dev/null 2>&1; then echo reachable; else echo denied; fi > /tmp/app-root-socket
RUN --mount=type=ssh,id=absent test ! -e /run/buildkit/ssh_agent.0 && echo ok > /tmp/optional
`,
	})
	agentClient(t, dir)
	specs := []sshforward.Spec{{ID: "default", Paths: []string{sock}}, {ID: "keys", Paths: []string{keyFile}}}
	img, _ := e.mustBuild(dir, Options{SSH: specs})
	fs := filesystem(t, img)
	want := map[string]string{
		"/default-keys": "ssh-ed25519 fake-agent\n",
		"/sock":         "/run/buildkit/ssh_agent.0\n",
		"/mode":         "0:0 600 socket\n",
		"/file-keys":    "ssh-ed25519 id_ed25519\n",
		"/tmp/app-keys": "ssh-ed25519 fake-agent\n",
		"/tmp/optional": "ok\n",
	}
	for p, w := range want {
		if got := fs[p].content; got != w {
			t.Errorf("%s = %q, want %q", p, got, w)
		}
	}
	for p := range fs {
		if strings.HasPrefix(p, "/run") {
			t.Errorf("%s is in the image", p)
		}
	}

	required := contextDir(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN --mount=type=ssh,required=true true\n",
	})
	if _, _, err := e.build(required, Options{}); err == nil || !strings.Contains(err.Error(), "ssh agent default is required") {
		t.Errorf("a required agent that was not given: %v", err)
	}
}
