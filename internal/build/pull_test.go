package build

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/whittle-build/whittle/internal/testutil"
)

// TestFromByPull: a FROM image the store lacks is pulled from its registry
// on the first build, byte for byte, and taken from the store on the next
// ones without a single request; --pull asks the registry again. Against
// go-containerregistry's in-process registry and against the separate
// registry process .ci/run starts (Debian's docker-registry).
func TestFromByPull(t *testing.T) {
	for _, tc := range []struct {
		name     string
		registry func(testing.TB) string
	}{
		{"in-process registry", testutil.Registry},
		{"docker-registry", testutil.LocalRegistry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.RequireRoot(t)
			upstream := tc.registry(t)
			e := newEnv(t)
			base := testutil.BusyboxImage(t)
			repo := "whittle-test/pull-" + randomHex(t)
			ref, err := name.ParseReference(upstream + "/" + repo + ":1")
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref, base); err != nil {
				t.Fatalf("pushing the base to %s: %v", ref, err)
			}
			pushed, err := base.Digest()
			if err != nil {
				t.Fatal(err)
			}
			// A shared registry keeps no test images (best effort).
			t.Cleanup(func() { remote.Delete(ref.Context().Digest(pushed.String())) })

			// Builds reach the registry through a proxy that counts requests
			// and can refuse them.
			p := newCountingProxy(t, upstream)
			from := p.addr + "/" + repo + ":1"

			dir := contextDir(t, map[string]string{"Dockerfile": "FROM " + from + "\nRUN echo first > /which\n"})
			img, _ := e.mustBuild(dir, Options{})
			if p.requests() == 0 {
				t.Fatal("the first build made no request to the registry")
			}
			if got := filesystem(t, img)["/which"].content; got != "first\n" {
				t.Errorf("/which = %q", got)
			}
			d, err := e.st.Lookup(from)
			if err != nil {
				t.Fatalf("the pulled base is not in the store as %s: %v", from, err)
			}
			if d.Digest != pushed {
				t.Errorf("the store has %s as %s, the registry %s", from, d.Digest, pushed)
			}

			// Second build, another step: the base comes from the store.
			p.refuse(true)
			before := p.requests()
			dir2 := contextDir(t, map[string]string{"Dockerfile": "FROM " + from + "\nRUN echo second > /which\n"})
			img, evs := e.mustBuild(dir2, Options{})
			if n := p.requests() - before; n != 0 {
				t.Errorf("the second build made %d requests to the registry (%v), want 0", n, p.paths())
			}
			if got := filesystem(t, img)["/which"].content; got != "second\n" {
				t.Errorf("/which = %q", got)
			}
			if ran := evs.executed("RUN echo second"); len(ran) != 1 {
				t.Errorf("the second build ran %v", ran)
			}

			// --pull asks the registry even though the store has the image;
			// with the registry refusing, the build says so.
			before = p.requests()
			_, _, err = e.build(dir2, Options{Pull: true})
			if p.requests() == before {
				t.Error("--pull made no request to the registry")
			}
			if err == nil {
				t.Error("--pull with the registry refusing succeeded")
			} else if !strings.Contains(err.Error(), p.addr) {
				t.Errorf("--pull error %q does not name the registry %s", err, p.addr)
			}
			p.refuse(false)
			if _, _, err := e.build(dir2, Options{Pull: true}); err != nil {
				t.Errorf("--pull with the registry answering: %v", err)
			}
		})
	}
}

// countingProxy forwards HTTP requests on 127.0.0.1 to a registry, counting
// them; when refusing, it answers 403 instead (not retried, unlike 503) (and still counts).
type countingProxy struct {
	addr    string
	n       atomic.Int64
	refused atomic.Bool
	mu      sync.Mutex
	seen    []string
}

func newCountingProxy(t *testing.T, upstream string) *countingProxy {
	t.Helper()
	u, err := url.Parse("http://" + upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.n.Add(1)
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		if p.refused.Load() {
			http.Error(w, "refused by the test", http.StatusForbidden)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	p.addr = l.Addr().String()
	return p
}

func (p *countingProxy) requests() int64 { return p.n.Load() }
func (p *countingProxy) refuse(b bool)   { p.refused.Store(b) }
func (p *countingProxy) paths() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func randomHex(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}
