package analyze

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromium returns the path of a Chromium browser or skips t.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("needs Chromium for the headless HTML check (Debian: apt-get install chromium)")
	return ""
}

// tagAttrs returns the attributes of every start tag in dom whose class
// attribute contains class, in document order.
func tagAttrs(dom, class string) []map[string]string {
	tagRE := regexp.MustCompile(`<[a-z]+\s[^>]*class="[^"]*\b` + regexp.QuoteMeta(class) + `\b[^"]*"[^>]*>`)
	attrRE := regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
	var out []map[string]string
	for _, tag := range tagRE.FindAllString(dom, -1) {
		m := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(tag, -1) {
			m[a[1]] = a[2]
		}
		out = append(out, m)
	}
	return out
}

func TestWriteHTMLSelfContained(t *testing.T) {
	r, err := Analyze(context.Background(), demoImage(t), "demo:<single>", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"<link", " src=", "http://", "https://", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("page is not self-contained: it has %q", bad)
		}
	}
	if strings.Contains(page, "demo:<single>") {
		t.Error("the reference is not escaped")
	}
}

// TestWriteHTMLChromium renders the page in headless Chromium and checks
// the DOM after the scripts ran: the charts carry the report's numbers and
// no script failed.
func TestWriteHTMLChromium(t *testing.T) {
	browser := chromium(t)
	r, err := Analyze(context.Background(), demoImage(t), "demo:single", Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, r); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1280,1000",
		"--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
		"--dump-dom", "file://"+page)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := stdout.String()

	// Console messages (errors included) are logged as CONSOLE lines.
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") {
			t.Errorf("console: %s", line)
		}
	}
	root := regexp.MustCompile(`<html[^>]*>`).FindString(dom)
	if !strings.Contains(root, `data-rendered="true"`) {
		t.Fatalf("the page script did not finish: %s", root)
	}
	if strings.Contains(root, "data-js-errors") {
		t.Errorf("script errors: %s", root)
	}

	bars := tagAttrs(dom, "layer-bar")
	if len(bars) != len(r.Layers) {
		t.Fatalf("%d layer bars, want %d", len(bars), len(r.Layers))
	}
	for i, l := range r.Layers {
		got := bars[i]
		want := map[string]string{
			"data-index": fmt.Sprint(l.Index), "data-size": fmt.Sprint(l.Size), "data-compressed-size": fmt.Sprint(l.CompressedSize),
			"data-wasted": fmt.Sprint(l.WastedBytes), "data-files": fmt.Sprint(l.Files), "data-from-base": fmt.Sprint(l.FromBase),
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("layer bar %d: %s = %q, want %q", i, k, got[k], v)
			}
		}
	}

	// The treemap is drawn by the script from the embedded tree: one cell
	// per top-level entry, with its bytes, and areas in proportion.
	cells := tagAttrs(dom, "cell")
	if len(cells) != len(r.Tree.Children) || len(cells) == 0 {
		t.Fatalf("%d treemap cells, want %d", len(cells), len(r.Tree.Children))
	}
	var sum int64
	for i, c := range r.Tree.Children {
		if cells[i]["data-name"] != c.Name || cells[i]["data-bytes"] != fmt.Sprint(c.Bytes) {
			t.Errorf("treemap cell %d: %s = %s bytes, want %s = %d", i, cells[i]["data-name"], cells[i]["data-bytes"], c.Name, c.Bytes)
		}
		sum += c.Bytes
	}
	if sum != r.TotalFileBytes {
		t.Errorf("treemap cells sum to %d, want %d", sum, r.TotalFileBytes)
	}
	areaRE := regexp.MustCompile(`width: ([0-9.]+)px; height: ([0-9.]+)px`)
	var areas []float64
	var totalArea float64
	for _, c := range cells {
		m := areaRE.FindStringSubmatch(c["style"])
		if m == nil {
			t.Fatalf("treemap cell without size: %q", c["style"])
		}
		w, _ := strconv.ParseFloat(m[1], 64)
		h, _ := strconv.ParseFloat(m[2], 64)
		areas = append(areas, w*h)
		totalArea += w * h
	}
	for i, c := range r.Tree.Children {
		share, want := areas[i]/totalArea, float64(c.Bytes)/float64(r.TotalFileBytes)
		if d := share - want; d > 0.01 || d < -0.01 {
			t.Errorf("treemap cell %s covers %.3f of the area, want %.3f", c.Name, share, want)
		}
	}

	// Inside the top-level directories, their own entries.
	want := map[string]bool{}
	for _, c := range r.Tree.Children {
		for _, g := range c.Children {
			want[g.Name+"="+fmt.Sprint(g.Bytes)] = true
		}
	}
	subs := tagAttrs(dom, "subcell")
	if len(subs) == 0 {
		t.Error("no nested treemap cells")
	}
	for _, s := range subs {
		if !want[s["data-name"]+"="+s["data-bytes"]] {
			t.Errorf("nested treemap cell %s = %s bytes is not in the report's tree", s["data-name"], s["data-bytes"])
		}
	}

	if n := len(tagAttrs(dom, "finding")); n != len(r.Findings) {
		t.Errorf("%d finding rows, want %d", n, len(r.Findings))
	}
	if n := len(tagAttrs(dom, "package")); n != len(r.Packages) {
		t.Errorf("%d package rows, want %d", n, len(r.Packages))
	}
	for _, id := range []string{`id="stat-wasted" data-bytes="` + fmt.Sprint(r.WastedBytes) + `"`, `id="stat-files" data-bytes="` + fmt.Sprint(r.TotalFileBytes) + `"`} {
		if !strings.Contains(dom, id) {
			t.Errorf("DOM lacks %s", id)
		}
	}
}
