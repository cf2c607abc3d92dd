package debian

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Release is a parsed, verified Release file (the signed content of a
// suite's InRelease).
type Release struct {
	Origin   string
	Label    string
	Suite    string
	Codename string
	Version  string
	// Date is when the archive published this Release.
	Date time.Time
	// ValidUntil is when the Release expires; zero when it never does.
	ValidUntil time.Time
	// Architectures and Components list what the suite carries.
	Architectures []string
	Components    []string
	// AcquireByHash says indexes may be fetched under by-hash/SHA256/<hex>.
	AcquireByHash bool
	// SHA256 maps an index path relative to dists/<suite>/ (e.g.
	// "main/binary-amd64/Packages.xz") to its size and digest.
	SHA256 map[string]FileHash
	// Signer is the fingerprint (upper-case hex) of the key that signed
	// it; empty for a Release parsed without verification.
	Signer string
	// Raw is the signed text.
	Raw []byte
}

// FileHash is the size and SHA256 of a file listed in a Release.
type FileHash struct {
	Size   int64
	SHA256 string
}

// releaseTimeLayouts are the date forms Debian archives use (RFC 2822 with
// a zone name or a numeric offset).
var releaseTimeLayouts = []string{
	"Mon, 02 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 02 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 -0700",
	time.RFC1123Z,
	time.RFC1123,
}

// parseReleaseTime parses a Release Date or Valid-Until value.
func parseReleaseTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	for _, l := range releaseTimeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised date %q", v)
}

// ParseRelease parses the text of a Release file. It does not verify
// anything; use VerifyInRelease for data from the network.
func ParseRelease(data []byte) (*Release, error) {
	sts := splitStanzas(data)
	if len(sts) == 0 {
		return nil, fmt.Errorf("parsing Release: it is empty")
	}
	p, err := parseParagraph(sts[0].data)
	if err != nil {
		return nil, fmt.Errorf("parsing Release: %w", err)
	}
	v := p.Values
	r := &Release{
		Origin:        v["Origin"],
		Label:         v["Label"],
		Suite:         v["Suite"],
		Codename:      v["Codename"],
		Version:       v["Version"],
		Architectures: strings.Fields(v["Architectures"]),
		Components:    strings.Fields(v["Components"]),
		AcquireByHash: strings.EqualFold(strings.TrimSpace(v["Acquire-By-Hash"]), "yes"),
		SHA256:        map[string]FileHash{},
		Raw:           data,
	}
	if r.Suite == "" && r.Codename == "" {
		return nil, fmt.Errorf("parsing Release: it names neither Suite nor Codename")
	}
	if d := v["Date"]; d != "" {
		if r.Date, err = parseReleaseTime(d); err != nil {
			return nil, fmt.Errorf("parsing Release Date: %w", err)
		}
	}
	if d := v["Valid-Until"]; d != "" {
		if r.ValidUntil, err = parseReleaseTime(d); err != nil {
			return nil, fmt.Errorf("parsing Release Valid-Until: %w", err)
		}
	}
	for i, line := range strings.Split(v["SHA256"], "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("parsing Release SHA256 entry %d %q: want \"<sha256> <size> <path>\"", i+1, line)
		}
		sum, err := hex.DecodeString(f[0])
		if err != nil || len(sum) != 32 {
			return nil, fmt.Errorf("parsing Release SHA256 entry for %s: %q is not a SHA256", f[2], f[0])
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("parsing Release SHA256 entry for %s: bad size %q", f[2], f[1])
		}
		r.SHA256[f[2]] = FileHash{Size: size, SHA256: strings.ToLower(f[0])}
	}
	if len(r.SHA256) == 0 {
		return nil, fmt.Errorf("parsing Release: no SHA256 entries (MD5/SHA1-only archives are not trusted)")
	}
	return r, nil
}

// maxFutureDate is how far in the future a Release Date may lie before it
// is refused as "not valid yet" (clock skew allowance).
const maxFutureDate = 10 * time.Minute

// VerifyInRelease checks the clearsign signature of an InRelease file
// against keys, then parses the signed text and checks its dates against
// now: a Valid-Until in the past, or a Date more than ten minutes in the
// future, is refused. Data that is not clearsigned, is signed by no key in
// keys, fails the signature check, or carries anything outside the signed
// block is refused. suite, when not empty, must equal the Release's Suite
// or Codename (so a validly signed Release of another suite cannot be
// replayed).
func VerifyInRelease(data []byte, keys Keyring, suite string, now time.Time) (*Release, error) {
	if len(keys) == 0 {
		return nil, &VerifyError{What: "InRelease", Reason: "no keys to verify it with"}
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		return nil, &VerifyError{What: "InRelease", Reason: "it is not clearsigned (no signature at all)"}
	}
	block, rest := clearsign.Decode(trimmed)
	if block == nil {
		return nil, &VerifyError{What: "InRelease", Reason: "malformed clearsigned message"}
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, &VerifyError{What: "InRelease", Reason: "data after the signed block"}
	}
	cfg := &packet.Config{Time: func() time.Time { return now }}
	signer, err := block.VerifySignature(keys, cfg)
	if err != nil {
		reason := "bad signature: " + err.Error()
		if errors.Is(err, pgperrors.ErrUnknownIssuer) {
			reason = "signed by a key that is not in the keyring"
		} else if errors.Is(err, pgperrors.ErrSignatureExpired) || errors.Is(err, pgperrors.ErrKeyExpired) {
			reason = "signature or signing key expired or not yet valid (check the clock): " + err.Error()
		}
		return nil, &VerifyError{What: "InRelease", Reason: reason, Err: err}
	}
	rel, err := ParseRelease(block.Plaintext)
	if err != nil {
		return nil, err
	}
	if signer != nil && signer.PrimaryKey != nil {
		rel.Signer = strings.ToUpper(hex.EncodeToString(signer.PrimaryKey.Fingerprint))
	}
	if suite != "" && rel.Suite != suite && rel.Codename != suite {
		return nil, &VerifyError{What: "InRelease", Reason: fmt.Sprintf("it is for suite %q (codename %q), not %q", rel.Suite, rel.Codename, suite)}
	}
	if !rel.ValidUntil.IsZero() && now.After(rel.ValidUntil) {
		return nil, &VerifyError{What: "InRelease", Reason: fmt.Sprintf("expired: Valid-Until %s is before now (%s)", rel.ValidUntil.Format(time.RFC1123), now.UTC().Format(time.RFC1123))}
	}
	if !rel.Date.IsZero() && rel.Date.After(now.Add(maxFutureDate)) {
		return nil, &VerifyError{What: "InRelease", Reason: fmt.Sprintf("not valid yet: Date %s is after now (%s)", rel.Date.Format(time.RFC1123), now.UTC().Format(time.RFC1123))}
	}
	return rel, nil
}

var _ openpgp.KeyRing = Keyring(nil)
