package compat

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// difference is one way a peer's image differs from whittle's.
type difference struct {
	// field is what differs: "presence", "type", "mode", "owner", "link",
	// "content", "device", "xattrs", "hardlinks", "mtime" for a path of the
	// filesystem; "config.Env", "config.Labels", ... for the config.
	field string
	// path is the filesystem path, or the label key of "config.Labels".
	path string
	// whittle and peer are the two values, as printed.
	whittle, peer string
}

// format prints d on one line, naming the peer.
func (d difference) format(peer string) string {
	where := d.field
	if d.path != "" {
		where = d.path + ": " + d.field
	}
	return fmt.Sprintf("%s: whittle %s, %s %s", where, d.whittle, peer, d.peer)
}

// tolerance is a documented difference that the comparison accepts: peer
// ("buildah", "buildkit", or "" for both) may differ from whittle in field
// for the paths matching the glob path ("" for any). Each one is listed, with
// its reason, in testdata/compat/README.md.
type tolerance struct {
	peer, field, path string
	// peerValue, when set, is the only value of the peer's that is
	// tolerated: the difference is then known exactly.
	peerValue string
	reason    string
}

func (tol tolerance) matches(peer string, d difference) bool {
	if tol.peer != "" && tol.peer != peer {
		return false
	}
	if tol.field != d.field || tol.peerValue != "" && tol.peerValue != d.peer {
		return false
	}
	return tol.path == "" || matchPath(tol.path, d.path)
}

// matchPath reports whether name matches pattern: a path.Match glob, or
// "DIR/**" for everything below DIR.
func matchPath(pattern, name string) bool {
	if dir, ok := strings.CutSuffix(pattern, "/**"); ok {
		return strings.HasPrefix(name, dir+"/")
	}
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

// compareOptions say what a case compares beyond the default fields.
type compareOptions struct {
	// mtimes are globs of the paths whose modification times are compared.
	mtimes []string
}

// compareTrees lists how peer's filesystem differs from whittle's.
func compareTrees(w, p tree, o compareOptions) []difference {
	var out []difference
	wl, pl := w.hardlinks(), p.hardlinks()
	all := map[string]bool{}
	for k := range w {
		all[k] = true
	}
	for k := range p {
		all[k] = true
	}
	paths := make([]string, 0, len(all))
	for k := range all {
		paths = append(paths, k)
	}
	sort.Strings(paths)
	for _, name := range paths {
		a, b := w[name], p[name]
		switch {
		case a == nil:
			out = append(out, difference{field: "presence", path: name, whittle: "(absent)", peer: b.String()})
			continue
		case b == nil:
			out = append(out, difference{field: "presence", path: name, whittle: a.String(), peer: "(absent)"})
			continue
		}
		add := func(field string, x, y any) {
			xs, ys := fmt.Sprint(x), fmt.Sprint(y)
			if xs != ys {
				out = append(out, difference{field: field, path: name, whittle: xs, peer: ys})
			}
		}
		add("type", a.typ, b.typ)
		if a.typ != b.typ {
			continue
		}
		add("mode", fmt.Sprintf("%04o", a.mode), fmt.Sprintf("%04o", b.mode))
		add("owner", fmt.Sprintf("%d:%d", a.uid, a.gid), fmt.Sprintf("%d:%d", b.uid, b.gid))
		add("link", a.link, b.link)
		add("content", fmt.Sprintf("%d bytes sha256:%.12s", a.size, a.digest), fmt.Sprintf("%d bytes sha256:%.12s", b.size, b.digest))
		add("device", a.device, b.device)
		add("xattrs", sortedMap(a.xattrs), sortedMap(b.xattrs))
		add("hardlinks", wl[name], pl[name])
		if matchAny(o.mtimes, name) {
			add("mtime", a.mtime.Format(time.RFC3339Nano), b.mtime.Format(time.RFC3339Nano))
		}
	}
	return out
}

func (n *inode) String() string {
	s := fmt.Sprintf("%s %04o %d:%d", n.typ, n.mode, n.uid, n.gid)
	switch n.typ {
	case "file":
		s += fmt.Sprintf(" %d bytes sha256:%.12s", n.size, n.digest)
	case "symlink":
		s += " -> " + n.link
	case "char", "block":
		s += " " + n.device
	}
	return s
}

func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if matchPath(g, name) {
			return true
		}
	}
	return false
}

func sortedMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}

// compareHistory lists how peer's image record differs from whittle's
// beyond the run config: author, platform, and each history entry's
// created_by, comment, author and empty_layer mark (not its time), which
// is what `docker history` shows. Only BuildKit's is held to it: buildah
// writes history of its own ("/bin/sh -c #(nop) ..."). An entry that
// whittle marks empty where the peer has a layer without files is the
// field "history.empty-layer" (whittle adds no empty layers).
func compareHistory(w *v1.ConfigFile, peer v1.Image) ([]difference, error) {
	p, err := peer.ConfigFile()
	if err != nil {
		return nil, err
	}
	layers, err := peer.Layers()
	if err != nil {
		return nil, err
	}
	var out []difference
	field := func(name, path, x, y string) {
		if x != y {
			out = append(out, difference{field: name, path: path, whittle: strconv.Quote(x), peer: strconv.Quote(y)})
		}
	}
	field("config.Author", "", w.Author, p.Author)
	field("config.Platform", "", w.OS+"/"+w.Architecture+"/"+w.Variant, p.OS+"/"+p.Architecture+"/"+p.Variant)
	layer := 0 // the peer's layer of its entry i
	for i := range max(len(w.History), len(p.History)) {
		var x, y v1.History
		if i < len(w.History) {
			x = w.History[i]
		}
		if i < len(p.History) {
			y = p.History[i]
		}
		noLayer := false // whittle has none where the peer's has no files
		if x.EmptyLayer && !y.EmptyLayer && layer < len(layers) {
			empty, err := emptyLayer(layers[layer])
			if err != nil {
				return nil, err
			}
			noLayer, x.EmptyLayer = empty, !empty
		}
		if !y.EmptyLayer {
			layer++
		}
		describe := func(h v1.History) string {
			return fmt.Sprintf("%s | comment %q | author %q | empty %t", h.CreatedBy, h.Comment, h.Author, h.EmptyLayer)
		}
		switch dx, dy := describe(x), describe(y); {
		case dx != dy:
			field("history", strconv.Itoa(i), dx, dy)
		case noLayer:
			out = append(out, difference{field: "history.empty-layer", path: strconv.Itoa(i),
				whittle: "no layer", peer: "a layer without files"})
		}
	}
	return out, nil
}

// emptyLayer says whether l's tar has no entries.
func emptyLayer(l v1.Layer) (bool, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return false, err
	}
	defer rc.Close()
	_, err = tar.NewReader(rc).Next()
	if err == io.EOF {
		return true, nil
	}
	return false, err
}

// compareConfigs lists how peer's run config differs from whittle's in the
// fields a Dockerfile sets. Labels are compared key by key.
func compareConfigs(w, p v1.Config) []difference {
	var out []difference
	field := func(name string, x, y any) {
		xs, ys := jsonString(x), jsonString(y)
		if xs != ys {
			out = append(out, difference{field: "config." + name, whittle: xs, peer: ys})
		}
	}
	field("Env", w.Env, p.Env)
	field("Entrypoint", w.Entrypoint, p.Entrypoint)
	field("Cmd", w.Cmd, p.Cmd)
	field("User", w.User, p.User)
	field("WorkingDir", w.WorkingDir, p.WorkingDir)
	field("ExposedPorts", w.ExposedPorts, p.ExposedPorts)
	field("Volumes", w.Volumes, p.Volumes)
	field("StopSignal", w.StopSignal, p.StopSignal)
	field("Healthcheck", w.Healthcheck, p.Healthcheck)
	field("OnBuild", w.OnBuild, p.OnBuild)
	field("Shell", w.Shell, p.Shell)
	keys := map[string]bool{}
	for k := range w.Labels {
		keys[k] = true
	}
	for k := range p.Labels {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		x, xok := w.Labels[k]
		y, yok := p.Labels[k]
		if x != y || xok != yok {
			out = append(out, difference{field: "config.Labels", path: k, whittle: labelString(x, xok), peer: labelString(y, yok)})
		}
	}
	return out
}

// jsonString prints v as JSON, with empty slices and maps as null: an
// unset field and an empty one mean the same in an image config.
func jsonString(v any) string {
	rv := reflect.ValueOf(v)
	if (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) && rv.Len() == 0 {
		return "null"
	}
	if rv.Kind() == reflect.Pointer && rv.IsNil() {
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

func labelString(v string, ok bool) string {
	if !ok {
		return "(absent)"
	}
	return fmt.Sprintf("%q", v)
}

// judge splits diffs into those tolerated for peer (with the tolerance that
// accepted each) and the rest.
func judge(peer string, diffs []difference, tols []tolerance) (bad []difference, ok map[string][]difference) {
	ok = map[string][]difference{}
next:
	for _, d := range diffs {
		for _, tol := range tols {
			if tol.matches(peer, d) {
				ok[tol.reason] = append(ok[tol.reason], d)
				continue next
			}
		}
		bad = append(bad, d)
	}
	return bad, ok
}
