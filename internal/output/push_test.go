package output

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/whittle-build/whittle/internal/resolve"
	"github.com/whittle-build/whittle/internal/testutil"
)

func remoteDigest(t *testing.T, ref string, opts ...remote.Option) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Get(r, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest
}

func TestPushAndPullBack(t *testing.T) {
	ctx := context.Background()
	reg := newCountingRegistry(t)
	st := openStore(t)
	desc := storeImage(t, st, testImage(t, "p"))
	if err := Push(ctx, st, desc, reg.host+"/team/app:1", Options{}); err != nil {
		t.Fatal(err)
	}
	if got := remoteDigest(t, reg.host+"/team/app:1"); got != desc.Digest {
		t.Fatalf("registry has %s, pushed %s", got, desc.Digest)
	}
	// type=registry pushes every name.
	if err := Write(ctx, st, desc, nil, mustParse(t, `type=registry,"name=`+reg.host+`/team/app:2,`+reg.host+`/team/app:3"`), Options{}); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"2", "3"} {
		if got := remoteDigest(t, reg.host+"/team/app:"+tag); got != desc.Digest {
			t.Errorf("tag %s: %s", tag, got)
		}
	}
	// Pull back by digest into another store.
	other := openStore(t)
	res, err := resolve.New(resolve.Options{Store: other}).Image(ctx, reg.host+"/team/app@"+desc.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Descriptor.Digest != desc.Digest {
		t.Errorf("pulled back %s, want %s", res.Descriptor.Digest, desc.Digest)
	}
}

func TestPushSkipsWhatTheRegistryHas(t *testing.T) {
	ctx := context.Background()
	reg := newCountingRegistry(t)
	st := openStore(t)
	desc := storeImage(t, st, testImage(t, "s"))
	if err := Push(ctx, st, desc, reg.host+"/app:1", Options{}); err != nil {
		t.Fatal(err)
	}
	first := reg.take()
	if n := count(first, "PATCH /v2/app/blobs/uploads/"); n != 3 {
		t.Errorf("first push uploaded %d blobs, want 3 (two layers, config): %v", n, first)
	}
	if err := Push(ctx, st, desc, reg.host+"/app:2", Options{}); err != nil {
		t.Fatal(err)
	}
	second := reg.take()
	if n := count(second, "PATCH ") + count(second, "POST "); n != 0 {
		t.Errorf("second push of the same blobs uploaded: %v", second)
	}
	if n := count(second, "PUT /v2/app/manifests/2"); n != 1 {
		t.Errorf("second push did not put the manifest: %v", second)
	}
}

func TestInterruptedPushResumes(t *testing.T) {
	ctx := context.Background()
	reg := newCountingRegistry(t)
	st := openStore(t)
	img, err := random.Image(4096, 5)
	if err != nil {
		t.Fatal(err)
	}
	desc := storeImage(t, st, img)
	dest := reg.host + "/big:1"

	cut := &countingTransport{base: http.DefaultTransport, failAfter: 2}
	err = Push(ctx, st, desc, dest, Options{Transport: cut, Jobs: 1})
	if !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted push: got %v", err)
	}
	if cut.committed != 2 {
		t.Fatalf("%d blobs committed before the cut, want 2", cut.committed)
	}
	retry := &countingTransport{base: http.DefaultTransport, failAfter: -1}
	if err := Push(ctx, st, desc, dest, Options{Transport: retry}); err != nil {
		t.Fatal(err)
	}
	reqs := retry.take()
	// Six blobs: five layers and the config; two were in already.
	if n := count(reqs, "PATCH "); n != 4 {
		t.Errorf("the retry uploaded %d blobs, want 4: %v", n, reqs)
	}
	if n := count(reqs, "HEAD /v2/big/blobs/"); n != 6 {
		t.Errorf("the retry checked %d blobs, want 6", n)
	}
	if got := remoteDigest(t, dest); got != desc.Digest {
		t.Errorf("registry has %s, pushed %s", got, desc.Digest)
	}
}

func TestPushToLocalRegistry(t *testing.T) {
	host := testutil.LocalRegistry(t)
	ctx := context.Background()
	st := openStore(t)
	desc := storeImage(t, st, testImage(t, "local"))
	dest := host + "/whittle-test/output:push"
	if err := Push(ctx, st, desc, dest, Options{}); err != nil {
		if strings.Contains(err.Error(), "UNAUTHORIZED") {
			t.Skipf("the registry at %s wants credentials: %v", host, err)
		}
		t.Fatal(err)
	}
	if got := remoteDigest(t, dest); got != desc.Digest {
		t.Errorf("registry has %s, pushed %s", got, desc.Digest)
	}
}
