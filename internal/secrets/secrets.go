package secrets

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MaxSize bounds a secret, as BuildKit bounds it (500 KB).
const MaxSize = 500 << 10

// ErrNotFound is returned for a secret id the build was not given.
var ErrNotFound = errors.New("secret not provided")

// Source is where one secret comes from: a file or an environment variable.
type Source struct {
	// ID is what RUN --mount=type=secret,id=ID asks for.
	ID string
	// File is the path of a file holding the secret.
	File string
	// Env names an environment variable holding the secret.
	Env string
}

// ParseSource parses a --secret value as docker buildx does:
// "id=ID[,src|source=FILE]", "id=ID,env=VAR" or "type=env|file,id=ID,...".
// A value with only an id is completed by NewStore.
func ParseSource(s string) (Source, error) {
	r := csv.NewReader(strings.NewReader(s))
	fields, err := r.Read()
	if err != nil {
		return Source{}, fmt.Errorf("parsing --secret %q: %w", s, err)
	}
	var src Source
	typ := ""
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return Source{}, fmt.Errorf("parsing --secret %q: field %q must be a key=value pair", s, f)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "type":
			if v != "file" && v != "env" {
				return Source{}, fmt.Errorf("parsing --secret %q: unsupported secret type %q (want file or env)", s, v)
			}
			typ = v
		case "id":
			src.ID = v
		case "src", "source":
			src.File = v
		case "env":
			src.Env = v
		default:
			return Source{}, fmt.Errorf("parsing --secret %q: unexpected key %q (want id, src, env or type)", s, k)
		}
	}
	if typ == "env" && src.Env == "" {
		src.Env, src.File = src.File, ""
	}
	if typ == "file" && src.Env != "" {
		return Source{}, fmt.Errorf("parsing --secret %q: type=file with env=", s)
	}
	if src.ID == "" {
		return Source{}, fmt.Errorf("parsing --secret %q: id is required", s)
	}
	if src.File != "" && src.Env != "" {
		return Source{}, fmt.Errorf("parsing --secret %q: give src or env, not both", s)
	}
	return src, nil
}

// Store holds the secrets of one build by id. It keeps where each secret
// is, not its bytes: a file is read, and a variable looked up, when a RUN
// asks for the secret.
type Store struct {
	m      map[string]Source
	lookup func(string) (string, bool)
}

// NewStore checks srcs and returns their store. A source with only an id
// reads the environment variable of that name when it is set, else the
// file of that name, as BuildKit does. Files must exist and be at most
// MaxSize bytes.
func NewStore(srcs []Source) (*Store, error) {
	return newStore(srcs, os.LookupEnv)
}

func newStore(srcs []Source, lookup func(string) (string, bool)) (*Store, error) {
	s := &Store{m: map[string]Source{}, lookup: lookup}
	for _, src := range srcs {
		if src.ID == "" {
			return nil, errors.New("--secret: a secret has no id")
		}
		if src.File == "" && src.Env == "" {
			if _, ok := lookup(src.ID); ok {
				src.Env = src.ID
			} else {
				src.File = src.ID
			}
		}
		if src.File != "" {
			fi, err := os.Stat(src.File)
			if err != nil {
				return nil, fmt.Errorf("--secret id=%s: %w", src.ID, err)
			}
			if fi.Size() > MaxSize {
				return nil, fmt.Errorf("--secret id=%s: %s is %d bytes, more than the %d a secret may have", src.ID, src.File, fi.Size(), MaxSize)
			}
		}
		s.m[src.ID] = src
	}
	return s, nil
}

// Secret returns the bytes of the secret id; ErrNotFound when the build
// has no such secret. A variable that is no longer set gives an empty
// secret, as in BuildKit.
func (s *Store) Secret(id string) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("secret %q: %w", id, ErrNotFound)
	}
	src, ok := s.m[id]
	if !ok {
		return nil, fmt.Errorf("secret %q: %w", id, ErrNotFound)
	}
	if src.Env != "" {
		v, _ := s.lookup(src.Env)
		return []byte(v), nil
	}
	b, err := os.ReadFile(src.File)
	if err != nil {
		return nil, fmt.Errorf("reading secret %q: %w", id, err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("secret %q is %d bytes, more than the %d a secret may have", id, len(b), MaxSize)
	}
	return b, nil
}
