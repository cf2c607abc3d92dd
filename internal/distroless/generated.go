package distroless

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// genInput is what the generated layer is made from.
type genInput struct {
	recipe *Recipe
	suite  Suite
	// arch is the Debian architecture.
	arch string
	// merge is the /usr merge of the image, nil when not merged.
	merge *usrMerge
	// packages are the package layers, in image order.
	packages []*packageLayer
	epoch    time.Time
}

// generated builds the image's top layer: what Debian's maintainer scripts
// and distroless's Bazel rules would have made, replayed declaratively:
// the /usr merge links, /etc/passwd and /etc/group with home directories,
// /etc/os-release, the CA bundle (update-ca-certificates), the Java trust
// store (ca-certificates-java), update-alternatives links from .jinfo
// files, /etc/localtime, the recipe's own directories, files and links, and
// /etc/ld.so.cache when libraries live where the loader does not look.
// Later entries replace earlier ones of the same path, so the recipe has
// the last word.
func generated(in genInput) (*tree, error) {
	t := newTree()
	r := in.recipe
	mt := in.epoch
	paths := map[string]pathFact{}
	captured := map[string][]byte{}
	has := map[string]*packageLayer{}
	for _, p := range in.packages {
		has[p.Name] = p
		for _, f := range p.Facts.Paths {
			paths[f.Path] = f
		}
		for k, v := range p.Facts.Captured {
			captured[k] = v
		}
	}
	exists := func(p string) bool { _, ok := paths[p]; return ok }
	// The recipe's files are read once: the CA bundle takes the local
	// certificates among them, and all of them go into the layer.
	contents := make([][]byte, len(r.Files))
	for i, f := range r.Files {
		data, err := fileData(f)
		if err != nil {
			return nil, err
		}
		contents[i] = data
	}
	file := func(p string, mode int64, uid, gid int, data []byte) {
		p = strings.TrimPrefix(p, "/")
		t.add(&node{name: p, typeflag: tar.TypeReg, mode: mode, uid: uid, gid: gid, mtime: mt, size: int64(len(data)), data: data})
	}
	dir := func(p string, mode int64, uid, gid int) {
		p = strings.TrimPrefix(p, "/")
		t.add(&node{name: p, typeflag: tar.TypeDir, mode: mode, uid: uid, gid: gid, mtime: mt})
	}
	link := func(p, target string) {
		p = strings.TrimPrefix(p, "/")
		t.add(&node{name: p, typeflag: tar.TypeSymlink, mode: 0o777, linkname: target, mtime: mt})
	}

	if in.merge != nil {
		for d, target := range in.merge.links(exists) {
			link(d, target)
		}
	}

	if len(r.Users) > 0 || len(r.Groups) > 0 {
		var pw, gr bytes.Buffer
		for _, u := range r.Users {
			fmt.Fprintf(&pw, "%s:x:%d:%d:%s:%s:%s\n", u.Name, u.UID, u.GID, u.Gecos, userHome(u), userShell(u))
		}
		for _, g := range r.Groups {
			fmt.Fprintf(&gr, "%s:x:%d:%s\n", g.Name, g.GID, strings.Join(g.Members, ","))
		}
		file("etc/passwd", 0o644, 0, 0, pw.Bytes())
		file("etc/group", 0o644, 0, 0, gr.Bytes())
		for _, u := range r.Users {
			if h := userHome(u); h != "/nonexistent" && h != "/" {
				dir(h, 0o700, int(u.UID), int(u.GID))
			}
		}
	}

	if osr, ok := captured["usr/lib/os-release"]; ok {
		file("etc/os-release", 0o644, 0, 0, distrolessOSRelease(osr, in.suite))
	}

	if ca, ok := has[pkgCACerts]; ok {
		local := map[string][]byte{}
		for i, f := range r.Files {
			p := strings.TrimPrefix(f.Path, "/")
			if strings.HasPrefix(p, localCertDir+"/") && strings.HasSuffix(p, ".crt") {
				local[p] = contents[i]
			}
		}
		bundle, certs, err := caBundle(ca.Facts.Captured, local)
		if err != nil {
			return nil, err
		}
		file(CABundle, 0o644, 0, 0, bundle)
		if _, ok := has[pkgJavaCACerts]; ok {
			store, err := javaTrustStore(certs, mt)
			if err != nil {
				return nil, err
			}
			file(JavaTrustStore, 0o644, 0, 0, store)
		}
	}

	alts, err := alternativesFrom(captured, exists)
	if err != nil {
		return nil, err
	}
	for _, a := range alts {
		link(a.Link, "/etc/alternatives/"+a.Name)
		link("/etc/alternatives/"+a.Name, a.Target)
	}

	if z := r.Timezone; z != "" {
		zf := path.Join("usr/share/zoneinfo", z)
		if !exists(zf) {
			return nil, fmt.Errorf("timezone %s: /%s is not in the image (is tzdata in it?)", z, zf)
		}
		link("etc/localtime", "/"+zf)
		file("etc/timezone", 0o644, 0, 0, []byte(z+"\n"))
	}

	for _, d := range r.Dirs {
		mode := int64(d.Mode)
		if mode == 0 {
			mode = 0o755
		}
		dir(d.Path, mode, int(d.UID), int(d.GID))
	}
	for i, f := range r.Files {
		mode := int64(f.Mode)
		if mode == 0 {
			mode = 0o644
		}
		file(f.Path, mode, int(f.UID), int(f.GID), contents[i])
	}
	for _, l := range r.Links {
		link(l.Path, l.Target)
	}
	if err := ldCacheLayer(in, paths, captured, t, file); err != nil {
		return nil, err
	}
	// Parents that a package layer has keep its metadata (the layer needs
	// no entry for them); the others are made here.
	t.addParents(mt, func(d string) bool {
		f, ok := paths[d]
		return ok && f.Type == 'd'
	})
	return t, nil
}

// ldCacheLayer adds /etc/ld.so.cache when libraries live in directories
// the loader does not search by itself (see ldCacheFor): from the
// packages' ld.so.conf files and the recipe's, over the packages' files
// and the recipe's.
func ldCacheLayer(in genInput, paths map[string]pathFact, captured map[string][]byte, t *tree, file func(string, int64, int, int, []byte)) error {
	conf := map[string][]byte{}
	isConf := func(p string) bool {
		return p == "etc/ld.so.conf" || (strings.HasPrefix(p, "etc/ld.so.conf.d/") && strings.HasSuffix(p, ".conf"))
	}
	for p, b := range captured {
		if isConf(p) {
			conf[p] = b
		}
	}
	byDir := map[string][]string{}
	addPath := func(p string, typ byte) {
		if typ == 'f' || typ == 'l' || typ == 'h' {
			byDir[path.Dir(p)] = append(byDir[path.Dir(p)], path.Base(p))
		}
	}
	for p, f := range paths {
		addPath(p, f.Type)
	}
	for p, n := range t.nodes {
		if n.typeflag == tar.TypeReg && isConf(p) {
			conf[p] = n.data
		}
		addPath(p, factType(n.typeflag))
	}
	libsIn := func(dir string) []string {
		real := dir
		if in.merge != nil {
			if m, ok := in.merge.path(dir); ok {
				real = m
			} else {
				real = "usr/" + dir
			}
		}
		names := append([]string(nil), byDir[real]...)
		sort.Strings(names)
		return names
	}
	cache, err := ldCacheFor(conf, in.arch, libsIn)
	if err != nil || cache == nil {
		return err
	}
	file(LDCache, 0o644, 0, 0, cache)
	return nil
}

// fileData returns a recipe file's content.
func fileData(f File) ([]byte, error) {
	if f.Source == "" {
		return []byte(f.Content), nil
	}
	data, err := os.ReadFile(f.Source)
	if err != nil {
		return nil, fmt.Errorf("files: %s: %w", f.Path, err)
	}
	return data, nil
}

func userHome(u User) string {
	if u.Home != "" {
		return u.Home
	}
	return "/home/" + u.Name
}

func userShell(u User) string {
	if u.Shell != "" {
		return u.Shell
	}
	return "/sbin/nologin"
}

// distrolessOSRelease is distroless's /etc/os-release, from base-files'
// /usr/lib/os-release: PRETTY_NAME "Distroless", Debian's NAME, ID,
// VERSION_ID and VERSION_CODENAME, VERSION as "Debian GNU/Linux 12
// (bookworm)", no URLs.
func distrolessOSRelease(debianOSR []byte, s Suite) []byte {
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(debianOSR))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok {
			vals[k] = strings.Trim(v, `"`)
		}
	}
	get := func(k, def string) string {
		if v := vals[k]; v != "" {
			return v
		}
		return def
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "PRETTY_NAME=%q\n", "Distroless")
	fmt.Fprintf(&b, "NAME=%q\n", get("NAME", "Debian GNU/Linux"))
	fmt.Fprintf(&b, "ID=%q\n", get("ID", "debian"))
	fmt.Fprintf(&b, "VERSION_ID=%q\n", get("VERSION_ID", s.Version))
	fmt.Fprintf(&b, "VERSION=%q\n", fmt.Sprintf("%s %s (%s)", get("NAME", "Debian GNU/Linux"), get("VERSION_ID", s.Version), get("VERSION_CODENAME", s.Name)))
	fmt.Fprintf(&b, "VERSION_CODENAME=%s\n", get("VERSION_CODENAME", s.Name))
	return b.Bytes()
}
