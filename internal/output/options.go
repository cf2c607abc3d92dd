package output

import (
	"io"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/whittle-build/whittle/internal/registry"
)

// Options configure outputs that reach a registry or standard output.
type Options struct {
	// Insecure names registries that may be reached over plain HTTP
	// (--insecure-registry); loopback registries always may.
	Insecure []string
	// Keychain finds registry credentials; nil means ~/.docker/config.json
	// and its credential helpers.
	Keychain authn.Keychain
	// CAFile is a PEM bundle of extra CAs to trust for registries
	// (--registry-ca); empty means the system pool only.
	CAFile string
	// Transport is the HTTP transport underneath; nil means the default.
	// See registry.Options.Transport.
	Transport http.RoundTripper
	// Jobs is how many blobs are uploaded at once; 0 means
	// registry.DefaultJobs.
	Jobs int
	// Stdout is where dest "-" writes; nil means os.Stdout.
	Stdout io.Writer
	// KeepPlatforms names an image in the store without dropping the
	// name's images of other platforms (store.TagPlatform), as whittle
	// base does: a base made for each architecture stays one name, an
	// index of them. Default: a name is replaced, as docker build does.
	KeepPlatforms bool
}

func (o Options) registry() registry.Options {
	return registry.Options{Insecure: o.Insecure, Keychain: o.Keychain, CAFile: o.CAFile, Transport: o.Transport, Jobs: o.Jobs}
}

func (o Options) stdout() io.Writer {
	if o.Stdout == nil {
		return os.Stdout
	}
	return o.Stdout
}
