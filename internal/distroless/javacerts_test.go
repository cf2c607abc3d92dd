package distroless

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
	"unicode/utf16"
)

// readJKS parses a JKS trust store the way sun.security.provider.
// JavaKeyStore.engineLoad does, checking the keyed SHA-1 seal with the
// password "changeit": alias → certificate.
func readJKS(t testing.TB, data []byte) (map[string]*x509.Certificate, error) {
	t.Helper()
	if len(data) < 12+sha1.Size {
		return nil, errors.New("too short")
	}
	body, seal := data[:len(data)-sha1.Size], data[len(data)-sha1.Size:]
	h := sha1.New()
	for _, c := range utf16.Encode([]rune("changeit")) {
		h.Write([]byte{byte(c >> 8), byte(c)})
	}
	h.Write([]byte("Mighty Aphrodite"))
	h.Write(body)
	if !bytes.Equal(h.Sum(nil), seal) {
		return nil, errors.New("the keyed digest does not match: keytool would say the keystore was tampered with")
	}
	r := bytes.NewReader(body)
	var magic, version, count uint32
	for _, v := range []*uint32{&magic, &version, &count} {
		if err := binary.Read(r, binary.BigEndian, v); err != nil {
			return nil, err
		}
	}
	if magic != 0xfeedfeed || version != 2 {
		return nil, fmt.Errorf("magic %x version %d", magic, version)
	}
	readUTF := func() (string, error) {
		var n uint16
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			return "", err
		}
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return string(b), err
	}
	out := map[string]*x509.Certificate{}
	for i := uint32(0); i < count; i++ {
		var tag uint32
		binary.Read(r, binary.BigEndian, &tag)
		if tag != 2 {
			return nil, fmt.Errorf("entry %d: tag %d, want 2 (trusted certificate)", i, tag)
		}
		alias, err := readUTF()
		if err != nil {
			return nil, err
		}
		var ms int64
		binary.Read(r, binary.BigEndian, &ms)
		typ, err := readUTF()
		if err != nil || typ != "X.509" {
			return nil, fmt.Errorf("entry %s: type %q %v", alias, typ, err)
		}
		var n uint32
		binary.Read(r, binary.BigEndian, &n)
		der := make([]byte, n)
		if _, err := io.ReadFull(r, der); err != nil {
			return nil, err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", alias, err)
		}
		out[alias] = c
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%d bytes after the entries", r.Len())
	}
	return out, nil
}

func TestJavaTrustStore(t *testing.T) {
	a, b := testCAPEM(t, "A root"), testCAPEM(t, "B root")
	cert := func(name string, data []byte) caCert {
		parsed, err := parsePEMCerts(data)
		if err != nil {
			t.Fatal(err)
		}
		return caCert{Name: name, PEM: data, Certs: parsed}
	}
	certs := []caCert{cert("mozilla/B_Root.crt", b), cert("mozilla/A_Root.crt", a), cert("Ünïcode Root.crt", a)}
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	ks, err := javaTrustStore(certs, created)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := javaTrustStore(certs, created)
	if !bytes.Equal(ks, again) {
		t.Error("the trust store is not deterministic")
	}
	got, err := readJKS(t, ks)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["debian:a_root.pem"].Subject.CommonName != "A root" || got["debian:b_root.pem"].Subject.CommonName != "B root" {
		t.Errorf("entries %v", keys(got))
	}
	if _, ok := got["debian:ünïcode root.pem"]; !ok {
		t.Errorf("non-ASCII alias missing: %v", keys(got))
	}
	ks[20] ^= 1
	if _, err := readJKS(t, ks); err == nil {
		t.Error("a tampered store passed the digest check")
	}
}

func TestWriteJavaUTF(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
	}{
		{"ab", []byte{0, 2, 'a', 'b'}},
		{"\x00", []byte{0, 2, 0xc0, 0x80}},
		{"é", []byte{0, 2, 0xc3, 0xa9}},
		{"€", []byte{0, 3, 0xe2, 0x82, 0xac}},
		{"𝄞", []byte{0, 6, 0xed, 0xa0, 0xb4, 0xed, 0xb4, 0x9e}}, // a surrogate pair, 3 bytes each
	} {
		var b bytes.Buffer
		if err := writeJavaUTF(&b, tc.in); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), tc.want) {
			t.Errorf("%q: % x, want % x", tc.in, b.Bytes(), tc.want)
		}
	}
}
