package analyze

import (
	"sort"
	"strings"
)

// Pruning of Report.Tree: a directory keeps at most treeChildren entries,
// and only those holding at least treeShare of the image's file bytes; the
// rest are summed into one "…" entry.
const (
	treeChildren = 12
	treeShare    = 0.005
)

// summarizeFiles sets r's final-filesystem totals, largest files and
// directories, and tree. Each blob (a file and its hardlinks) is counted
// once, under the first of its paths in walk order.
func summarizeFiles(fs *filesystem, r *Report, opts Options) {
	root := &TreeNode{Name: "/"}
	dirs := map[string]*TreeNode{"": root}
	seen := map[*blob]bool{}
	var files []PathSize
	fs.walk(func(p string, n *node) {
		if n.kind == kindDir {
			parent := dirs[parentKey(p)]
			t := &TreeNode{Name: n.name}
			parent.Children = append(parent.Children, t)
			dirs[p] = t
			return
		}
		r.Files++
		if n.blob == nil || seen[n.blob] {
			return
		}
		seen[n.blob] = true
		size := n.blob.size
		r.TotalFileBytes += size
		files = append(files, PathSize{Path: p, Bytes: size, Files: 1})
		parent := dirs[parentKey(p)]
		parent.Children = append(parent.Children, &TreeNode{Name: n.name, Bytes: size, Files: 1})
	})
	total(root)

	sort.SliceStable(files, func(i, j int) bool { return files[i].Bytes > files[j].Bytes })
	r.LargestFiles = append([]PathSize{}, files[:min(opts.Top, len(files))]...)

	var ds []PathSize
	for p, t := range dirs {
		if p != "" && t.Bytes > 0 {
			ds = append(ds, PathSize{Path: p, Bytes: t.Bytes, Files: t.Files})
		}
	}
	sort.Slice(ds, func(i, j int) bool {
		if ds[i].Bytes != ds[j].Bytes {
			return ds[i].Bytes > ds[j].Bytes
		}
		return ds[i].Path < ds[j].Path
	})
	r.LargestDirs = ds[:min(opts.Top, len(ds))]
	if r.LargestDirs == nil {
		r.LargestDirs = []PathSize{}
	}
	r.Tree = prune(root, opts.TreeDepth, int64(float64(r.TotalFileBytes)*treeShare))
}

// parentKey is the dirs key of p's parent ("" for the root).
func parentKey(p string) string {
	return p[:strings.LastIndexByte(p, '/')]
}

// total sums t's subtree into t.Bytes and t.Files and returns t.
func total(t *TreeNode) *TreeNode {
	for _, c := range t.Children {
		total(c)
		t.Bytes += c.Bytes
		t.Files += c.Files
	}
	return t
}

// prune returns a copy of t keeping depth levels below it and, in each
// directory, the largest entries of at least minBytes (at most
// treeChildren); the others are summed into a "…" entry.
func prune(t *TreeNode, depth int, minBytes int64) *TreeNode {
	out := &TreeNode{Name: t.Name, Bytes: t.Bytes, Files: t.Files}
	if depth <= 0 || len(t.Children) == 0 {
		return out
	}
	kids := append([]*TreeNode{}, t.Children...)
	sort.SliceStable(kids, func(i, j int) bool {
		if kids[i].Bytes != kids[j].Bytes {
			return kids[i].Bytes > kids[j].Bytes
		}
		return kids[i].Name < kids[j].Name
	})
	rest := &TreeNode{Name: "…"}
	for _, c := range kids {
		if c.Bytes == 0 {
			continue
		}
		if len(out.Children) < treeChildren && c.Bytes >= minBytes {
			out.Children = append(out.Children, prune(c, depth-1, minBytes))
			continue
		}
		rest.Bytes += c.Bytes
		rest.Files += c.Files
	}
	if rest.Bytes > 0 {
		out.Children = append(out.Children, rest)
	}
	return out
}
