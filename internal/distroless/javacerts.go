package distroless

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"sort"
	"time"
	"unicode/utf16"
)

// JavaTrustStore is where ca-certificates-java keeps the JRE's trust store
// (the JRE's lib/security/cacerts links to it).
const JavaTrustStore = "/etc/ssl/certs/java/cacerts"

// javaStorePassword is the trust store password every JRE assumes.
const javaStorePassword = "changeit"

// javaTrustStore replays ca-certificates-java: a Java KeyStore (JKS,
// version 2) holding every certificate of the bundle as a trusted
// certificate entry, aliased as ca-certificates-java aliases them, dated
// created, and sealed with the keyed SHA-1 digest JKS uses, under the
// password "changeit". Every JRE reads JKS trust stores (since Java 9 the
// default type, PKCS12, falls back to JKS). Entries are sorted by alias, so
// the store is deterministic. certs are caBundle's, so their certificates
// are parsed already.
func javaTrustStore(certs []caCert, created time.Time) ([]byte, error) {
	type entry struct {
		alias string
		der   []byte
	}
	var entries []entry
	seen := map[string]bool{}
	for _, c := range certs {
		for i, x := range c.Certs {
			alias := javaAlias(c.Name)
			if i > 0 {
				alias = fmt.Sprintf("%s_%d", alias, i)
			}
			if seen[alias] {
				continue
			}
			seen[alias] = true
			entries = append(entries, entry{alias, x.Raw})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].alias < entries[j].alias })

	var b bytes.Buffer
	be := func(v any) { binary.Write(&b, binary.BigEndian, v) }
	be(uint32(0xfeedfeed)) // magic
	be(uint32(2))          // version
	be(uint32(len(entries)))
	for _, e := range entries {
		be(uint32(2)) // trusted certificate entry
		if err := writeJavaUTF(&b, e.alias); err != nil {
			return nil, err
		}
		be(created.UnixMilli())
		if err := writeJavaUTF(&b, "X.509"); err != nil {
			return nil, err
		}
		be(uint32(len(e.der)))
		b.Write(e.der)
	}
	h := sha1.New()
	for _, c := range utf16.Encode([]rune(javaStorePassword)) {
		h.Write([]byte{byte(c >> 8), byte(c)})
	}
	h.Write([]byte("Mighty Aphrodite"))
	h.Write(b.Bytes())
	b.Write(h.Sum(nil))
	return b.Bytes(), nil
}

// writeJavaUTF writes s as DataOutputStream.writeUTF does: a two-byte
// length, then modified UTF-8 (NUL as two bytes, characters beyond the
// Basic Multilingual Plane as two encoded UTF-16 surrogates).
func writeJavaUTF(b *bytes.Buffer, s string) error {
	var enc []byte
	put := func(c rune) {
		switch {
		case c != 0 && c < 0x80:
			enc = append(enc, byte(c))
		case c < 0x800:
			enc = append(enc, byte(0xc0|c>>6), byte(0x80|c&0x3f))
		default:
			enc = append(enc, byte(0xe0|c>>12), byte(0x80|(c>>6)&0x3f), byte(0x80|c&0x3f))
		}
	}
	for _, r := range s {
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			put(r1)
			put(r2)
			continue
		}
		put(r)
	}
	if len(enc) > 0xffff {
		return fmt.Errorf("java trust store alias too long")
	}
	binary.Write(b, binary.BigEndian, uint16(len(enc)))
	b.Write(enc)
	return nil
}
