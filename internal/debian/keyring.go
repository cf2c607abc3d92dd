package debian

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	securejoin "github.com/cyphar/filepath-securejoin"
)

// Keyring is a set of OpenPGP public keys that may sign a repository's
// InRelease file.
type Keyring = openpgp.EntityList

// armorPrefix starts an ASCII-armored OpenPGP block.
const armorPrefix = "-----BEGIN PGP"

// ParseKeyring reads public keys in either binary (.gpg) or ASCII-armored
// (.asc) form; the form is detected from the content, not the name. Several
// armored blocks may follow each other. name is used in errors.
func ParseKeyring(name string, data []byte) (Keyring, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("reading keyring %s: it is empty", name)
	}
	var keys Keyring
	if bytes.HasPrefix(trimmed, []byte(armorPrefix)) {
		// ReadArmoredKeyRing reads one armored block; apt's .asc files may
		// hold several, so read block by block.
		rest := trimmed
		for len(rest) > 0 {
			end := bytes.Index(rest, []byte("-----END PGP PUBLIC KEY BLOCK-----"))
			if end < 0 {
				return nil, fmt.Errorf("reading keyring %s: armored block has no END line", name)
			}
			end += len("-----END PGP PUBLIC KEY BLOCK-----")
			el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(rest[:end]))
			if err != nil {
				return nil, fmt.Errorf("reading armored keyring %s: %w", name, err)
			}
			keys = append(keys, el...)
			rest = bytes.TrimSpace(rest[end:])
		}
	} else {
		el, err := openpgp.ReadKeyRing(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("reading keyring %s: %w", name, err)
		}
		keys = el
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("reading keyring %s: no public keys in it", name)
	}
	return keys, nil
}

// ReadKeyring reads a binary or armored keyring file.
func ReadKeyring(path string) (Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading keyring: %w", err)
	}
	return ParseKeyring(path, data)
}

// DefaultKeyring returns apt's default trusted keys under root:
// etc/apt/trusted.gpg and etc/apt/trusted.gpg.d/*.gpg and *.asc. It is used
// for sources without Signed-By.
func DefaultKeyring(root string) (Keyring, error) {
	if root == "" {
		root = "/"
	}
	var paths []string
	single, err := securejoin.SecureJoin(root, "etc/apt/trusted.gpg")
	if err != nil {
		return nil, fmt.Errorf("locating trusted.gpg under %s: %w", root, err)
	}
	paths = append(paths, single)
	dir, err := securejoin.SecureJoin(root, "etc/apt/trusted.gpg.d")
	if err != nil {
		return nil, fmt.Errorf("locating trusted.gpg.d under %s: %w", root, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".gpg") || strings.HasSuffix(n, ".asc") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		paths = append(paths, filepath.Join(dir, n))
	}
	var keys Keyring
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading trusted keys: %w", err)
		}
		if len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		el, err := ParseKeyring(p, data)
		if err != nil {
			return nil, err
		}
		keys = append(keys, el...)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no trusted apt keys under %s (etc/apt/trusted.gpg, etc/apt/trusted.gpg.d); pass a keyring", root)
	}
	return keys, nil
}

// signedByKeyring turns a Signed-By value into keys: an inline armored key
// block, or a list of keyring paths (resolved under root) and fingerprints
// (looked up in apt's default trusted keys), as sources.list(5) allows.
func signedByKeyring(root, signedBy, origin string) (Keyring, error) {
	v := strings.TrimSpace(signedBy)
	if v == "" {
		keys, err := DefaultKeyring(root)
		if err != nil {
			return nil, fmt.Errorf("%s: no Signed-By and %w", origin, err)
		}
		return keys, nil
	}
	if strings.HasPrefix(v, armorPrefix) {
		keys, err := ParseKeyring(origin+" (inline Signed-By)", []byte(v))
		if err != nil {
			return nil, err
		}
		return keys, nil
	}
	var keys Keyring
	var fingerprints []string
	for _, item := range splitList(v) {
		if isFingerprint(item) {
			fingerprints = append(fingerprints, strings.ToUpper(strings.TrimSuffix(item, "!")))
			continue
		}
		p, err := securejoin.SecureJoin(root, item)
		if err != nil {
			return nil, fmt.Errorf("%s: locating Signed-By keyring %s: %w", origin, item, err)
		}
		el, err := ReadKeyring(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", origin, err)
		}
		keys = append(keys, el...)
	}
	if len(fingerprints) > 0 {
		trusted, err := DefaultKeyring(root)
		if err != nil {
			return nil, fmt.Errorf("%s: Signed-By names fingerprints and %w", origin, err)
		}
		for _, fp := range fingerprints {
			found := false
			for _, e := range trusted {
				if matchesFingerprint(e, fp) {
					keys = append(keys, e)
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("%s: Signed-By fingerprint %s is not among the trusted apt keys", origin, fp)
			}
		}
	}
	return keys, nil
}

// isFingerprint reports whether s looks like an OpenPGP fingerprint (40 or
// 64 hex digits, optionally with apt's "!" suffix for an exact subkey).
func isFingerprint(s string) bool {
	s = strings.TrimSuffix(s, "!")
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// matchesFingerprint reports whether the primary key or a subkey of e has
// the fingerprint fp (upper-case hex).
func matchesFingerprint(e *openpgp.Entity, fp string) bool {
	if strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint)) == fp {
		return true
	}
	for _, sk := range e.Subkeys {
		if strings.ToUpper(hex.EncodeToString(sk.PublicKey.Fingerprint)) == fp {
			return true
		}
	}
	return false
}
