package solver

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/export"
	"github.com/whittle-build/whittle/internal/plan"
)

func TestNormalizeHistory(t *testing.T) {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t1, t2 := base.AddDate(2, 0, 0), base.AddDate(2, 0, 1)
	var zero time.Time
	tests := []struct {
		name string
		in   []time.Time // each history entry's time, zero for none
		want []time.Time
	}{
		// BuildKit's exporter: a first metadata step does not take the
		// base image's time, but the first new layer's.
		{"metadata before the first layer", []time.Time{base, zero, zero, t1, zero}, []time.Time{base, t1, t1, t1, t1}},
		{"metadata between layers", []time.Time{base, base, zero, t1, zero, t2, zero}, []time.Time{base, base, t1, t1, t1, t2, t2}},
		{"only metadata", []time.Time{base, zero, zero}, []time.Time{base, base, base}},
		{"all timed", []time.Time{base, t1, t2}, []time.Time{base, t1, t2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &v1.ConfigFile{}
			for _, c := range tt.in {
				cfg.History = append(cfg.History, v1.History{Created: v1.Time{Time: c}})
			}
			normalizeHistory(cfg)
			var got []time.Time
			for _, h := range cfg.History {
				got = append(got, h.Created.Time)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("history times (-want +got):\n%s", diff)
			}
			if !cfg.Created.Time.Equal(tt.want[len(tt.want)-1]) {
				t.Errorf("created %v, want the last entry's %v", cfg.Created.Time, tt.want[len(tt.want)-1])
			}
		})
	}
}

// TestWithRecord: a cache hit takes the record's layers and time but the
// config and history text of the op as built now; a record whose layers do
// not extend the state's by at most one is no hit.
func TestWithRecord(t *testing.T) {
	h := func(s string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: s} }
	old := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	parent := &State{Layers: []export.Layer{{DiffID: h("a")}}, Config: v1.ConfigFile{History: []v1.History{{CreatedBy: "base"}}}}
	op := &plan.Op{Kind: plan.KindCopy, CreatedBy: "COPY x /x # buildkit", Config: v1.Config{Labels: map[string]string{"v": "new"}}}
	rec := func(layers ...string) *State {
		r := &State{Config: v1.ConfigFile{
			Config:  v1.Config{Labels: map[string]string{"v": "old"}},
			History: []v1.History{{CreatedBy: "base"}, {CreatedBy: "LABEL v=old"}, {CreatedBy: "COPY y /x # buildkit", Created: v1.Time{Time: old}}},
		}}
		for _, l := range layers {
			r.Layers = append(r.Layers, export.Layer{DiffID: h(l)})
		}
		return r
	}
	key := h("k")
	got, ok := parent.withRecord(key, op, rec("a", "b"))
	if !ok {
		t.Fatal("a record adding one layer is no hit")
	}
	if got.Key != key || len(got.Layers) != 2 || got.Layers[1].DiffID != h("b") || got.Config.Config.Labels["v"] != "new" {
		t.Errorf("hit = key %v, layers %v, labels %v; want k, [a b], v=new", got.Key, got.Layers, got.Config.Config.Labels)
	}
	want := []v1.History{{CreatedBy: "base"}, {CreatedBy: op.CreatedBy, Created: v1.Time{Time: old}, Comment: historyComment}}
	if diff := cmp.Diff(want, got.Config.History); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	empty, ok := parent.withRecord(key, op, rec("a"))
	if !ok || len(empty.Layers) != 1 || !empty.Config.History[1].EmptyLayer {
		t.Errorf("a record without a new layer: ok %v, state %+v; want a hit marked empty_layer", ok, empty)
	}
	for _, layers := range [][]string{{"x", "b"}, {"a", "b", "c"}, {}} {
		if _, ok := parent.withRecord(key, op, rec(layers...)); ok {
			t.Errorf("a record with layers %v is a hit on a state with [a]", layers)
		}
	}
}

// TestStageName: progress names as BuildKit v0.34.2 writes them.
func TestStageName(t *testing.T) {
	for _, tt := range []struct {
		label string
		i, n  int
		want  string
	}{
		{"build", 2, 4, "[build 2/4]"},
		{"", 2, 4, "[2/4]"},
		{"stage-1", 2, 12, "[stage-1  2/12]"},
		{"linux/arm64 build", 10, 12, "[linux/arm64 build 10/12]"},
	} {
		if got := stageName(tt.label, tt.i, tt.n); got != tt.want {
			t.Errorf("stageName(%q, %d, %d) = %q, want %q", tt.label, tt.i, tt.n, got, tt.want)
		}
	}
}
