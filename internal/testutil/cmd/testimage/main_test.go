package main

import (
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/whittle-build/whittle/internal/testutil"
)

func TestRun(t *testing.T) {
	want, err := testutil.BusyboxImage(t).Digest()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	if err := run([]string{"-o", dir, "-name", "busybox:latest", "busybox"}); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Digest != want ||
		m.Manifests[0].Annotations[testutil.RefNameAnnotation] != "busybox:latest" {
		t.Errorf("index %+v, want one busybox:latest at %s", m.Manifests, want)
	}
}

func TestRunErrors(t *testing.T) {
	tests := [][]string{
		{},
		{"-o", t.TempDir(), "busybox"},
		{"-o", t.TempDir(), "-name", "x", "nothing"},
		{"-o", t.TempDir(), "-name", "x", "debian"},
		{"-o", t.TempDir(), "-name", "x", "rootfs", filepath.Join(t.TempDir(), "missing.tar")},
	}
	for _, args := range tests {
		if err := run(args); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}
