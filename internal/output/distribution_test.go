package output

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/crypto/bcrypt"

	"github.com/whittle-build/whittle/internal/registry"
	"github.com/whittle-build/whittle/internal/resolve"
)

// testCA writes a CA certificate (caDir/ca.crt) and a server certificate
// for 127.0.0.1 signed by it (serverDir/server.crt, server.key).
func testCA(t *testing.T, caDir, serverDir string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "whittle test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for f, b := range map[string]*pem.Block{
		filepath.Join(caDir, "ca.crt"):         {Type: "CERTIFICATE", Bytes: caDER},
		filepath.Join(serverDir, "server.crt"): {Type: "CERTIFICATE", Bytes: der},
		filepath.Join(serverDir, "server.key"): {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// htpasswdLine returns an htpasswd entry (bcrypt) for user: made by
// apache2-utils' htpasswd when installed, else by Go's bcrypt, whose
// $2a$ hashes docker-registry reads the same way.
func htpasswdLine(t *testing.T, user, pass string) []byte {
	t.Helper()
	if p, err := exec.LookPath("htpasswd"); err == nil {
		out, err := exec.Command(p, "-Bbn", user, pass).Output()
		if err != nil {
			t.Fatalf("htpasswd: %v", err)
		}
		return out
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pass), 5) // htpasswd -B's default cost
	if err != nil {
		t.Fatal(err)
	}
	return []byte(user + ":" + string(h) + "\n")
}

// distribution starts Debian's docker-registry on a free 127.0.0.1 port,
// serving TLS with a certificate from a test CA and wanting basic auth as
// user:pass (an htpasswd file). It returns the host:port and the
// directory holding ca.crt.
func distribution(t *testing.T, user, pass string) (host, certDir string) {
	t.Helper()
	bin := needTool(t, "docker-registry")
	dir := t.TempDir()
	certDir = filepath.Join(dir, "certs")
	serverDir := filepath.Join(dir, "server")
	os.Mkdir(certDir, 0o700)
	os.Mkdir(serverDir, 0o700)
	testCA(t, certDir, serverDir)
	os.WriteFile(filepath.Join(dir, "htpasswd"), htpasswdLine(t, user, pass), 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host = l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
  tls:
    certificate: %s
    key: %s
auth:
  htpasswd:
    realm: whittle-test
    path: %s
`, filepath.Join(dir, "data"), host, filepath.Join(serverDir, "server.crt"), filepath.Join(serverDir, "server.key"), filepath.Join(dir, "htpasswd"))
	cfgFile := filepath.Join(dir, "config.yml")
	os.WriteFile(cfgFile, []byte(cfg), 0o600)
	cmd := exec.Command(bin, "serve", cfgFile)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("docker-registry output:\n%s", logs.String())
		}
	})
	pem, _ := os.ReadFile(filepath.Join(certDir, "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get("https://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return host, certDir
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not come up on %s: %v\n%s", host, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPushToDistributionWithTLSAndHtpasswd(t *testing.T) {
	ctx := context.Background()
	host, certDir := distribution(t, "builder", "s3cret-pass")
	caFile := filepath.Join(certDir, "ca.crt")
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", filepath.Join(home, ".docker"))

	st := openStore(t)
	base := testImage(t, "dist")
	baseDesc := storeImage(t, st, base)
	dest := host + "/team/base:1"

	// No CA: the certificate is refused.
	if err := Push(ctx, st, baseDesc, dest, Options{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("push without the CA: %v", err)
	}
	// No credentials: refused.
	if err := Push(ctx, st, baseDesc, dest, Options{CAFile: caFile}); err == nil || !strings.Contains(err.Error(), "whittle login "+host) {
		t.Fatalf("push without credentials: %v", err)
	}
	if err := registry.Login(ctx, host, "builder", "wrong", registry.Options{CAFile: caFile}); !errors.Is(err, registry.ErrBadCredentials) {
		t.Fatalf("login with a wrong password: %v", err)
	}
	if err := registry.Login(ctx, host, "builder", "s3cret-pass", registry.Options{CAFile: caFile}); err != nil {
		t.Fatal(err)
	}
	if err := Push(ctx, st, baseDesc, dest, Options{CAFile: caFile}); err != nil {
		t.Fatal(err)
	}

	// Pull back by digest into another store, credentials from the login.
	other := openStore(t)
	res, err := resolve.New(resolve.Options{Store: other, CAFile: caFile}).Image(ctx, host+"/team/base@"+baseDesc.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Descriptor.Digest != baseDesc.Digest {
		t.Errorf("pulled back %s, pushed %s", res.Descriptor.Digest, baseDesc.Digest)
	}

	// An image on top of base, pushed to another repository: the store
	// knows base from this registry, so its layers are mounted, not sent.
	if err := st.Tag(dest, baseDesc); err != nil {
		t.Fatal(err)
	}
	app, err := mutate.AppendLayers(base, layerOf(t, tarEntry{"app", "app"}))
	if err != nil {
		t.Fatal(err)
	}
	appDesc := storeImage(t, st, app)
	tr, err := registry.Options{CAFile: caFile}.RoundTripper()
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingTransport{base: tr, failAfter: -1}
	if err := Push(ctx, st, appDesc, host+"/team/app:1", Options{Transport: counter}); err != nil {
		t.Fatal(err)
	}
	reqs := counter.take()
	m, _ := base.Manifest()
	for _, l := range m.Layers {
		mounted := 0
		for _, r := range reqs {
			if strings.HasPrefix(r, "POST /v2/team/app/blobs/uploads/?") && strings.Contains(r, "from=team%2Fbase") &&
				strings.Contains(r, "mount=sha256%3A"+l.Digest.Hex) {
				mounted++
			}
		}
		if mounted != 1 {
			t.Errorf("base layer %s was not mounted: %v", l.Digest, reqs)
		}
	}
	// Only the new layer and the config travel.
	if n := count(reqs, "PATCH "); n != 2 {
		t.Errorf("%d blobs uploaded, want 2 (the new layer, the config): %v", n, reqs)
	}

	t.Run("skopeo", func(t *testing.T) {
		skopeo := needTool(t, "skopeo")
		out := run(t, skopeo, "inspect", "--cert-dir", certDir, "--creds", "builder:s3cret-pass",
			"docker://"+host+"/team/app@"+appDesc.Digest.String())
		var info struct {
			Digest string
			Layers []string
		}
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			t.Fatal(err)
		}
		if info.Digest != appDesc.Digest.String() || len(info.Layers) != 3 {
			t.Errorf("skopeo inspect: %s", out)
		}
	})
}
