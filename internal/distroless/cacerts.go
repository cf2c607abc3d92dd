package distroless

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path"
	"sort"
	"strings"
)

// caCert is one certificate file of the CA bundle.
type caCert struct {
	// Name is the file's path relative to its certificate directory
	// ("mozilla/ISRG_Root_X1.crt", "corp.crt").
	Name string
	// PEM is the file's content.
	PEM []byte
	// Certs are PEM's certificates, parsed once: caBundle checks them, and
	// the Java trust store holds them.
	Certs []*x509.Certificate
}

// localCertDir is where update-ca-certificates finds local certificates.
const localCertDir = "usr/local/share/ca-certificates"

// packageCertDir is where ca-certificates installs its certificates.
const packageCertDir = "usr/share/ca-certificates"

// caBundle replays update-ca-certificates with Debian's default
// configuration (every certificate of ca-certificates enabled): the
// package's certificates in path order, then the local ones (*.crt below
// /usr/local/share/ca-certificates) in path order, each ending in a newline,
// concatenated. It returns the bundle and the certificates in bundle order,
// parsed. Every certificate must be PEM; a local one that is not is an
// error naming it.
func caBundle(pkgCerts map[string][]byte, local map[string][]byte) ([]byte, []caCert, error) {
	var certs []caCert
	for _, src := range []struct {
		files map[string][]byte
		dir   string
	}{{pkgCerts, packageCertDir}, {local, localCertDir}} {
		var names []string
		for p := range src.files {
			if strings.HasPrefix(p, src.dir+"/") && strings.HasSuffix(p, ".crt") {
				names = append(names, p)
			}
		}
		sort.Strings(names)
		for _, p := range names {
			data := src.files[p]
			parsed, err := parsePEMCerts(data)
			if err != nil {
				return nil, nil, fmt.Errorf("CA certificate /%s: %w", p, err)
			}
			certs = append(certs, caCert{Name: strings.TrimPrefix(p, src.dir+"/"), PEM: data, Certs: parsed})
		}
	}
	var b bytes.Buffer
	for _, c := range certs {
		b.Write(c.PEM)
		if len(c.PEM) > 0 && c.PEM[len(c.PEM)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.Bytes(), certs, nil
}

// parsePEMCerts returns the X.509 certificates of a PEM file (at least one).
func parsePEMCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := data; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM CERTIFICATE block")
	}
	return out, nil
}

// javaAlias is the alias ca-certificates-java gives a certificate file:
// "debian:" and the name of its /etc/ssl/certs link, lower case.
func javaAlias(name string) string {
	base := strings.TrimSuffix(path.Base(name), ".crt") + ".pem"
	return "debian:" + strings.ToLower(base)
}
