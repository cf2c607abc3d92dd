package registry

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PlainHTTPError is returned for a plain-HTTP request to a registry that is
// neither a loopback address nor named in Options.Insecure.
type PlainHTTPError struct {
	// Host is the host:port the request was for.
	Host string
}

func (e *PlainHTTPError) Error() string {
	return fmt.Sprintf("refusing plain HTTP to %s: only loopback registries and those named with --insecure-registry may be reached without TLS", e.Host)
}

// RoundTripper returns the HTTP transport these Options describe: TLS with
// the configured CAs, verification skipped for Insecure registries, and
// plain HTTP refused except to loopback and Insecure registries. Build it
// once and share it: it keeps connections alive between requests.
func (o Options) RoundTripper() (http.RoundTripper, error) {
	if p, ok := o.Transport.(*policy); ok {
		return p, nil
	}
	base := o.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	t, ok := base.(*http.Transport)
	if !ok {
		return &policy{o: o, verify: base, skipVerify: base}, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.TLSClientConfig != nil {
		cfg = t.TLSClientConfig.Clone()
	}
	if o.CAFile != "" {
		pool, err := certPool(o.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	verify := t.Clone()
	verify.TLSClientConfig = cfg
	skip := t.Clone()
	skip.TLSClientConfig = cfg.Clone()
	skip.TLSClientConfig.InsecureSkipVerify = true
	return &policy{o: o, verify: verify, skipVerify: skip}, nil
}

// Prepared returns a copy of o whose Transport is built (see RoundTripper),
// so that every later use shares its connections.
func (o Options) Prepared() (Options, error) {
	tr, err := o.RoundTripper()
	if err != nil {
		return Options{}, err
	}
	o.Transport = tr
	return o, nil
}

// certPool returns the system pool plus the certificates in file.
func certPool(file string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading registry CA bundle: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("reading registry CA bundle %s: no PEM certificates in it", file)
	}
	return pool, nil
}

// policy is the RoundTripper that enforces the plain-HTTP and TLS rules.
type policy struct {
	o          Options
	verify     http.RoundTripper
	skipVerify http.RoundTripper
}

func (p *policy) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	insecure := p.o.IsInsecure(host)
	switch req.URL.Scheme {
	case "http":
		if !insecure && !IsLoopback(host) {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, &PlainHTTPError{Host: host}
		}
	case "https":
		if insecure {
			return p.skipVerify.RoundTrip(req)
		}
	}
	return p.verify.RoundTrip(req)
}

// PlainHTTP reports whether the registry (host or host:port) may be
// reached over plain HTTP: it is a loopback address or named in Insecure.
func (o Options) PlainHTTP(registry string) bool {
	return IsLoopback(registry) || o.IsInsecure(registry)
}

// IsInsecure reports whether the registry (host or host:port) is named in
// o.Insecure, by host:port, by host alone, or by a CIDR holding its address.
func (o Options) IsInsecure(registry string) bool {
	hostname := hostOnly(registry)
	ip := net.ParseIP(hostname)
	for _, e := range o.Insecure {
		e = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(e, "http://"), "https://"), "/")
		if e == "" {
			continue
		}
		if strings.EqualFold(e, registry) || strings.EqualFold(e, hostname) {
			return true
		}
		if _, cidr, err := net.ParseCIDR(e); err == nil && ip != nil && cidr.Contains(ip) {
			return true
		}
	}
	return false
}

// IsLoopback reports whether host (or host:port) is this machine:
// localhost, a name under .localhost, or a loopback IP address.
func IsLoopback(host string) bool {
	h := strings.ToLower(hostOnly(host))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// hostOnly strips the port from host:port (and the brackets of an IPv6 literal).
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}
