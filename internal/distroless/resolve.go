package distroless

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/whittle-build/whittle/internal/debian"
	"github.com/whittle-build/whittle/internal/store"
)

// resolution is the package set of a build: always a lock, with the
// resolver's explanation when the index was read.
type resolution struct {
	lock  *debian.Lock
	res   *debian.Resolution // nil when the set came from a lock file or the cache
	repos []debian.Repository
	// cached says the set came from the resolution cache.
	cached bool
}

// requests are what a recipe asks the resolver for.
type requests struct {
	packages []string
	prune    []string
	// bootstrap adds every Essential and Priority required package, as
	// mmdebstrap's minbase variant does.
	bootstrap bool
}

// resolveLocked reads the set from a lock file: the packages are fetched by
// suite and pool path from whatever repository serves their suite now, and
// checked against the recorded sizes and SHA256s.
func resolveLocked(lockFile, arch string, cfg debian.RepositoryConfig, req requests) (*resolution, error) {
	lock, err := debian.ReadLockFile(lockFile)
	if err != nil {
		return nil, err
	}
	if lock.Architecture != arch {
		return nil, fmt.Errorf("lock %s is for %s, not %s (use --arch %s or make a new lock)", lockFile, lock.Architecture, arch, lock.Architecture)
	}
	if len(lock.Suites) == 0 {
		return nil, fmt.Errorf("lock %s names no suite", lockFile)
	}
	if cfg.Dist != lock.Suites[0] {
		return nil, fmt.Errorf("lock %s is for %s, not %s (use --suite %s or make a new lock)", lockFile, lock.Suites[0], cfg.Dist, lock.Suites[0])
	}
	have := map[string]bool{}
	for _, p := range lock.Packages {
		have[p.Name] = true
	}
	for _, r := range req.packages {
		if n := requestName(r); !have[n] {
			return nil, fmt.Errorf("lock %s does not hold %s, which the recipe asks for: make a new lock (--lock without --locked)", lockFile, n)
		}
	}
	cfg.Suites = lock.Suites
	repos, err := debian.Repositories(cfg)
	if err != nil {
		return nil, err
	}
	return &resolution{lock: lock, repos: repos}, nil
}

// resolveIndex resolves req against the archive. Resolving means parsing
// every Packages index (seconds for bookworm's main), so the lock of a
// resolution is kept in the store's cache under a key made of the verified
// Release hashes of every index it read and the requests: while the archive
// publishes nothing new, the next build of the same recipe reads only the
// InRelease files. explain forces a real resolution (the cache keeps no
// explanation).
func resolveIndex(ctx context.Context, c *debian.Client, st *store.Store, arch string, cfg debian.RepositoryConfig, req requests, useCache, explain bool) (*resolution, error) {
	repos, err := debian.Repositories(cfg)
	if err != nil {
		return nil, err
	}
	key, err := resolutionKey(ctx, c, repos, arch, req)
	if err != nil {
		return nil, err
	}
	if useCache && !explain {
		if rec, err := st.Cache(key); err == nil {
			if lock, err := debian.ReadLock(bytes.NewReader(rec.Value)); err == nil {
				return &resolution{lock: lock, repos: repos, cached: true}, nil
			}
		}
	}
	ix, err := c.Index(ctx, repos, arch)
	if err != nil {
		return nil, err
	}
	// The recipe's own packages come first: an alternative already chosen
	// wins ("usrmerge | usr-is-merged" takes usr-is-merged).
	names := append([]string(nil), req.packages...)
	if req.bootstrap {
		names = append(names, bootstrapSet(ix)...)
	}
	res, err := ix.Resolve(names, debian.ResolveOptions{Prune: req.prune})
	if err != nil {
		return nil, err
	}
	lock := debian.NewLock(ix, res)
	if b, err := lock.Marshal(); err == nil {
		// The cache is an optimisation: failing to write it is not an error.
		_ = st.PutCache(key, &store.CacheRecord{Value: json.RawMessage(b)})
	}
	return &resolution{lock: lock, res: res, repos: repos}, nil
}

// bootstrapSet is what mmdebstrap's minbase variant starts from: every
// native (or "all") package that is Essential or of Priority required.
func bootstrapSet(ix *debian.Index) []string {
	var out []string
	for _, p := range ix.Packages() {
		if p.Architecture != ix.Arch() && p.Architecture != "all" {
			continue
		}
		if p.Essential || p.Priority == "required" {
			out = append(out, p.Name)
		}
	}
	return out
}

// resolutionKeyVersion changes when the resolver's rules change, so that
// locks cached by an older whittle are not reused.
const resolutionKeyVersion = "whittle distroless resolution 1"

// resolutionKey names a resolution by what determines it: the verified
// InRelease of every repository (fetched now, so Valid-Until is checked
// and the hashes are current), the Packages index entries of each
// component for arch and "all", and the requests.
func resolutionKey(ctx context.Context, c *debian.Client, repos []debian.Repository, arch string, req requests) (v1.Hash, error) {
	type repoKey struct {
		Suite   string            `json:"suite"`
		URL     string            `json:"url"`
		Indexes map[string]string `json:"indexes"`
	}
	keys := make([]repoKey, len(repos))
	g, gctx := errgroup.WithContext(ctx)
	for i, r := range repos {
		g.Go(func() error {
			rel, err := c.Release(gctx, r)
			if err != nil {
				return err
			}
			k := repoKey{Suite: r.Suite, URL: r.URL, Indexes: map[string]string{}}
			for _, comp := range r.Components {
				for _, a := range []string{arch, "all"} {
					prefix := comp + "/binary-" + a + "/Packages"
					for p, h := range rel.SHA256 {
						if strings.HasPrefix(p, prefix) {
							k.Indexes[p] = h.SHA256
						}
					}
				}
			}
			keys[i] = k
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return v1.Hash{}, err
	}
	prune := append([]string(nil), req.prune...)
	sort.Strings(prune)
	b, err := json.Marshal(struct {
		Version   string    `json:"v"`
		Arch      string    `json:"arch"`
		Repos     []repoKey `json:"repos"`
		Requests  []string  `json:"requests"`
		Prune     []string  `json:"prune"`
		Bootstrap bool      `json:"bootstrap"`
	}{resolutionKeyVersion, arch, keys, req.packages, prune, req.bootstrap})
	if err != nil {
		return v1.Hash{}, err
	}
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}, nil
}

// explain writes why each package is in: the resolver's chains, or, for a
// set read from a lock or the cache, that it was locked.
func (r *resolution) explain(w io.Writer) error {
	if r.res != nil {
		return r.res.Explain(w)
	}
	for _, p := range r.lock.Packages {
		if _, err := fmt.Fprintf(w, "%s %s: from the lock\n", p.Name, p.Version); err != nil {
			return err
		}
	}
	return nil
}
