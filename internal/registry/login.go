package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrBadCredentials is returned by Login when the registry refuses the user
// name or password.
var ErrBadCredentials = errors.New("the registry refused the user name or password")

// ConfigDir returns the directory of the docker config file that Login
// writes and the default keychain reads: $DOCKER_CONFIG, else ~/.docker.
func ConfigDir() (string, error) {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the docker config directory: %w", err)
	}
	return filepath.Join(home, ".docker"), nil
}

// ServerAddress returns the key under which docker's config file keeps the
// credentials of registry: "https://index.docker.io/v1/" for Docker Hub
// (given as "", "docker.io", "index.docker.io" or "registry-1.docker.io"),
// else the host[:port] with any scheme or path removed.
func ServerAddress(registry string) string {
	r := strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://")
	if i := strings.IndexByte(r, '/'); i >= 0 {
		r = r[:i]
	}
	switch strings.ToLower(r) {
	case "", "docker.io", name.DefaultRegistry, "registry-1.docker.io":
		return authn.DefaultAuthKey
	}
	return r
}

// Login checks user and password against registry (a GET /v2/ with them,
// through the registry's token service when it has one) and, when the
// registry accepts them, records them in the docker config file (see
// ConfigDir) as `docker login` does: in the configured credential helper
// (credsStore / credHelpers) when there is one, else base64 in "auths"
// (unencrypted: the caller should say so, as docker login does). The file
// is replaced atomically.
func Login(ctx context.Context, registry, user, password string, o Options) error {
	addr := ServerAddress(registry)
	host := addr
	if addr == authn.DefaultAuthKey {
		host = name.DefaultRegistry
	}
	if err := checkLogin(ctx, host, user, password, o); err != nil {
		return fmt.Errorf("logging in to %s: %w", host, err)
	}
	dir, err := ConfigDir()
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", host, err)
	}
	cf, err := config.Load(dir)
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", host, err)
	}
	creds := types.AuthConfig{Username: user, Password: password, ServerAddress: addr}
	if cf.CredentialsStore != "" || cf.CredentialHelpers[addr] != "" {
		if err := cf.GetCredentialsStore(addr).Store(creds); err != nil {
			return fmt.Errorf("logging in to %s: storing the credentials in the credential helper: %w", host, err)
		}
	} else {
		// The file store would print docker's warning to stderr; the
		// caller says what it wants instead (see Login's doc).
		if cf.AuthConfigs == nil {
			cf.AuthConfigs = map[string]types.AuthConfig{}
		}
		cf.AuthConfigs[addr] = creds
	}
	if err := cf.Save(); err != nil {
		return fmt.Errorf("logging in to %s: writing %s: %w", host, cf.Filename, err)
	}
	return nil
}

// checkLogin makes one authenticated request to the registry's API root.
func checkLogin(ctx context.Context, host, user, password string, o Options) error {
	var opts []name.Option
	if o.PlainHTTP(host) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return fmt.Errorf("parsing registry name: %w", err)
	}
	tr, err := o.RoundTripper()
	if err != nil {
		return err
	}
	ping, err := transport.Ping(ctx, reg, tr)
	if err != nil {
		return err
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	rt, err := transport.NewWithContext(ctx, reg, auth, tr, nil)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
			return fmt.Errorf("%w: %v", ErrBadCredentials, err)
		}
		return err
	}
	scheme := "https"
	if ping.Insecure {
		scheme = "http"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrBadCredentials
	}
	return fmt.Errorf("GET /v2/ answered %s", resp.Status)
}
