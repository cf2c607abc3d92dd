package analyze

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// demoImage is a small single-stage-style image: a Debian-like base with a
// shell and a dpkg database, then a build that leaves a compiler and waste.
func demoImage(t testing.TB) v1.Image {
	t.Helper()
	day := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	img := imageOfSteps(t, v1.Config{
		Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Cmd:          []string{"/app/server"},
	},
		step{createdBy: "# debian.sh --arch amd64 out/ bookworm", created: day, entries: []tf{
			dir("/usr"), dir("/usr/bin"), dir("/usr/lib"), symlink("/bin", "usr/bin"),
			exe("/usr/bin/dash", 125_000), symlink("/usr/bin/sh", "dash"), exe("/usr/bin/bash", 1_265_000),
			exe("/usr/bin/apt-get", 20_000), exe("/usr/bin/dpkg", 300_000),
			withMode(exe("/usr/bin/su", 70_000), 0o4755),
			sized("/usr/lib/libc.so.6", 1_900_000),
			withMode(dir("/tmp"), 0o1777),
			file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
			file("/var/lib/dpkg/status", "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b7\nArchitecture: amd64\n\nPackage: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\n"),
			file("/var/lib/dpkg/info/bash.list", "/bin/bash\n"),
			file("/var/lib/dpkg/info/libc6:amd64.list", "/usr/lib/libc.so.6\n"),
		}},
		step{createdBy: `/bin/sh -c #(nop)  CMD ["bash"]`, created: day},
		step{createdBy: "RUN /bin/sh -c apt-get update && apt-get install -y gcc # buildkit", created: day.Add(40 * 24 * time.Hour), entries: []tf{
			dir("/var/lib/apt/lists"), sized("/var/lib/apt/lists/deb_bookworm_main_Packages", 9_000_000),
			exe("/usr/bin/gcc-12", 1_000_000), symlink("/usr/bin/gcc", "gcc-12"),
		}},
		step{createdBy: "COPY . /src # buildkit", created: day.Add(40*24*time.Hour + time.Minute), entries: []tf{
			dir("/src"), sized("/src/main.go", 4_000), file("/src/deploy.key", testKey),
		}},
		step{createdBy: "RUN /bin/sh -c go build -o /app/server ./src && rm -rf /var/lib/apt/lists # buildkit", created: day.Add(40*24*time.Hour + 2*time.Minute), entries: []tf{
			dir("/app"), exe("/app/server", 6_500_000), whiteout("/var/lib/apt/lists"),
		}},
	)
	return mutate.Annotations(img, map[string]string{AnnotationBaseName: "debian:bookworm"}).(v1.Image)
}

func TestWriteText(t *testing.T) {
	r, err := Analyze(context.Background(), demoImage(t), "demo:single", Options{Top: 5})
	if err != nil {
		t.Fatal(err)
	}
	var plain, color bytes.Buffer
	if err := WriteText(&plain, r, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&color, r, true); err != nil {
		t.Fatal(err)
	}
	out := plain.String()
	if strings.Contains(out, "\x1b[") {
		t.Error("plain text has ANSI escapes")
	}
	if !strings.Contains(color.String(), "\x1b[") {
		t.Error("coloured text has no ANSI escapes")
	}
	for _, want := range []string{
		"demo:single", "8.6 MiB of 19.2 MiB in layers", "efficiency 55.4%",
		"1 layer from debian:bookworm (inferred from history: created-gap)",
		"/var/lib/apt/lists", // not in the final filesystem: must not be listed as a file
		"high      private-key      /src/deploy.key",
		"/usr/bin/gcc-12", "Move the compiler to a build stage",
		"bash", "5.2.15-2+b7",
	} {
		if want == "/var/lib/apt/lists" {
			if strings.Contains(out, "deb_bookworm_main_Packages") {
				t.Errorf("text lists a deleted file:\n%s", out)
			}
			continue
		}
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if testing.Verbose() {
		t.Logf("\n%s", out)
	}
}

func TestWriteJSON(t *testing.T) {
	r, err := Analyze(context.Background(), demoImage(t), "demo:single", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	// The documented schema: these fields must exist with these types.
	var doc struct {
		SchemaVersion *int `json:"schemaVersion"`
		Image         *struct {
			Digest *string `json:"digest"`
			Ref    *string `json:"ref"`
		} `json:"image"`
		Layers []struct {
			Digest         *string `json:"digest"`
			CompressedSize *int64  `json:"compressedSize"`
			Size           *int64  `json:"size"`
			Files          *int    `json:"files"`
			CreatedBy      *string `json:"createdBy"`
			FromBase       *bool   `json:"fromBase"`
		} `json:"layers"`
		TotalFileBytes *int64   `json:"totalFileBytes"`
		WastedBytes    *int64   `json:"wastedBytes"`
		Efficiency     *float64 `json:"efficiency"`
		Findings       []struct {
			Rule, Severity, Path, Advice *string
		} `json:"findings"`
		Packages []struct {
			Name    *string `json:"name"`
			Version *string `json:"version"`
			Bytes   *int64  `json:"bytes"`
		} `json:"packages"`
	}
	dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion == nil || *doc.SchemaVersion != SchemaVersion || doc.Image == nil || doc.Image.Digest == nil || *doc.Image.Ref != "demo:single" {
		t.Fatalf("schemaVersion or image missing: %s", buf.String()[:200])
	}
	if len(doc.Layers) != 4 || doc.TotalFileBytes == nil || doc.WastedBytes == nil || doc.Efficiency == nil {
		t.Fatalf("layers or totals missing")
	}
	for _, l := range doc.Layers {
		if l.Digest == nil || l.CompressedSize == nil || l.Size == nil || l.Files == nil || l.CreatedBy == nil || l.FromBase == nil {
			t.Errorf("layer field missing: %+v", l)
		}
	}
	for _, f := range doc.Findings {
		if f.Rule == nil || f.Severity == nil || f.Path == nil || f.Advice == nil {
			t.Errorf("finding field missing")
		}
	}
	if len(doc.Packages) != 2 {
		t.Errorf("packages: %d, want 2 (bash, libc6; the fake Go binary has no build information)", len(doc.Packages))
	}
	for _, p := range doc.Packages {
		if p.Name == nil || p.Version == nil || p.Bytes == nil {
			t.Errorf("package field missing")
		}
	}
	// Empty lists are [] (not null) so that CI scripts can iterate.
	empty, err := Analyze(context.Background(), imageOf(t, v1.Config{User: "1"}, []tf{dir("/d")}), "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := WriteJSON(&buf, empty); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"packages": []`, `"largestFiles": []`, `"notes": []`, `"exposedPorts": []`} {
		if !strings.Contains(buf.String(), field) {
			t.Errorf("JSON lacks %s:\n%s", field, buf.String())
		}
	}
}
