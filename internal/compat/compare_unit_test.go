package compat

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestCompareTrees(t *testing.T) {
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	file := func(mode int64, uid int, digest string) *inode {
		return &inode{typ: "file", mode: mode, uid: uid, gid: uid, size: 1, digest: digest, mtime: old}
	}
	shared := file(0o644, 0, "aa")
	w := tree{
		"/same":    file(0o644, 0, "aa"),
		"/mode":    file(0o644, 0, "aa"),
		"/owner":   file(0o644, 0, "aa"),
		"/content": file(0o644, 0, "aa"),
		"/only-w":  file(0o644, 0, "aa"),
		"/type":    {typ: "dir", mode: 0o755},
		"/link":    {typ: "symlink", mode: 0o777, link: "a"},
		"/h1":      shared,
		"/h2":      shared,
		"/time":    file(0o644, 0, "aa"),
	}
	newer := file(0o644, 0, "aa")
	newer.mtime = old.Add(time.Hour)
	p := tree{
		"/same":    file(0o644, 0, "aa"),
		"/mode":    file(0o4755, 0, "aa"),
		"/owner":   file(0o644, 1000, "aa"),
		"/content": file(0o644, 0, "bb"),
		"/only-p":  file(0o644, 0, "aa"),
		"/type":    file(0o755, 0, "aa"),
		"/link":    {typ: "symlink", mode: 0o777, link: "b"},
		"/h1":      file(0o644, 0, "aa"),
		"/h2":      file(0o644, 0, "aa"),
		"/time":    newer,
	}
	var got []string
	for _, d := range compareTrees(w, p, compareOptions{}) {
		got = append(got, d.path+" "+d.field)
	}
	want := []string{"/content content", "/h1 hardlinks", "/h2 hardlinks", "/link link", "/mode mode",
		"/only-p presence", "/only-w presence", "/owner owner", "/type type"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("differences (-want +got):\n%s", diff)
	}
	// Times count only where asked.
	got = nil
	for _, d := range compareTrees(tree{"/time": w["/time"]}, tree{"/time": newer}, compareOptions{mtimes: []string{"/t*"}}) {
		got = append(got, d.path+" "+d.field)
	}
	if diff := cmp.Diff([]string{"/time mtime"}, got); diff != "" {
		t.Errorf("differences with mtimes (-want +got):\n%s", diff)
	}
}

func TestCompareConfigs(t *testing.T) {
	w := v1.Config{
		Env: []string{"A=1"}, Cmd: []string{"sh"}, User: "app", Labels: map[string]string{"a": "1", "b": "2"},
		Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}},
	}
	p := v1.Config{
		Env: []string{"A=1"}, Cmd: []string{"sh"}, Entrypoint: []string{}, Labels: map[string]string{"a": "1", "c": "3"},
		Volumes: map[string]struct{}{},
	}
	var got []string
	for _, d := range compareConfigs(w, p) {
		got = append(got, strings.TrimSpace(d.field+" "+d.path))
	}
	// An empty Entrypoint or Volumes is the same as none.
	want := []string{"config.User", "config.Healthcheck", "config.Labels b", "config.Labels c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("differences (-want +got):\n%s", diff)
	}
}

func TestJudge(t *testing.T) {
	diffs := []difference{
		{field: "presence", path: "/root/.cache/go-build/00/x"},
		{field: "content", path: "/root/.cache/go-build/00/x"},
		{field: "presence", path: "/etc/hosts"},
		{field: "config.Labels", path: "io.buildah.version"},
	}
	tols := []tolerance{
		{field: "presence", path: "/root/.cache/go-build/**", reason: "cache"},
		{peer: "buildah", field: "presence", path: "/etc/hosts", reason: "hosts"},
		{peer: "buildah", field: "config.Labels", path: "io.buildah.*", reason: "label"},
	}
	bad, ok := judge("buildkit", diffs, tols)
	if len(bad) != 3 || len(ok["cache"]) != 1 {
		t.Errorf("for buildkit: %d not tolerated (want 3), tolerated %v", len(bad), ok)
	}
	bad, ok = judge("buildah", diffs, tols)
	if len(bad) != 1 || bad[0].field != "content" || len(ok) != 3 {
		t.Errorf("for buildah: not tolerated %v (want the content one), tolerated %v", bad, ok)
	}
}
