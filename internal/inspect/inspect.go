// Package inspect is `docker image inspect`'s view of an image: the JSON
// document docker prints (the fields a single-platform OCI or Docker image
// has), and docker's --format templates over it.
package inspect

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image is one image as `docker image inspect` prints it.
type Image struct {
	// ID is the config's digest, as docker's image ID.
	ID string `json:"Id"`
	// RepoTags are the names the image has in the local store.
	RepoTags []string `json:"RepoTags"`
	// RepoDigests are those names' repositories with the manifest digest.
	RepoDigests  []string  `json:"RepoDigests"`
	Created      string    `json:"Created"`
	Author       string    `json:"Author"`
	Config       v1.Config `json:"Config"`
	Architecture string    `json:"Architecture"`
	Variant      string    `json:"Variant,omitempty"`
	Os           string    `json:"Os"`
	OsVersion    string    `json:"OsVersion,omitempty"`
	// Size is what the image's blobs take: config and compressed layers.
	Size   int64  `json:"Size"`
	RootFS RootFS `json:"RootFS"`
	// Descriptor is the manifest's, as docker's containerd image store
	// shows it.
	Descriptor v1.Descriptor `json:"Descriptor"`
}

// RootFS lists the layers by diffID.
type RootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers"`
}

// Of describes img, which the local store names tags (none when it is not
// in the store).
func Of(img v1.Image, tags []string) (*Image, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	out := &Image{
		ID:           cfgName.String(),
		RepoTags:     append([]string{}, tags...),
		RepoDigests:  []string{},
		Author:       cfg.Author,
		Config:       cfg.Config,
		Architecture: cfg.Architecture,
		Variant:      cfg.Variant,
		Os:           cfg.OS,
		OsVersion:    cfg.OSVersion,
		Size:         m.Config.Size,
		RootFS:       RootFS{Type: "layers", Layers: []string{}},
		Descriptor:   v1.Descriptor{MediaType: m.MediaType, Digest: digest, Size: int64(len(raw)), Annotations: m.Annotations},
	}
	if out.Descriptor.MediaType == "" {
		out.Descriptor.MediaType, _ = img.MediaType()
	}
	if !cfg.Created.IsZero() {
		out.Created = cfg.Created.Time.UTC().Format(time.RFC3339Nano)
	}
	for _, l := range m.Layers {
		out.Size += l.Size
	}
	for _, d := range cfg.RootFS.DiffIDs {
		out.RootFS.Layers = append(out.RootFS.Layers, d.String())
	}
	seen := map[string]bool{}
	for _, t := range tags {
		ref, err := name.ParseReference(t, name.WeakValidation)
		if err != nil {
			continue
		}
		// The repository as the name writes it ("app", not
		// "index.docker.io/library/app"), as docker shows it.
		repo, _, _ := strings.Cut(strings.TrimSuffix(t, ":"+ref.Identifier()), "@")
		d := repo + "@" + digest.String()
		if !seen[d] {
			seen[d] = true
			out.RepoDigests = append(out.RepoDigests, d)
		}
	}
	return out, nil
}

// Write prints images as docker does: a JSON array indented by four
// spaces, or with a --format template, each image through it on a line of
// its own.
func Write(w io.Writer, images []*Image, format string) error {
	if format == "" || format == "json" {
		b, err := json.MarshalIndent(images, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	tmpl, err := Template(format)
	if err != nil {
		return err
	}
	for _, img := range images {
		if err := tmpl.Execute(w, img); err != nil {
			return fmt.Errorf("--format %q: %w", format, err)
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
	}
	return nil
}

// Template parses a --format template with docker's functions: json,
// join, split, lower, upper, println.
func Template(format string) (*template.Template, error) {
	funcs := template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"join":    strings.Join,
		"split":   strings.Split,
		"lower":   strings.ToLower,
		"upper":   strings.ToUpper,
		"println": fmt.Sprintln,
	}
	t, err := template.New("format").Funcs(funcs).Option("missingkey=zero").Parse(format)
	if err != nil {
		return nil, fmt.Errorf("--format %q: %w", format, err)
	}
	return t, nil
}
