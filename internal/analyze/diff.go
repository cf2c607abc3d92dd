package analyze

import (
	"context"
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DiffReport compares two images: their sizes, the files of their final
// filesystems, their packages and their attack surface. Deltas are B - A.
type DiffReport struct {
	// SchemaVersion is SchemaVersion at the time the report was made.
	SchemaVersion int `json:"schemaVersion"`
	// A and B summarise the two images.
	A DiffSide `json:"a"`
	B DiffSide `json:"b"`
	// SizeDelta is B.Size - A.Size (uncompressed layer bytes).
	SizeDelta int64 `json:"sizeDelta"`
	// CompressedSizeDelta is B.CompressedSize - A.CompressedSize.
	CompressedSizeDelta int64 `json:"compressedSizeDelta"`
	// TotalFileBytesDelta is B.TotalFileBytes - A.TotalFileBytes.
	TotalFileBytesDelta int64 `json:"totalFileBytesDelta"`
	// WastedBytesDelta is B.WastedBytes - A.WastedBytes.
	WastedBytesDelta int64 `json:"wastedBytesDelta"`
	// Added lists paths only B has, Removed paths only A has, Changed
	// paths both have that differ; each sorted by path.
	Added   []FileChange `json:"added"`
	Removed []FileChange `json:"removed"`
	Changed []FileChange `json:"changed"`
	// Packages and Findings are the package and attack-surface deltas.
	Packages PackageDelta `json:"packages"`
	Findings FindingDelta `json:"findings"`
}

// DiffSide summarises one side of a diff with the same-named values of its
// Report.
type DiffSide struct {
	// Image names the image.
	Image ImageRef `json:"image"`
	// Size, CompressedSize, TotalFileBytes, WastedBytes and Files are the
	// Report's.
	Size           int64 `json:"size"`
	CompressedSize int64 `json:"compressedSize"`
	TotalFileBytes int64 `json:"totalFileBytes"`
	WastedBytes    int64 `json:"wastedBytes"`
	Files          int   `json:"files"`
	// Layers, Packages and Findings count the Report's lists.
	Layers   int `json:"layers"`
	Packages int `json:"packages"`
	Findings int `json:"findings"`
}

// FileChange is a path added, removed or changed between the images.
type FileChange struct {
	// Path is absolute.
	Path string `json:"path"`
	// Type is the path's type in B (in A for removed paths): "file",
	// "directory", "symlink" or "special file".
	Type string `json:"type"`
	// SizeA and SizeB are the regular-file sizes (0 when absent or not a
	// regular file).
	SizeA int64 `json:"sizeA"`
	SizeB int64 `json:"sizeB"`
	// Changes names what differs for a changed path: "type", "size",
	// "mode", "owner", "link", "content".
	Changes []string `json:"changes,omitempty"`
}

// PackageDelta lists packages only in B, only in A, and in both with a
// different version or size. Packages are matched by type and name.
type PackageDelta struct {
	// Added, Removed and Changed are sorted as the packages of B (Added,
	// Changed) and of A (Removed) are.
	Added   []Package       `json:"added"`
	Removed []Package       `json:"removed"`
	Changed []PackageChange `json:"changed"`
}

// PackageChange is a package present in both images that differs.
type PackageChange struct {
	// Name and Type identify the package.
	Name string `json:"name"`
	Type string `json:"type"`
	// VersionA and VersionB are its versions in A and B.
	VersionA string `json:"versionA"`
	VersionB string `json:"versionB"`
	// BytesA and BytesB are its bytes in A and B.
	BytesA int64 `json:"bytesA"`
	BytesB int64 `json:"bytesB"`
}

// FindingDelta lists findings only in B (Added) and only in A (Removed),
// matched by rule, path and verdict.
type FindingDelta struct {
	// Added are only in B, Removed only in A.
	Added   []Finding `json:"added"`
	Removed []Finding `json:"removed"`
}

// Diff analyses a and b (hashing every file's content, so it reads more
// than Analyze) and compares them. refA and refB are copied into the
// report as given.
func Diff(ctx context.Context, a, b v1.Image, refA, refB string) (*DiffReport, error) {
	opts := Options{hashContent: true}
	aa, err := analyzeImage(ctx, a, refA, opts)
	if err != nil {
		return nil, fmt.Errorf("analysing %s: %w", refA, err)
	}
	bb, err := analyzeImage(ctx, b, refB, opts)
	if err != nil {
		return nil, fmt.Errorf("analysing %s: %w", refB, err)
	}
	ra, rb := aa.report, bb.report
	d := &DiffReport{
		SchemaVersion:       SchemaVersion,
		A:                   side(ra),
		B:                   side(rb),
		SizeDelta:           rb.Size - ra.Size,
		CompressedSizeDelta: rb.CompressedSize - ra.CompressedSize,
		TotalFileBytesDelta: rb.TotalFileBytes - ra.TotalFileBytes,
		WastedBytesDelta:    rb.WastedBytes - ra.WastedBytes,
		Added:               []FileChange{},
		Removed:             []FileChange{},
		Changed:             []FileChange{},
	}
	diffFiles(aa.fs, bb.fs, d)
	d.Packages = diffPackages(ra.Packages, rb.Packages)
	d.Findings = diffFindings(ra.Findings, rb.Findings)
	return d, nil
}

func side(r *Report) DiffSide {
	return DiffSide{
		Image: r.Image, Size: r.Size, CompressedSize: r.CompressedSize,
		TotalFileBytes: r.TotalFileBytes, WastedBytes: r.WastedBytes, Files: r.Files,
		Layers: len(r.Layers), Packages: len(r.Packages), Findings: len(r.Findings),
	}
}

// diffFiles compares the two final filesystems path by path.
func diffFiles(a, b *filesystem, d *DiffReport) {
	inA := map[string]*node{}
	a.walk(func(p string, n *node) { inA[p] = n })
	b.walk(func(p string, nb *node) {
		na, ok := inA[p]
		if !ok {
			d.Added = append(d.Added, FileChange{Path: p, Type: kindName(nb.kind), SizeB: fileSize(nb)})
			return
		}
		delete(inA, p)
		if changes := compareNodes(na, nb); len(changes) > 0 {
			d.Changed = append(d.Changed, FileChange{Path: p, Type: kindName(nb.kind), SizeA: fileSize(na), SizeB: fileSize(nb), Changes: changes})
		}
	})
	for p, n := range inA {
		d.Removed = append(d.Removed, FileChange{Path: p, Type: kindName(n.kind), SizeA: fileSize(n)})
	}
	for _, fcs := range [][]FileChange{d.Added, d.Removed, d.Changed} {
		sort.Slice(fcs, func(i, j int) bool { return fcs[i].Path < fcs[j].Path })
	}
}

// compareNodes names what differs between two versions of a path.
func compareNodes(a, b *node) []string {
	var out []string
	if a.kind != b.kind || (a.kind == kindOther && a.typeflag != b.typeflag) {
		return []string{"type"}
	}
	if fileSize(a) != fileSize(b) {
		out = append(out, "size")
	}
	if a.mode != b.mode {
		out = append(out, "mode")
	}
	if a.uid != b.uid || a.gid != b.gid {
		out = append(out, "owner")
	}
	if a.link != b.link {
		out = append(out, "link")
	}
	if a.kind == kindFile && a.digest != nil && b.digest != nil && *a.digest != *b.digest {
		out = append(out, "content")
	}
	return out
}

func fileSize(n *node) int64 {
	if n.blob == nil {
		return 0
	}
	return n.blob.size
}

// diffPackages matches packages by type and name; a name listed more than
// once on one side (a Go module in two binaries) is summed.
func diffPackages(a, b []Package) PackageDelta {
	type key struct{ typ, name string }
	index := func(ps []Package) (map[key]Package, []key) {
		m := map[key]Package{}
		var order []key
		for _, p := range ps {
			k := key{p.Type, p.Name}
			if q, ok := m[k]; ok {
				q.Bytes += p.Bytes
				q.Files += p.Files
				if !strings.Contains(" "+q.Version+" ", " "+p.Version+" ") {
					q.Version += " " + p.Version
				}
				m[k] = q
				continue
			}
			m[k] = p
			order = append(order, k)
		}
		return m, order
	}
	ma, orderA := index(a)
	mb, orderB := index(b)
	d := PackageDelta{Added: []Package{}, Removed: []Package{}, Changed: []PackageChange{}}
	for _, k := range orderB {
		pb := mb[k]
		pa, ok := ma[k]
		switch {
		case !ok:
			d.Added = append(d.Added, pb)
		case pa.Version != pb.Version || pa.Bytes != pb.Bytes:
			d.Changed = append(d.Changed, PackageChange{Name: k.name, Type: k.typ, VersionA: pa.Version, VersionB: pb.Version, BytesA: pa.Bytes, BytesB: pb.Bytes})
		}
	}
	for _, k := range orderA {
		if _, ok := mb[k]; !ok {
			d.Removed = append(d.Removed, ma[k])
		}
	}
	return d
}

// diffFindings matches findings by rule, path and verdict (two ports share
// a path and differ in their verdict).
func diffFindings(a, b []Finding) FindingDelta {
	key := func(f Finding) string { return f.Rule + "\x00" + f.Path + "\x00" + f.Verdict }
	inA, inB := map[string]bool{}, map[string]bool{}
	for _, f := range a {
		inA[key(f)] = true
	}
	for _, f := range b {
		inB[key(f)] = true
	}
	d := FindingDelta{Added: []Finding{}, Removed: []Finding{}}
	for _, f := range b {
		if !inA[key(f)] {
			d.Added = append(d.Added, f)
		}
	}
	for _, f := range a {
		if !inB[key(f)] {
			d.Removed = append(d.Removed, f)
		}
	}
	return d
}
