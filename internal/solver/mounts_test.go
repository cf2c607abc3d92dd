package solver

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/buildcontext"
	"github.com/whittle-build/whittle/internal/plan"
	"github.com/whittle-build/whittle/internal/secrets"
	"github.com/whittle-build/whittle/internal/snapshot"
	"github.com/whittle-build/whittle/internal/sshforward"
	"github.com/whittle-build/whittle/internal/step"
	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

type fakeSecrets map[string]string

func (f fakeSecrets) Secret(id string) ([]byte, error) {
	v, ok := f[id]
	if !ok {
		return nil, secrets.ErrNotFound
	}
	return []byte(v), nil
}

type noSnapshots struct{}

func (noSnapshots) Prepare(context.Context, []string) (snapshot.Active, error) {
	return nil, errors.New("no snapshots in this test")
}

type noSandbox struct{}

func (noSandbox) Run(context.Context, *step.Process) error { return errors.New("no sandbox") }

type noImages struct{}

func (noImages) Image(context.Context, *plan.ImageRef) (v1.Image, error) {
	return nil, errors.New("no images")
}

func newTestSolver(t *testing.T, o Options) *Solver {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	o.Store, o.Snapshotter, o.Sandbox, o.Images = st, noSnapshots{}, noSandbox{}, noImages{}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func u32(v uint32) *uint32 { return &v }
func intp(v int) *int      { return &v }

func TestPrepareMounts(t *testing.T) {
	agentDir, err := os.MkdirTemp("", "agent-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(agentDir)
	sock := filepath.Join(agentDir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	agents, err := sshforward.NewAgents([]sshforward.Spec{{ID: "default", Paths: []string{sock}}})
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSolver(t, Options{Secrets: fakeSecrets{"tok": "hush", "api": "key"}, SSH: agents})
	r := &plan.Run{
		Env: []string{"PATH=/bin"},
		Mounts: []plan.Mount{
			{Type: plan.MountTmpfs, Target: "/z/tmp", Size: 1 << 20},
			{Type: plan.MountSecret, ID: "tok", Target: "/run/secrets/tok"},
			{Type: plan.MountSecret, ID: "api", Env: "API_KEY"},
			{Type: plan.MountSecret, ID: "tok", Target: "/etc/tok", Mode: u32(0o440), UID: intp(0), GID: intp(0)},
			{Type: plan.MountSecret, ID: "missing", Target: "/run/secrets/missing"},
			{Type: plan.MountSSH, ID: "default", Target: "/run/buildkit/ssh_agent.0"},
			{Type: plan.MountSSH, ID: "absent", Target: "/run/buildkit/ssh_agent.1"},
		},
	}
	rm, err := s.prepareMounts(context.Background(), r, nil, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, m := range rm.mounts {
		targets = append(targets, m.Target)
	}
	want := []string{"/etc/tok", "/run/buildkit/ssh_agent.0", "/run/secrets/tok", "/z/tmp"}
	if !reflect.DeepEqual(targets, want) {
		t.Errorf("mount targets %q, want %q (sorted, optional missing ones left out)", targets, want)
	}
	byTarget := map[string]step.Mount{}
	for _, m := range rm.mounts {
		byTarget[m.Target] = m
	}
	if m := byTarget["/z/tmp"]; m.Type != "tmpfs" || !reflect.DeepEqual(m.Options, []string{"nosuid", "size=1048576"}) {
		t.Errorf("tmpfs mount %+v", m)
	}
	for target, mode := range map[string]os.FileMode{"/run/secrets/tok": 0o400, "/etc/tok": 0o440} {
		m := byTarget[target]
		b, err := os.ReadFile(m.Source)
		if err != nil || string(b) != "hush" || !m.ReadOnly {
			t.Errorf("secret %s: %q, %v, read-only %v", target, b, err, m.ReadOnly)
		}
		if fi, err := os.Stat(m.Source); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("secret %s mode %v, want %v", target, fi.Mode().Perm(), mode)
		}
	}
	if fi, err := os.Stat(byTarget["/run/buildkit/ssh_agent.0"].Source); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("ssh mount source is not a socket: %v", err)
	}
	if want := []string{"API_KEY=key", "SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0"}; !reflect.DeepEqual(rm.env, want) {
		t.Errorf("env %q, want %q", rm.env, want)
	}
	dir := rm.dir
	if err := rm.release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("release left %s", dir)
	}

	// Required and missing: an error that names the flag; nothing left.
	for _, m := range []plan.Mount{
		{Type: plan.MountSecret, ID: "nope", Target: "/x", Required: true},
		{Type: plan.MountSSH, ID: "nope", Target: "/y", Required: true},
	} {
		_, err := s.prepareMounts(context.Background(), &plan.Run{Mounts: []plan.Mount{m}}, nil, t.TempDir(), false)
		if err == nil || !strings.Contains(err.Error(), "--") {
			t.Errorf("required %s: %v", m.Type, err)
		}
	}
	// An instruction's own SSH_AUTH_SOCK is kept.
	rm, err = s.prepareMounts(context.Background(), &plan.Run{Env: []string{"SSH_AUTH_SOCK=/mine"}, Mounts: []plan.Mount{{Type: plan.MountSSH, ID: "default", Target: "/a"}}}, nil, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.env) != 0 {
		t.Errorf("env %q overrides the instruction's SSH_AUTH_SOCK", rm.env)
	}
	rm.release()
}

func TestCacheKey(t *testing.T) {
	base := plan.Mount{Type: plan.MountCache, ID: "/root/.cache", Target: "/root/.cache", Sharing: "shared"}
	same := base
	same.Sharing, same.Target = "locked", "/elsewhere"
	if cacheKey(base, "") != cacheKey(same, "") {
		t.Error("sharing or target changed the cache's identity")
	}
	other := base
	other.ID = "other"
	owned := base
	owned.UID = intp(1000)
	for name, k := range map[string]string{
		"id":     cacheKey(other, ""),
		"seed":   cacheKey(base, "sha256:abc"),
		"owner":  cacheKey(owned, ""),
		"source": cacheKey(plan.Mount{ID: base.ID, Source: "/x"}, "sha256:abc"),
	} {
		if k == cacheKey(base, "") {
			t.Errorf("a different %s gave the same cache", name)
		}
	}
}

func TestHostView(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	for _, f := range []string{"src/a", "src/sub/b", "mixed/a", "ign/a", "ign/b.tmp"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Lchown(filepath.Join(dir, "mixed/a"), 1000, 1000)
	bc, err := buildcontext.Open(dir, buildcontext.Options{Ignore: []string{"**/*.tmp"}})
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSolver(t, Options{Contexts: map[string]*buildcontext.Context{"": bc}})
	tests := []struct {
		src      string
		writable bool
		want     string
	}{
		{"src", false, filepath.Join(dir, "src")},
		{"src", true, ""}, // writes must go nowhere: a view
		{"src/a", false, filepath.Join(dir, "src/a")},
		{"mixed", false, ""}, // a file not owned by root
		{"ign", false, ""},   // an ignored file below
		{".", false, ""},
	}
	for _, tt := range tests {
		got, err := s.hostView("", tt.src, tt.writable)
		if err != nil || got != tt.want {
			t.Errorf("hostView(%q, writable %v) = %q, %v; want %q", tt.src, tt.writable, got, err, tt.want)
		}
	}
	if _, err := s.hostView("nope", ".", false); err == nil {
		t.Error("an unknown context was accepted")
	}
}
