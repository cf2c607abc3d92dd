package compat

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/whittle-build/whittle/internal/store"
	"github.com/whittle-build/whittle/internal/testutil"
)

// base is a fixture image that cases build FROM, under the name their
// Dockerfiles use.
type base struct {
	// ref is the name in Dockerfiles and in whittle's store; the peers
	// reach it through mirrors of docker.io and gcr.io.
	ref string
	// repo is where the peers find it in the loopback registry: the paths
	// bench/peers.sh pushes to and the mirrors map ref onto.
	repo string
	// image makes the image (skipping the test when its fixture is missing).
	image func(testing.TB) v1.Image
}

// bases are the fixtures by the short names cases list.
func bases() map[string]base {
	debian := func(variant string) func(testing.TB) v1.Image {
		return func(t testing.TB) v1.Image { return testutil.DebianImage(t, variant) }
	}
	return map[string]base{
		"busybox": {ref: "busybox", repo: "library/busybox:latest", image: testutil.BusyboxImage},
		"debian":  {ref: "debian:bookworm", repo: "library/debian:bookworm", image: debian("minbase")},
		"golang":  {ref: "golang:bookworm", repo: "library/golang:bookworm", image: debian("golang")},
		"python":  {ref: "python:bookworm", repo: "library/python:bookworm", image: debian("python")},
		"static": {ref: "gcr.io/distroless/static-debian12", repo: "distroless/static-debian12:latest",
			image: debian("static-extract")},
		"python3": {ref: "gcr.io/distroless/python3-debian12", repo: "distroless/python3-debian12:latest",
			image: debian("python3-extract")},
	}
}

// fixtures makes each base once: pushed to the registry for the peers and
// written into whittle's store, on first use.
type fixtures struct {
	registry string // host:port; "" when no peer pulls
	st       *store.Store
	all      map[string]base

	mu   sync.Mutex
	once map[string]*sync.Once
	errs map[string]error
}

// need makes the bases ready, or fails t.
func (f *fixtures) need(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		b, ok := f.all[n]
		if !ok {
			t.Fatalf("unknown base %q", n)
		}
		f.mu.Lock()
		if f.once[n] == nil {
			f.once[n] = &sync.Once{}
		}
		once := f.once[n]
		f.mu.Unlock()
		// The image is made outside the Once, so that a missing fixture
		// skips (or fails) every test that needs it, not only the first.
		img := b.image(t)
		once.Do(func() {
			err := f.prepare(t.Context(), b, img)
			f.mu.Lock()
			f.errs[n] = err
			f.mu.Unlock()
		})
		f.mu.Lock()
		err := f.errs[n]
		f.mu.Unlock()
		if err != nil {
			t.Fatalf("base %s: %v", n, err)
		}
	}
}

func (f *fixtures) prepare(ctx context.Context, b base, img v1.Image) error {
	desc, err := f.st.WriteImage(ctx, img)
	if err != nil {
		return fmt.Errorf("writing to whittle's store: %w", err)
	}
	if err := f.st.Tag(b.ref, desc); err != nil {
		return fmt.Errorf("tagging %s in whittle's store: %w", b.ref, err)
	}
	if f.registry == "" {
		return nil
	}
	ref, err := name.ParseReference(f.registry + "/" + b.repo)
	if err != nil {
		return err
	}
	// Blobs the registry has are not sent again.
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}
