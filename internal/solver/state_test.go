package solver

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
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
