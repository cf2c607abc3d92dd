package resolve

import v1 "github.com/google/go-containerregistry/pkg/v1"

// configDiffIDs wraps an image whose layers do not know their diffIDs (an
// OCI layout's, a docker archive's): its layers report the diffIDs the config lists, so that
// writing it into the store does not decompress every layer to learn them.
// A config that lies is caught when the store unpacks the layer, which
// checks the content against the diffID.
type configDiffIDs struct{ v1.Image }

var _ v1.Image = configDiffIDs{}

// Layers implements v1.Image.
func (i configDiffIDs) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	cfg, err := i.Image.ConfigFile()
	if err != nil {
		return nil, err
	}
	if len(cfg.RootFS.DiffIDs) != len(ls) {
		return ls, nil
	}
	out := make([]v1.Layer, len(ls))
	for n, l := range ls {
		out[n] = diffIDLayer{Layer: l, diffID: cfg.RootFS.DiffIDs[n]}
	}
	return out, nil
}

// diffIDLayer is a layer with its diffID known.
type diffIDLayer struct {
	v1.Layer
	diffID v1.Hash
}

// DiffID implements v1.Layer.
func (l diffIDLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
