package debian

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"pault.ag/go/debian/control"
)

// Source is one entry of the apt sources configuration: a one-line
// sources.list entry or a deb822 stanza of a .sources file.
type Source struct {
	// Types are "deb" and/or "deb-src".
	Types []string
	// URIs are the archive roots, e.g. "http://mirror.example/debian".
	URIs []string
	// Suites are the distribution names, e.g. "bookworm-updates".
	Suites []string
	// Components are the archive areas, e.g. "main".
	Components []string
	// Architectures restricts the entry to these architectures; empty means all.
	Architectures []string
	// SignedBy is the raw Signed-By value: comma or space separated keyring
	// paths or key fingerprints, or an inline ASCII-armored key block.
	// Empty means apt's default trusted keys.
	SignedBy string
	// Origin names where the entry was read, as "file:line", for errors.
	Origin string
}

// HasType reports whether the entry has type t ("deb" or "deb-src").
func (s Source) HasType(t string) bool {
	for _, have := range s.Types {
		if have == t {
			return true
		}
	}
	return false
}

// ReadSources reads the apt sources of the system rooted at root (default
// "/"): etc/apt/sources.list, then etc/apt/sources.list.d/*.list and *.sources
// in lexical order, as apt does. Disabled deb822 stanzas (Enabled: no) are
// left out. Missing files are not an error; an empty result is.
func ReadSources(root string) ([]Source, error) {
	if root == "" {
		root = "/"
	}
	var files []string
	main, err := securejoin.SecureJoin(root, "etc/apt/sources.list")
	if err != nil {
		return nil, fmt.Errorf("locating sources.list under %s: %w", root, err)
	}
	files = append(files, main)
	dir, err := securejoin.SecureJoin(root, "etc/apt/sources.list.d")
	if err != nil {
		return nil, fmt.Errorf("locating sources.list.d under %s: %w", root, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".list") || strings.HasSuffix(n, ".sources") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		files = append(files, filepath.Join(dir, n))
	}

	var all []Source
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading apt sources: %w", err)
		}
		var got []Source
		if strings.HasSuffix(f, ".sources") {
			got, err = ParseSourcesDeb822(f, bytes.NewReader(data))
		} else {
			got, err = ParseSourcesList(f, bytes.NewReader(data))
		}
		if err != nil {
			return nil, err
		}
		all = append(all, got...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no apt sources found under %s (looked at etc/apt/sources.list and etc/apt/sources.list.d); pass a mirror and keyring instead", root)
	}
	return all, nil
}

// ParseSourcesList parses the one-line format of sources.list(5):
//
//	deb [ arch=amd64 signed-by=/usr/share/keyrings/x.gpg ] URI suite [component...]
//
// Comments start at '#'. Options other than arch and signed-by are accepted
// and ignored; trusted=yes is ignored too, because whittle never accepts
// unsigned data. name is used in errors.
func ParseSourcesList(name string, r io.Reader) ([]Source, error) {
	var out []Source
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		origin := fmt.Sprintf("%s:%d", name, line)
		src := Source{Types: []string{fields[0]}, Origin: origin}
		if fields[0] != "deb" && fields[0] != "deb-src" {
			return nil, fmt.Errorf("%s: unknown source type %q (want deb or deb-src)", origin, fields[0])
		}
		rest := fields[1:]
		if len(rest) > 0 && strings.HasPrefix(rest[0], "[") {
			// Options run up to the token that ends with "]"; "[" and "]"
			// may stand alone or touch an option.
			var opts []string
			closed := false
			for len(rest) > 0 {
				tok := rest[0]
				rest = rest[1:]
				tok = strings.TrimPrefix(tok, "[")
				if strings.HasSuffix(tok, "]") {
					tok = strings.TrimSuffix(tok, "]")
					closed = true
				}
				if tok != "" {
					opts = append(opts, tok)
				}
				if closed {
					break
				}
			}
			if !closed {
				return nil, fmt.Errorf("%s: options are missing their closing ']'", origin)
			}
			for _, o := range opts {
				key, value, ok := strings.Cut(o, "=")
				if !ok {
					return nil, fmt.Errorf("%s: option %q is not key=value", origin, o)
				}
				key = strings.TrimRight(key, "+-")
				switch strings.ToLower(key) {
				case "arch":
					src.Architectures = splitList(value)
				case "signed-by":
					src.SignedBy = value
				}
			}
		}
		if len(rest) < 2 {
			return nil, fmt.Errorf("%s: want %q followed by a URI and a suite", origin, src.Types[0])
		}
		src.URIs = []string{rest[0]}
		src.Suites = []string{rest[1]}
		src.Components = rest[2:]
		out = append(out, src)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return out, nil
}

// ParseSourcesDeb822 parses the deb822 format of sources.list(5) (.sources
// files): stanzas with Types, URIs, Suites, Components, Architectures,
// Signed-By and Enabled fields. Signed-By may hold an inline armored key.
// Stanzas with Enabled: no are skipped. name is used in errors.
func ParseSourcesDeb822(name string, r io.Reader) ([]Source, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	var out []Source
	for _, st := range splitStanzas(data) {
		origin := fmt.Sprintf("%s:%d", name, st.line)
		p, err := parseParagraph(st.data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", origin, err)
		}
		if strings.EqualFold(strings.TrimSpace(p.Values["Enabled"]), "no") {
			continue
		}
		src := Source{
			Types:         strings.Fields(p.Values["Types"]),
			URIs:          strings.Fields(p.Values["URIs"]),
			Suites:        strings.Fields(p.Values["Suites"]),
			Components:    strings.Fields(p.Values["Components"]),
			Architectures: strings.Fields(p.Values["Architectures"]),
			SignedBy:      strings.TrimSpace(p.Values["Signed-By"]),
			Origin:        origin,
		}
		if len(src.Types) == 0 || len(src.URIs) == 0 || len(src.Suites) == 0 {
			return nil, fmt.Errorf("%s: a source stanza needs Types, URIs and Suites", origin)
		}
		out = append(out, src)
	}
	return out, nil
}

// parseParagraph parses one deb822 stanza with pault.ag/go/debian/control.
// The input never starts with an OpenPGP armor line here (callers verify
// and strip signatures first), so no signature handling is involved.
func parseParagraph(data []byte) (*control.Paragraph, error) {
	// The parser appends each continuation line by copying the field's
	// value so far, so its cost grows with lines × bytes. Real stanzas are
	// far below this bound (Debian's largest InRelease, sid's, is ~2,000
	// lines × 190 KB ≈ 2^28.5); hostile ones above it would take seconds
	// to minutes.
	if lines := int64(bytes.Count(data, []byte("\n"))); lines*int64(len(data)) > maxParagraphCost {
		return nil, fmt.Errorf("parsing stanza: too large (%d lines, %d bytes)", lines, len(data))
	}
	r, err := control.NewParagraphReader(bytes.NewReader(data), nil)
	if err != nil {
		return nil, fmt.Errorf("parsing stanza: %w", err)
	}
	p, err := r.Next()
	if err != nil {
		if err == io.EOF {
			return &control.Paragraph{Values: map[string]string{}}, nil
		}
		return nil, fmt.Errorf("parsing stanza: %w", err)
	}
	return p, nil
}

// maxParagraphCost bounds lines × bytes of one stanza (see parseParagraph).
const maxParagraphCost = 1 << 31

// splitList splits an option value on commas and white space.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}
