package testutil

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// DefaultLocalRegistry is where .ci/run starts Debian's docker-registry.
const DefaultLocalRegistry = "127.0.0.1:5000"

// Registry starts an in-memory registry (go-containerregistry's pkg/registry)
// on 127.0.0.1 for the life of the test and returns its host:port. Plain HTTP:
// go-containerregistry and whittle speak HTTP to loopback addresses.
func Registry(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening on 127.0.0.1: %v", err)
	}
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// LocalRegistry returns the host:port of the registry that .ci/run starts
// (Debian's docker-registry, $WHITTLE_TEST_REGISTRY or 127.0.0.1:5000), for
// tests that need a real, separate registry process. It skips the test when
// nothing answers there (fails when CI=true).
func LocalRegistry(t testing.TB) string {
	t.Helper()
	addr := envOr("WHITTLE_TEST_REGISTRY", DefaultLocalRegistry)
	if err := pingRegistry(addr); err != nil {
		Unavailable(t, "no registry at %s (.ci/run starts one; see bench/peers.sh): %v", addr, err)
	}
	return addr
}

// pingRegistry checks that a registry answers the /v2/ API check at addr.
func pingRegistry(addr string) error {
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + addr + "/v2/")
	if err != nil {
		return err
	}
	resp.Body.Close()
	// 401 is a registry that wants credentials: it is there.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("GET /v2/ answered %s", resp.Status)
	}
	return nil
}
