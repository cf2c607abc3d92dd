package inspect

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

func TestOfAndWrite(t *testing.T) {
	base, err := random.Image(100, 2)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Config(base, v1.Config{Labels: map[string]string{"a": "b"}, Cmd: []string{"x", "y"}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := Of(img, []string{"app:1", "localhost:5000/app:2", "app@sha256:" + strings.Repeat("0", 64)})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigName()
	d, _ := img.Digest()
	m, _ := img.Manifest()
	size := m.Config.Size + m.Layers[0].Size + m.Layers[1].Size
	if info.ID != cfg.String() || info.Descriptor.Digest != d || info.Size != size || len(info.RootFS.Layers) != 2 {
		t.Errorf("Of: %+v; want id %s, digest %s, size %d", info, cfg, d, size)
	}
	if want := []string{"app@" + d.String(), "localhost:5000/app@" + d.String()}; strings.Join(info.RepoDigests, " ") != strings.Join(want, " ") {
		t.Errorf("RepoDigests = %q, want %q", info.RepoDigests, want)
	}

	var b bytes.Buffer
	if err := Write(&b, []*Image{info}, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "[\n    {\n        \"Id\": ") {
		t.Errorf("JSON output starts %q", b.String()[:min(40, b.Len())])
	}
	var back []map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 1 || back[0]["Config"].(map[string]any)["Labels"].(map[string]any)["a"] != "b" {
		t.Errorf("JSON output does not read back: %v\n%s", err, b.String())
	}

	b.Reset()
	if err := Write(&b, []*Image{info, info}, `{{json .Config.Cmd}} {{join .Config.Cmd ","}} {{upper .Config.Labels.a}} {{lower "X"}} {{len (split "a:b" ":")}}`); err != nil {
		t.Fatal(err)
	}
	if want := "[\"x\",\"y\"] x,y B x 2\n[\"x\",\"y\"] x,y B x 2\n"; b.String() != want {
		t.Errorf("template output %q, want %q", b.String(), want)
	}
	if _, err := Template("{{.Broken"); err == nil || !strings.Contains(err.Error(), `--format "{{.Broken"`) {
		t.Errorf("a broken template: %v", err)
	}
}
