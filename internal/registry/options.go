package registry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultJobs is how many blobs are transferred at once when Options.Jobs is 0.
const DefaultJobs = 4

// Options say how to reach registries. The zero value is usable: HTTPS with
// the system's CAs, plain HTTP to loopback only, credentials from the docker
// config file.
type Options struct {
	// Insecure names registries ("host", "host:port" or a CIDR such as
	// "10.0.0.0/8") that may be reached over plain HTTP, and over HTTPS
	// without certificate verification (docker's --insecure-registry).
	// Loopback registries are always allowed plain HTTP.
	Insecure []string
	// Keychain finds credentials; nil means authn.DefaultKeychain
	// (~/.docker/config.json or $DOCKER_CONFIG, with credential helpers).
	Keychain authn.Keychain
	// CAFile is a PEM bundle of extra certificate authorities to trust for
	// registries, besides the system pool; empty means the system pool only.
	CAFile string
	// Transport is the HTTP transport underneath; nil means a clone of
	// remote.DefaultTransport. When it is an *http.Transport its TLS
	// settings are replaced by the ones above; any other RoundTripper (a
	// test seam, a proxy) is used as given, behind the plain-HTTP policy.
	Transport http.RoundTripper
	// Jobs is how many blobs are uploaded or downloaded at once; 0 means
	// DefaultJobs.
	Jobs int
}

// Reference parses an image reference ("golang:1.23",
// "127.0.0.1:5000/app@sha256:...") with the plain-HTTP fallback allowed for
// the registries that may use it.
func (o Options) Reference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", s, err)
	}
	if o.PlainHTTP(ref.Context().RegistryStr()) {
		ref, err = name.ParseReference(s, name.Insecure)
		if err != nil {
			return nil, fmt.Errorf("parsing image reference %q: %w", s, err)
		}
	}
	return ref, nil
}

// Remote returns the go-containerregistry options that apply these Options
// to one operation under ctx.
func (o Options) Remote(ctx context.Context) ([]remote.Option, error) {
	tr, err := o.RoundTripper()
	if err != nil {
		return nil, err
	}
	keys := o.Keychain
	if keys == nil {
		keys = authn.DefaultKeychain
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = DefaultJobs
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(tr),
		remote.WithAuthFromKeychain(keys),
		remote.WithJobs(jobs),
		remote.WithUserAgent("whittle"),
	}, nil
}
