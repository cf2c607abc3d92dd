package analyze

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// ANSI colours used when the caller asks for colour.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiCyan   = "\x1b[36m"
)

// textWriter renders tables, colouring cells only when color is set.
type textWriter struct {
	w     io.Writer
	color bool
	err   error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// paint wraps s in an ANSI code when colour is on.
func (t *textWriter) paint(code, s string) string {
	if !t.color || code == "" || s == "" {
		return s
	}
	return code + s + ansiReset
}

// heading prints a section title.
func (t *textWriter) heading(s string) {
	t.printf("\n%s\n", t.paint(ansiBold, s))
}

// cell is a table cell: its text and an optional colour.
type cell struct {
	text  string
	color string
	right bool // right-aligned (numbers)
}

// table prints rows under head, columns padded to their widest cell; the
// last column is not padded.
func (t *textWriter) table(head []string, rows [][]cell) {
	widths := make([]int, len(head))
	for i, h := range head {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	line := func(cells []cell) {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range cells {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text))
			text := t.paint(c.color, c.text)
			switch {
			case i == len(cells)-1 && !c.right:
				b.WriteString(text)
			case c.right:
				b.WriteString(pad + text)
			default:
				b.WriteString(text + pad)
			}
			if i < len(cells)-1 {
				b.WriteString("  ")
			}
		}
		t.printf("%s\n", strings.TrimRight(b.String(), " "))
	}
	hc := make([]cell, len(head))
	for i, h := range head {
		hc[i] = cell{text: h, color: ansiDim, right: len(rows) > 0 && rows[0][i].right}
	}
	line(hc)
	for _, r := range rows {
		line(r)
	}
}

// num is a right-aligned number cell.
func num(s string) cell { return cell{text: s, right: true} }

// WriteText writes r as a report for a terminal: a summary, then tables of
// layers, largest directories and files, packages and findings. color adds
// ANSI colours; the caller decides (a TTY, NO_COLOR unset).
func WriteText(w io.Writer, r *Report, color bool) error {
	t := &textWriter{w: w, color: color}
	ref := r.Image.Ref
	if ref == "" {
		ref = r.Image.Digest
	}
	t.printf("%s %s\n", t.paint(ansiBold, "Image"), ref)
	t.printf("  digest       %s\n", r.Image.Digest)
	if r.Platform != "" {
		t.printf("  platform     %s\n", r.Platform)
	}
	t.printf("  size         %s uncompressed, %s compressed, %s\n", HumanSize(r.Size), HumanSize(r.CompressedSize), plural(len(r.Layers), "layer"))
	t.printf("  files        %s in %d files (hardlinks once)\n", HumanSize(r.TotalFileBytes), r.Files)
	effColor := ansiGreen
	if r.Efficiency < 0.95 {
		effColor = ansiYellow
	}
	if r.Efficiency < 0.8 {
		effColor = ansiRed
	}
	t.printf("  wasted       %s of %s in layers; efficiency %s\n", HumanSize(r.WastedBytes), HumanSize(r.LayerFileBytes),
		t.paint(effColor, fmt.Sprintf("%.1f%%", 100*r.Efficiency)))
	t.printf("  base         %s\n", describeBase(r.Base))
	userText := r.User
	if userText == "" {
		userText = "(root: no USER)"
	}
	t.printf("  user         %s\n", userText)
	if len(r.ExposedPorts) > 0 {
		t.printf("  ports        %s\n", strings.Join(r.ExposedPorts, " "))
	}

	t.heading("Layers")
	var rows [][]cell
	for _, l := range r.Layers {
		origin, oc := "build", ansiCyan
		if l.FromBase {
			origin, oc = "base", ansiBlue
		}
		wasted := cell{text: "-", right: true}
		if l.WastedBytes > 0 {
			wasted = cell{text: HumanSize(l.WastedBytes), color: ansiYellow, right: true}
		}
		rows = append(rows, []cell{num(fmt.Sprint(l.Index)), {text: origin, color: oc}, num(HumanSize(l.CompressedSize)),
			num(HumanSize(l.Size)), num(fmt.Sprint(l.Files)), wasted, {text: shortCommand(l.CreatedBy, 70)}})
	}
	t.table([]string{"#", "FROM", "COMPRESSED", "SIZE", "FILES", "WASTED", "CREATED BY"}, rows)

	t.heading(fmt.Sprintf("Largest directories (top %d)", len(r.LargestDirs)))
	t.table([]string{"SIZE", "FILES", "PATH"}, pathRows(r.LargestDirs))
	t.heading(fmt.Sprintf("Largest files (top %d)", len(r.LargestFiles)))
	t.table([]string{"SIZE", "FILES", "PATH"}, pathRows(r.LargestFiles))

	t.heading(fmt.Sprintf("Packages (%s)", packageCounts(r.Packages)))
	if len(r.Packages) == 0 {
		t.printf("  none found (no dpkg, status.d or apk database, no Go binary)\n")
	} else {
		rows = nil
		shown := min(len(r.Packages), max(len(r.LargestFiles), 20))
		for _, p := range r.Packages[:shown] {
			rows = append(rows, []cell{num(HumanSize(p.Bytes)), {text: p.Type}, {text: p.Name}, {text: p.Version}})
		}
		t.table([]string{"SIZE", "TYPE", "NAME", "VERSION"}, rows)
		if shown < len(r.Packages) {
			t.printf("  … and %d more (see --format json)\n", len(r.Packages)-shown)
		}
	}

	t.heading(fmt.Sprintf("Attack surface (%s)", plural(len(r.Findings), "finding")))
	if len(r.Findings) == 0 {
		t.printf("  nothing found\n")
	} else {
		rows = nil
		advice := map[string]string{}
		var rulesSeen []string
		for _, f := range r.Findings {
			rows = append(rows, []cell{{text: f.Severity, color: severityColor(f.Severity)}, {text: f.Rule}, {text: f.Path}, {text: f.Verdict}})
			if _, ok := advice[f.Rule]; !ok {
				advice[f.Rule] = f.Advice
				rulesSeen = append(rulesSeen, f.Rule)
			}
		}
		t.table([]string{"SEVERITY", "RULE", "PATH", "VERDICT"}, rows)
		t.heading("What to do")
		for _, rule := range rulesSeen {
			t.printf("  %s: %s\n", t.paint(ansiBold, rule), advice[rule])
		}
	}
	if len(r.Notes) > 0 {
		t.heading("Notes")
		for _, n := range r.Notes {
			t.printf("  - %s\n", n)
		}
	}
	return t.err
}

// describeBase says where the FROM boundary is and how it was found.
func describeBase(b Base) string {
	name := ""
	if b.Name != "" {
		name = " from " + b.Name
	}
	layers := plural(b.Layers, "layer")
	switch b.Source {
	case "annotation":
		return fmt.Sprintf("%s%s (recorded by the build)", layers, name)
	case "inferred":
		return fmt.Sprintf("%s%s (inferred from history: %s)", layers, name, b.Method)
	}
	return "unknown (no annotation, nothing to infer from history): all layers counted as build"
}

// plural formats n things: "1 layer", "3 layers".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func pathRows(ps []PathSize) [][]cell {
	var rows [][]cell
	for _, p := range ps {
		rows = append(rows, []cell{num(HumanSize(p.Bytes)), num(fmt.Sprint(p.Files)), {text: p.Path}})
	}
	return rows
}

// packageCounts summarises packages by type: "120 deb, 3 go-module".
func packageCounts(ps []Package) string {
	counts := map[string]int{}
	var order []string
	for _, p := range ps {
		if counts[p.Type] == 0 {
			order = append(order, p.Type)
		}
		counts[p.Type]++
	}
	if len(order) == 0 {
		return "none"
	}
	var parts []string
	for _, t := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[t], t))
	}
	return strings.Join(parts, ", ")
}

func severityColor(s string) string {
	switch s {
	case SeverityHigh:
		return ansiRed
	case SeverityMedium:
		return ansiYellow
	case SeverityLow:
		return ansiCyan
	}
	return ansiDim
}

// shortCommand trims a history entry for a table: the classic builder's
// "/bin/sh -c #(nop) " prefix goes, and long commands are cut to width.
func shortCommand(s string, width int) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "/bin/sh -c #(nop) ")
	s = strings.TrimSpace(strings.TrimPrefix(s, "/bin/sh -c "))
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > width {
		rs := []rune(s)
		s = string(rs[:width-1]) + "…"
	}
	return s
}

// signedSize formats a delta with its sign: "+1.2 MiB", "-300 B", "0 B".
func signedSize(n int64) string {
	if n > 0 {
		return "+" + HumanSize(n)
	}
	return HumanSize(n)
}

// WriteDiffText writes d for a terminal: the size deltas, then the files
// added, removed and changed (largest first, at most 50 of each), the
// package and the attack-surface deltas.
func WriteDiffText(w io.Writer, d *DiffReport, color bool) error {
	t := &textWriter{w: w, color: color}
	name := func(s DiffSide) string {
		if s.Image.Ref != "" {
			return s.Image.Ref
		}
		return s.Image.Digest
	}
	t.printf("%s %s → %s\n", t.paint(ansiBold, "Diff"), name(d.A), name(d.B))
	t.table([]string{"", "A", "B", "DELTA"}, [][]cell{
		{{text: "size"}, num(HumanSize(d.A.Size)), num(HumanSize(d.B.Size)), t.deltaCell(d.SizeDelta)},
		{{text: "compressed"}, num(HumanSize(d.A.CompressedSize)), num(HumanSize(d.B.CompressedSize)), t.deltaCell(d.CompressedSizeDelta)},
		{{text: "file bytes"}, num(HumanSize(d.A.TotalFileBytes)), num(HumanSize(d.B.TotalFileBytes)), t.deltaCell(d.TotalFileBytesDelta)},
		{{text: "wasted"}, num(HumanSize(d.A.WastedBytes)), num(HumanSize(d.B.WastedBytes)), t.deltaCell(d.WastedBytesDelta)},
		{{text: "files"}, num(fmt.Sprint(d.A.Files)), num(fmt.Sprint(d.B.Files)), num(fmt.Sprintf("%+d", d.B.Files-d.A.Files))},
		{{text: "layers"}, num(fmt.Sprint(d.A.Layers)), num(fmt.Sprint(d.B.Layers)), num(fmt.Sprintf("%+d", d.B.Layers-d.A.Layers))},
		{{text: "packages"}, num(fmt.Sprint(d.A.Packages)), num(fmt.Sprint(d.B.Packages)), num(fmt.Sprintf("%+d", d.B.Packages-d.A.Packages))},
		{{text: "findings"}, num(fmt.Sprint(d.A.Findings)), num(fmt.Sprint(d.B.Findings)), num(fmt.Sprintf("%+d", d.B.Findings-d.A.Findings))},
	})
	const limit = 50
	files := func(title string, fcs []FileChange, size func(FileChange) int64, extra func(FileChange) string) {
		var total int64
		for _, fc := range fcs {
			total += size(fc)
		}
		t.heading(fmt.Sprintf("%s: %s, %s", title, plural(len(fcs), "path"), signedSize(total)))
		sorted := append([]FileChange{}, fcs...)
		sortBySize(sorted, size)
		var rows [][]cell
		for _, fc := range sorted[:min(limit, len(sorted))] {
			rows = append(rows, []cell{t.deltaCell(size(fc)), {text: fc.Type}, {text: fc.Path + extra(fc)}})
		}
		if len(rows) > 0 {
			t.table([]string{"BYTES", "TYPE", "PATH"}, rows)
		}
		if len(sorted) > limit {
			t.printf("  … and %d more (see --format json)\n", len(sorted)-limit)
		}
	}
	none := func(FileChange) string { return "" }
	files("Added", d.Added, func(fc FileChange) int64 { return fc.SizeB }, none)
	files("Removed", d.Removed, func(fc FileChange) int64 { return -fc.SizeA }, none)
	files("Changed", d.Changed, func(fc FileChange) int64 { return fc.SizeB - fc.SizeA },
		func(fc FileChange) string { return " (" + strings.Join(fc.Changes, ", ") + ")" })

	t.heading(fmt.Sprintf("Packages: %d added, %d removed, %d changed", len(d.Packages.Added), len(d.Packages.Removed), len(d.Packages.Changed)))
	var rows [][]cell
	for _, p := range d.Packages.Added {
		rows = append(rows, []cell{{text: "+", color: ansiGreen}, {text: p.Type}, {text: p.Name}, {text: p.Version}, t.deltaCell(p.Bytes)})
	}
	for _, p := range d.Packages.Removed {
		rows = append(rows, []cell{{text: "-", color: ansiRed}, {text: p.Type}, {text: p.Name}, {text: p.Version}, t.deltaCell(-p.Bytes)})
	}
	for _, p := range d.Packages.Changed {
		v := p.VersionB
		if p.VersionA != p.VersionB {
			v = p.VersionA + " → " + p.VersionB
		}
		rows = append(rows, []cell{{text: "~", color: ansiYellow}, {text: p.Type}, {text: p.Name}, {text: v}, t.deltaCell(p.BytesB - p.BytesA)})
	}
	if len(rows) > 0 {
		t.table([]string{"", "TYPE", "NAME", "VERSION", "BYTES"}, rows)
	}

	t.heading(fmt.Sprintf("Attack surface: %d added, %d removed", len(d.Findings.Added), len(d.Findings.Removed)))
	rows = nil
	for _, f := range d.Findings.Added {
		rows = append(rows, []cell{{text: "+", color: ansiRed}, {text: f.Severity, color: severityColor(f.Severity)}, {text: f.Rule}, {text: f.Path}})
	}
	for _, f := range d.Findings.Removed {
		rows = append(rows, []cell{{text: "-", color: ansiGreen}, {text: f.Severity, color: severityColor(f.Severity)}, {text: f.Rule}, {text: f.Path}})
	}
	if len(rows) > 0 {
		t.table([]string{"", "SEVERITY", "RULE", "PATH"}, rows)
	}
	return t.err
}

// deltaCell is a signed size, red when it grows and green when it shrinks.
func (t *textWriter) deltaCell(n int64) cell {
	c := cell{text: signedSize(n), right: true}
	switch {
	case n > 0:
		c.color = ansiRed
	case n < 0:
		c.color = ansiGreen
	}
	return c
}

// sortBySize orders changes by the magnitude of size, largest first, then
// by path.
func sortBySize(fcs []FileChange, size func(FileChange) int64) {
	abs := func(n int64) int64 {
		if n < 0 {
			return -n
		}
		return n
	}
	sort.SliceStable(fcs, func(i, j int) bool {
		a, b := abs(size(fcs[i])), abs(size(fcs[j]))
		if a != b {
			return a > b
		}
		return fcs[i].Path < fcs[j].Path
	})
}
