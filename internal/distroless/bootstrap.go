package distroless

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/debian"
	"github.com/whittle-build/whittle/internal/store"
)

// debsMount is where the .debs appear inside the sandbox during the
// debian recipe's installation.
const debsMount = "/run/whittle-debs"

// bootstrapLayerFormat changes whenever the debian recipe's layer would.
const bootstrapLayerFormat = "whittle debian bootstrap 2"

// bootstrapRecord is the cache record of a debian recipe layer.
type bootstrapRecord struct {
	Layer    storedLayer   `json:"layer"`
	Packages []sbomPackage `json:"packages"`
}

// bootstrap installs the locked packages into one layer, as mmdebstrap's
// minbase variant does: the Essential set (and what it depends on) is
// unpacked into an empty, merged-/usr tree, then installed over itself
// with `dpkg --install --force-depends` so its maintainer scripts run;
// the other packages follow in dependency order, in batches that never
// hold a package together with one it pre-depends on. dpkg runs in the
// sandbox (Options.Runner) as root without network, with
// SOURCE_DATE_EPOCH set; the apt sources point at the repositories used.
// Logs and caches that would make the result differ between runs are
// removed, as mmdebstrap does.
func (b *builder) bootstrap(ctx context.Context, lock *debian.Lock, paths []string) ([]*packageLayer, error) {
	epoch, err := b.lockEpoch(lock)
	if err != nil {
		return nil, err
	}
	key := b.bootstrapKey(lock, epoch)
	name := fmt.Sprintf("[%s] dpkg --install %d packages", b.recipe.Name, len(lock.Packages))
	history := fmt.Sprintf("whittle base %s: %d packages installed with dpkg", b.recipe.Name, len(lock.Packages))
	if !b.o.NoCache {
		if rec, err := b.st.Cache(key); err == nil {
			var br bootstrapRecord
			if json.Unmarshal(rec.Value, &br) == nil {
				b.rec.Cached(name)
				return []*packageLayer{{Layer: br.Layer, cached: true, history: history, bootstrapPkgs: br.Packages, Facts: layerFacts{MaxMTime: epoch.Unix()}}}, nil
			}
		}
	}
	v := b.rec.Start(name)
	br, err := b.install(ctx, lock, paths, epoch, v)
	v.Done(err, ctx.Err() != nil)
	if err != nil {
		return nil, err
	}
	if val, err := json.Marshal(br); err == nil {
		_ = b.st.PutCache(key, &store.CacheRecord{Layers: []v1.Hash{br.Layer.DiffID}, Blobs: []v1.Hash{br.Layer.Blob.Digest}, Value: val})
	}
	return []*packageLayer{{Layer: br.Layer, history: history, bootstrapPkgs: br.Packages, Facts: layerFacts{MaxMTime: epoch.Unix()}}}, nil
}

// lockEpoch is the debian recipe's time: SOURCE_DATE_EPOCH, else the
// newest Release date the lock records.
func (b *builder) lockEpoch(lock *debian.Lock) (time.Time, error) {
	if b.userEpoch != nil {
		return time.Unix(b.userEpoch.Unix(), 0).UTC(), nil
	}
	var t time.Time
	for _, ix := range lock.Indexes {
		if ix.ReleaseDate.After(t) {
			t = ix.ReleaseDate
		}
	}
	if t.IsZero() {
		return t, errors.New("the lock records no Release date to date the image with: set SOURCE_DATE_EPOCH")
	}
	return time.Unix(t.Unix(), 0).UTC(), nil
}

func (b *builder) bootstrapKey(lock *debian.Lock, epoch time.Time) v1.Hash {
	var debs []string
	for _, p := range lock.Packages {
		debs = append(debs, p.SHA256)
	}
	sort.Strings(debs)
	urls := b.aptSources(b.repos)
	data, _ := json.Marshal(struct {
		Format      string              `json:"format"`
		Debs        []string            `json:"debs"`
		Arch        string              `json:"arch"`
		Epoch       int64               `json:"epoch"`
		Sources     []string            `json:"sources"`
		Compression archive.Compression `json:"compression"`
	}{bootstrapLayerFormat, debs, b.arch, epoch.Unix(), urls, b.o.Compression})
	sum := sha256.Sum256(data)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// debInfo is a package of the set, read from its .deb's control file.
type debInfo struct {
	pkg  *debian.Package
	ctrl []byte
	file string
	deps []string // names of set members it Depends or Pre-Depends on
	pre  []string // names of set members it Pre-Depends on
}

func (b *builder) install(ctx context.Context, lock *debian.Lock, paths []string, epoch time.Time, log io.Writer) (*bootstrapRecord, error) {
	if b.arch != HostArch() {
		return nil, fmt.Errorf("the debian recipe runs dpkg, so it builds only for the host's architecture (%s), not %s", HostArch(), b.arch)
	}
	runner := b.o.Runner
	if runner == nil {
		runner = SandboxRunner{}
	}
	infos, err := readInfos(lock, paths, b.arch)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(paths[0])
	for _, p := range paths {
		if filepath.Dir(p) != dir {
			return nil, fmt.Errorf("the .debs are not in one cache directory (%s, %s)", dir, filepath.Dir(p))
		}
	}
	tmp, err := b.st.TempDir("bootstrap-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	rootfs := filepath.Join(tmp, "rootfs")
	if err := b.prepareRoot(rootfs, b.repositoryLines()); err != nil {
		return nil, err
	}

	essential, rest := splitEssential(infos)
	for _, name := range essential {
		if err := extractDeb(ctx, rootfs, infos[name].file, b.merge); err != nil {
			return nil, fmt.Errorf("unpacking %s: %w", name, err)
		}
	}
	env := []string{
		"PATH=" + defaultPath,
		"DEBIAN_FRONTEND=noninteractive",
		"DEBCONF_NONINTERACTIVE_SEEN=true",
		"LC_ALL=C.UTF-8",
		fmt.Sprintf("SOURCE_DATE_EPOCH=%d", epoch.Unix()),
	}
	binds := []Bind{{Source: dir, Target: debsMount}}
	dpkg := func(force bool, names []string) error {
		// Nothing is synced file by file: the tree becomes a layer, or is
		// thrown away.
		args := []string{"dpkg", "--force-unsafe-io", "--install"}
		if force {
			// dpkg does not order by Pre-Depends; the essential set is
			// unpacked already, as with mmdebstrap.
			args = append(args, "--force-depends")
		}
		for _, n := range names {
			args = append(args, path.Join(debsMount, filepath.Base(infos[n].file)))
		}
		var out bytes.Buffer
		w := io.MultiWriter(&out, log)
		if err := runner.Run(ctx, rootfs, args, env, binds, w, w); err != nil {
			return fmt.Errorf("installing %s: %w\n%s", strings.Join(names, " "), err, tail(out.Bytes(), 40))
		}
		return nil
	}
	if err := dpkg(true, essential); err != nil {
		return nil, err
	}
	for _, batch := range installBatches(infos, rest) {
		if err := dpkg(false, batch); err != nil {
			return nil, err
		}
	}
	if err := cleanRoot(rootfs); err != nil {
		return nil, err
	}
	sl, err := storeLayer(ctx, b.st, b.o.Compression, true, func(w io.Writer) error {
		return archive.WriteDir(ctx, w, rootfs, archive.WriteOptions{Epoch: &epoch})
	})
	if err != nil {
		return nil, err
	}
	rec := &bootstrapRecord{Layer: sl}
	for _, lp := range lock.Packages {
		in := infos[lp.Name]
		rec.Packages = append(rec.Packages, sbomPackage{Name: lp.Name, Version: lp.Version, Arch: lp.Architecture, SHA256: lp.SHA256, Filename: lp.Filename, Control: in.ctrl})
	}
	return rec, nil
}

// readInfos reads every package's control file and its relations within
// the set.
func readInfos(lock *debian.Lock, paths []string, arch string) (map[string]*debInfo, error) {
	infos := map[string]*debInfo{}
	provides := map[string][]string{}
	for i, lp := range lock.Packages {
		d, err := debian.OpenDebFile(paths[i])
		if err != nil {
			return nil, err
		}
		infos[lp.Name] = &debInfo{pkg: d.Package, ctrl: d.Control, file: paths[i]}
		d.Close()
		rels, err := debian.ParseRelations(d.Package.Provides, arch)
		if err != nil {
			return nil, fmt.Errorf("%s: Provides: %w", lp.Name, err)
		}
		for _, r := range rels {
			for _, a := range r {
				provides[a.Name] = append(provides[a.Name], lp.Name)
			}
		}
	}
	// satisfied returns the set member satisfying a relation: the first
	// alternative that is in the set or provided by a member.
	satisfied := func(r debian.Relation) string {
		for _, a := range r {
			if _, ok := infos[a.Name]; ok {
				return a.Name
			}
			if ps := provides[a.Name]; len(ps) > 0 {
				sort.Strings(ps)
				return ps[0]
			}
		}
		return ""
	}
	for name, in := range infos {
		for _, f := range []struct {
			v   string
			pre bool
		}{{in.pkg.PreDepends, true}, {in.pkg.Depends, false}} {
			rels, err := debian.ParseRelations(f.v, arch)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			for _, r := range rels {
				if dep := satisfied(r); dep != "" && dep != name {
					in.deps = append(in.deps, dep)
					if f.pre {
						in.pre = append(in.pre, dep)
					}
				}
			}
		}
	}
	return infos, nil
}

// splitEssential returns the Essential packages with what they depend on
// (in dependency order), and the others (in dependency order).
func splitEssential(infos map[string]*debInfo) (essential, rest []string) {
	order := topoOrder(infos)
	in := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		if in[n] {
			return
		}
		in[n] = true
		for _, d := range infos[n].deps {
			visit(d)
		}
	}
	for _, n := range order {
		if infos[n].pkg.Essential {
			visit(n)
		}
	}
	for _, n := range order {
		if in[n] {
			essential = append(essential, n)
		} else {
			rest = append(rest, n)
		}
	}
	return essential, rest
}

// topoOrder lists the packages dependencies first (depth-first, names in
// order, cycles broken where they are met).
func topoOrder(infos map[string]*debInfo) []string {
	names := make([]string, 0, len(infos))
	for n := range infos {
		names = append(names, n)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	var out []string
	var visit func(string)
	visit = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		deps := append([]string(nil), infos[n].deps...)
		sort.Strings(deps)
		for _, d := range deps {
			visit(d)
		}
		out = append(out, n)
	}
	for _, n := range names {
		visit(n)
	}
	return out
}

// installBatches splits names (in dependency order) into dpkg runs: a
// package starts a new run when it pre-depends on one of the current run,
// which must be configured before it is even unpacked.
func installBatches(infos map[string]*debInfo, names []string) [][]string {
	var out [][]string
	var cur []string
	inCur := map[string]bool{}
	for _, n := range names {
		for _, p := range infos[n].pre {
			if inCur[p] {
				out = append(out, cur)
				cur, inCur = nil, map[string]bool{}
				break
			}
		}
		cur = append(cur, n)
		inCur[n] = true
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// prepareRoot makes the empty tree dpkg starts from: the merged-/usr links,
// dpkg's database, the apt sources, and a policy-rc.d that keeps services
// from starting.
func (b *builder) prepareRoot(rootfs string, sources []byte) error {
	for _, d := range []string{"", "usr", "etc/apt/sources.list.d", "var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "usr/sbin", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		return err
	}
	if b.merge != nil {
		links := b.merge.links(func(string) bool { return true })
		for d, target := range links {
			if err := os.MkdirAll(filepath.Join(rootfs, target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(target, filepath.Join(rootfs, d)); err != nil {
				return err
			}
		}
	}
	files := map[string][]byte{
		"var/lib/dpkg/status":                   nil,
		"var/lib/dpkg/available":                nil,
		"etc/apt/sources.list.d/debian.sources": sources,
	}
	for f, data := range files {
		if err := os.WriteFile(filepath.Join(rootfs, f), data, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(rootfs, "usr/sbin/policy-rc.d"), []byte("#!/bin/sh\nexit 101\n"), 0o755)
}

// aptSources returns the deb822 stanza of each repository, in order.
func (b *builder) aptSources(repos []debian.Repository) []string {
	var out []string
	for _, r := range repos {
		out = append(out, fmt.Sprintf("Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n", r.URL, r.Suite, strings.Join(r.Components, " ")))
	}
	return out
}

// repositoryLines is the image's /etc/apt/sources.list.d/debian.sources:
// the repositories the packages came from, verified with Debian's keyring
// (which apt depends on).
func (b *builder) repositoryLines() []byte {
	return []byte(strings.Join(b.aptSources(b.repos), "\n"))
}

// cleanRoot removes what dpkg leaves that differs from run to run, as
// mmdebstrap's cleanup does, and the policy-rc.d.
func cleanRoot(rootfs string) error {
	for _, f := range []string{
		"usr/sbin/policy-rc.d",
		"var/log/dpkg.log", "var/log/apt/history.log", "var/log/apt/term.log",
		"var/log/alternatives.log", "var/log/apt/eipp.log.xz",
		"var/cache/ldconfig/aux-cache", "var/lib/dbus/machine-id",
		"var/cache/debconf/config.dat-old", "var/cache/debconf/templates.dat-old",
		"var/lib/dpkg/status-old", "var/lib/dpkg/diversions-old",
		"var/lib/dpkg/statoverride-old", "var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin",
	} {
		if err := os.Remove(filepath.Join(rootfs, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(rootfs, "etc/machine-id")); err == nil {
		if err := os.WriteFile(filepath.Join(rootfs, "etc/machine-id"), nil, 0o444); err != nil {
			return err
		}
	}
	return nil
}

// extractDeb unpacks the data of the .deb at file into rootfs, moving
// /bin, /sbin and /lib* into /usr when merge is set (the tree's links make
// them resolve), with archive.Apply's safety.
func extractDeb(ctx context.Context, rootfs, file string, merge *usrMerge) error {
	d, err := debian.OpenDebFile(file)
	if err != nil {
		return err
	}
	defer d.Close()
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(mapTar(d.Data, tar.NewWriter(pw), merge))
	}()
	_, _, err = archive.Apply(ctx, rootfs, pr, archive.ApplyOptions{})
	pr.CloseWithError(err)
	return err
}

// mapTar copies the tar r to tw with names moved by merge.
func mapTar(r *tar.Reader, tw *tar.Writer, merge *usrMerge) error {
	moved := map[string]string{}
	for {
		hdr, err := r.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		p, err := archive.CleanPath(hdr.Name)
		if err != nil {
			return err
		}
		if p == "" {
			continue
		}
		np := p
		if merge != nil {
			var ok bool
			if np, ok = merge.path(p); !ok {
				continue
			}
			if hdr.Typeflag == tar.TypeSymlink {
				hdr.Linkname = merge.symlink(p, np, hdr.Linkname)
			}
			if hdr.Typeflag == tar.TypeLink {
				if t, err := archive.CleanPath(hdr.Linkname); err == nil {
					if mt, ok := moved[t]; ok {
						hdr.Linkname = mt
					} else if mt, ok := merge.path(t); ok {
						hdr.Linkname = mt
					}
				}
			}
		}
		moved[p] = np
		hdr.Name = np
		if hdr.Typeflag == tar.TypeDir {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, r); err != nil {
			return err
		}
	}
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
