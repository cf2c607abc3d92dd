package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
)

// recorder answers every request with 200 and records its URL.
type recorder struct{ urls []string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.String())
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
}

func TestPlainHTTPPolicy(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure []string
		allowed  bool
	}{
		{url: "http://127.0.0.1:5000/v2/", allowed: true},
		{url: "http://localhost:5000/v2/", allowed: true},
		{url: "http://[::1]:5000/v2/", allowed: true},
		{url: "http://reg.localhost/v2/", allowed: true},
		{url: "http://10.1.2.3:5000/v2/", allowed: false},
		{url: "http://192.168.1.5/v2/", allowed: false},
		{url: "http://registry.example/v2/", allowed: false},
		{url: "http://10.1.2.3:5000/v2/", insecure: []string{"10.1.2.3:5000"}, allowed: true},
		{url: "http://10.1.2.3:5000/v2/", insecure: []string{"10.1.2.3"}, allowed: true},
		{url: "http://10.1.2.3:5000/v2/", insecure: []string{"10.0.0.0/8"}, allowed: true},
		{url: "http://10.1.2.3:5000/v2/", insecure: []string{"10.1.2.3:5001"}, allowed: false},
		{url: "http://registry.example/v2/", insecure: []string{"http://registry.example"}, allowed: true},
		{url: "https://registry.example/v2/", allowed: true},
	} {
		t.Run(tc.url+strings.Join(tc.insecure, ","), func(t *testing.T) {
			rec := &recorder{}
			tr, err := Options{Insecure: tc.insecure, Transport: rec}.RoundTripper()
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
			_, err = tr.RoundTrip(req)
			var pe *PlainHTTPError
			switch {
			case tc.allowed && err != nil:
				t.Errorf("refused: %v", err)
			case !tc.allowed && !errors.As(err, &pe):
				t.Errorf("allowed (err %v)", err)
			case !tc.allowed && len(rec.urls) != 0:
				t.Errorf("a refused request reached the transport: %v", rec.urls)
			}
		})
	}
}

func TestReferenceAllowsHTTPOnlyWhereAllowed(t *testing.T) {
	for _, tc := range []struct {
		ref      string
		insecure []string
		scheme   string
	}{
		{"127.0.0.1:5000/app:1", nil, "http"},
		{"localhost:5000/app", nil, "http"},
		{"registry.example/app", nil, "https"},
		{"registry.example/app", []string{"registry.example"}, "http"},
		{"golang:1.23", nil, "https"},
	} {
		ref, err := Options{Insecure: tc.insecure}.Reference(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		if got := ref.Context().Scheme(); got != tc.scheme {
			t.Errorf("%s (insecure %v): scheme %s, want %s", tc.ref, tc.insecure, got, tc.scheme)
		}
	}
	if _, err := (Options{}).Reference("UPPER/case"); err == nil {
		t.Error("accepted an invalid reference")
	}
}

func TestCAFileErrors(t *testing.T) {
	if _, err := (Options{CAFile: filepath.Join(t.TempDir(), "missing.pem")}).RoundTripper(); err == nil {
		t.Error("accepted a missing CA file")
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o644)
	if _, err := (Options{CAFile: bad}).RoundTripper(); err == nil || !strings.Contains(err.Error(), "no PEM certificates") {
		t.Errorf("bad CA file: %v", err)
	}
}

func TestServerAddress(t *testing.T) {
	for in, want := range map[string]string{
		"":                            authn.DefaultAuthKey,
		"docker.io":                   authn.DefaultAuthKey,
		"index.docker.io":             authn.DefaultAuthKey,
		"https://index.docker.io/v1/": authn.DefaultAuthKey,
		"127.0.0.1:5000":              "127.0.0.1:5000",
		"https://ghcr.io/":            "ghcr.io",
	} {
		if got := ServerAddress(in); got != want {
			t.Errorf("ServerAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

// basicAuthRegistry is an in-memory registry on 127.0.0.1 that wants
// HTTP basic credentials user:pass, as docker-registry with htpasswd does.
func basicAuthRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestLogin(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfgDir := filepath.Join(home, ".docker")
	t.Setenv("DOCKER_CONFIG", cfgDir)
	host := basicAuthRegistry(t, "alice", "s3cret")

	err := Login(ctx, host, "alice", "wrong", Options{})
	if !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfgDir, "config.json")); err == nil {
		t.Fatal("a failed login wrote the config file")
	}

	// An existing config keeps its other settings.
	os.MkdirAll(cfgDir, 0o700)
	os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"auths":{"other.example":{"auth":"eDp5"}},"detachKeys":"ctrl-x"}`), 0o600)
	if err := Login(ctx, host, "alice", "s3cret", Options{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(cfgDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cf struct {
		Auths      map[string]struct{ Auth string } `json:"auths"`
		DetachKeys string                           `json:"detachKeys"`
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		t.Fatal(err)
	}
	if got, want := cf.Auths[host].Auth, base64.StdEncoding.EncodeToString([]byte("alice:s3cret")); got != want {
		t.Errorf("auths[%s] = %q, want %q (file: %s)", host, got, want, b)
	}
	if cf.Auths["other.example"].Auth != "eDp5" || cf.DetachKeys != "ctrl-x" {
		t.Errorf("login lost other settings: %s", b)
	}
	// The default keychain finds what was written.
	reg, _ := name.NewRegistry(host)
	auth, err := authn.DefaultKeychain.Resolve(reg)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := auth.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	if ac.Username != "alice" || ac.Password != "s3cret" {
		t.Errorf("keychain gives %+v", ac)
	}
}

func TestLoginUnreachable(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	err := Login(context.Background(), "127.0.0.1:1", "u", "p", Options{})
	if err == nil || !strings.Contains(err.Error(), "logging in to 127.0.0.1:1") {
		t.Errorf("got %v", err)
	}
}
