package solver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/export"
	"github.com/whittle-build/whittle/internal/plan"
)

// State is a stage's result so far: layers and image config. It is what a
// cache record stores; since keys leave the config out (opKey), a hit
// takes only the record's layers and time (withRecord).
type State struct {
	// Key is the cache key of the operation that produced the state.
	Key v1.Hash `json:"key"`
	// Layers are bottom first.
	Layers []export.Layer `json:"layers"`
	// Config is the image config, history included. Its rootfs is filled in
	// when the image is exported.
	Config v1.ConfigFile `json:"config"`
	// Base describes the image the stage chain started from, if any.
	Base *BaseInfo `json:"base,omitempty"`
	// rerun marks a state made, or built on one made, by an operation that
	// ran with the cache bypassed (--no-cache, --no-cache-filter): the
	// operations after it run too, as BuildKit's consumers cannot match
	// cache records through a dependency that was forced to re-run. What
	// reads such a state by content (COPY --from, mounts) is keyed by that
	// content and may still hit.
	rerun bool
}

// BaseInfo is the image a result was built on, recorded as manifest
// annotations so that analyzers can tell base layers from built ones.
type BaseInfo struct {
	Name   string  `json:"name"`
	Digest v1.Hash `json:"digest"`
	// Layers is how many of the first layers come from the base image.
	Layers int `json:"layers"`
}

func (s *State) clone() *State {
	c := *s
	c.Layers = append([]export.Layer(nil), s.Layers...)
	c.Config.History = append([]v1.History(nil), s.Config.History...)
	return &c
}

// contentDigest identifies the state's filesystem: a digest of its layers'
// diffIDs. What reads another stage's files (COPY --from, RUN --mount
// from=) is keyed by it, not by the stage's key, so that it runs again
// when the stage ran again and made other files (--no-cache-filter, or
// --no-cache with another --target), and stays cached when the stage made
// the same files again.
func (s *State) contentDigest() string {
	h := sha256.New()
	for _, l := range s.Layers {
		fmt.Fprintln(h, l.DiffID)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// withConfig returns the state after a config-only operation: new config,
// a history entry without a layer, the same key (see opKey). The entry's
// time is the epoch when given, else left for normalizeHistory to fill in.
func (s *State) withConfig(op *plan.Op, epoch *time.Time) *State {
	n := s.clone()
	n.Config.Config = op.Config
	n.Config.Author = op.Author
	// ONBUILD records no history, as in BuildKit: the frontend leaves its
	// CreatedBy empty.
	if op.CreatedBy != "" {
		h := v1.History{CreatedBy: op.CreatedBy, Comment: historyComment, EmptyLayer: true}
		if epoch != nil {
			h.Created = v1.Time{Time: *epoch}
		}
		n.Config.History = append(n.Config.History, h)
	}
	return n
}

// normalizeHistory gives history entries without a time one, as BuildKit's
// exporter does: entries before the first new layer get that layer's time,
// later ones the time of the entry before them. The image's created time
// becomes the last entry's. A cached rebuild therefore gives the same
// config, and the same image digest.
func normalizeHistory(cfg *v1.ConfigFile) {
	var first time.Time
	missing := false
	for _, h := range cfg.History {
		if h.Created.IsZero() {
			missing = true
			continue
		}
		first = h.Created.Time
		if missing {
			break
		}
	}
	// The base image's entries come before the first one without a time
	// and must not lend theirs to the build's entries.
	prev, missing := first, false
	for i := range cfg.History {
		h := &cfg.History[i]
		if h.Created.IsZero() {
			missing = true
			h.Created = v1.Time{Time: prev}
		} else if missing {
			prev = h.Created.Time
		}
	}
	if n := len(cfg.History); n > 0 {
		cfg.Created = cfg.History[n-1].Created
	}
}

// withLayer returns the state after an operation that changed the
// filesystem (layer != nil) or ran without changing it (layer == nil: the
// history entry is marked empty, as BuildKit does).
func (s *State) withLayer(key v1.Hash, op *plan.Op, created time.Time, layer *export.Layer) *State {
	n := s.clone()
	n.Key = key
	n.Config.Config = op.Config
	n.Config.Author = op.Author
	h := v1.History{CreatedBy: op.CreatedBy, Created: v1.Time{Time: created}, Comment: historyComment, EmptyLayer: layer == nil}
	n.Config.History = append(n.Config.History, h)
	n.Config.Created = v1.Time{Time: created}
	if layer != nil {
		n.Layers = append(n.Layers, *layer)
	}
	return n
}

// withRecord returns the state after op found in the cache as rec, the
// state a build made from the same key: rec's layers (this state's, and
// the one op made, if any) and the time of its last history entry, with
// the config and history of op as this build has them, since the key
// leaves those out. ok is false when rec's layers do not extend this
// state's by at most one.
func (s *State) withRecord(key v1.Hash, op *plan.Op, rec *State) (*State, bool) {
	if len(rec.Layers) < len(s.Layers) || len(rec.Layers) > len(s.Layers)+1 || len(rec.Config.History) == 0 {
		return nil, false
	}
	for i, l := range s.Layers {
		if rec.Layers[i].DiffID != l.DiffID {
			return nil, false
		}
	}
	var layer *export.Layer
	if len(rec.Layers) > len(s.Layers) {
		layer = &rec.Layers[len(s.Layers)]
	}
	created := rec.Config.History[len(rec.Config.History)-1].Created.Time
	return s.withLayer(key, op, created, layer), true
}

// historyComment marks history entries whittle made, as BuildKit writes
// "buildkit.dockerfile.v0".
const historyComment = "buildkit.dockerfile.v0"
