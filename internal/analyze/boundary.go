package analyze

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Manifest annotations whittle build writes to record the FROM boundary.
const (
	// AnnotationBaseName is the OCI annotation naming the base image.
	AnnotationBaseName = "org.opencontainers.image.base.name"
	// AnnotationBaseDigest is the OCI annotation holding the base image's
	// manifest digest.
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
	// AnnotationBaseLayers holds the number of leading layers that come
	// from the base image.
	AnnotationBaseLayers = "dev.whittle.base.layers"
)

// createdGap is the shortest pause between two history entries that is
// taken as the end of the base image's build and the start of this one.
const createdGap = time.Hour

// findBase returns the FROM boundary: from the manifest annotations when
// whittle build recorded them, otherwise inferred from the config history.
//
// The inference tries, in order:
//   - "created-gap": the last pause of at least an hour between two
//     history entries (a base is built days before the image that uses it;
//     a build's own steps follow each other within minutes);
//   - "buildkit-suffix": BuildKit ends created_by with "# buildkit"; when
//     the history starts with entries without it and then has only entries
//     with it, the first such entry starts the build;
//   - "base-cmd": a base image usually ends with CMD or ENTRYPOINT; the
//     last such entry that is followed by layers ends the base.
//
// Each can be wrong (a build reproducible with SOURCE_DATE_EPOCH has no
// gap; a base may set no CMD), which is why the report says "inferred".
func findBase(m *v1.Manifest, cfg *v1.ConfigFile, layers int) Base {
	b := Base{Source: "unknown"}
	if m != nil {
		b.Name = m.Annotations[AnnotationBaseName]
		b.Digest = m.Annotations[AnnotationBaseDigest]
		if s, ok := m.Annotations[AnnotationBaseLayers]; ok {
			if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= layers {
				b.Layers, b.Source = n, "annotation"
				return b
			}
		}
	}
	if cfg == nil || len(cfg.History) == 0 {
		return b
	}
	hist := cfg.History
	nonEmpty := 0
	for _, h := range hist {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	if nonEmpty != layers {
		return b // the history cannot be mapped onto the layers
	}
	for _, try := range []struct {
		method string
		find   func([]v1.History) int
	}{
		{"created-gap", boundaryByGap},
		{"buildkit-suffix", boundaryByBuildKit},
		{"base-cmd", boundaryByCmd},
	} {
		i := try.find(hist)
		if i <= 0 || i >= len(hist) {
			continue
		}
		base := layersBefore(hist, i)
		if base == 0 || base == layers {
			continue // a boundary that leaves one side without layers says nothing
		}
		b.Layers, b.Source, b.Method = base, "inferred", try.method
		return b
	}
	return b
}

// layersBefore counts the layer-making history entries before index i.
func layersBefore(hist []v1.History, i int) int {
	n := 0
	for _, h := range hist[:i] {
		if !h.EmptyLayer {
			n++
		}
	}
	return n
}

// boundaryByGap returns the index of the first entry after the last pause
// of at least createdGap, or -1. Pauses are counted both ways: a build
// with an old SOURCE_DATE_EPOCH goes back in time.
func boundaryByGap(hist []v1.History) int {
	at := -1
	for i := 1; i < len(hist); i++ {
		a, b := hist[i-1].Created.Time, hist[i].Created.Time
		if a.IsZero() || b.IsZero() {
			return -1
		}
		if math.Abs(float64(b.Sub(a))) >= float64(createdGap) {
			at = i
		}
	}
	return at
}

// boundaryByBuildKit returns the index of the first "# buildkit" entry when
// the entries before it have no such suffix and those after all have it.
func boundaryByBuildKit(hist []v1.History) int {
	first := -1
	for i, h := range hist {
		bk := strings.HasSuffix(strings.TrimSpace(h.CreatedBy), "# buildkit")
		switch {
		case bk && first < 0:
			first = i
		case !bk && first >= 0:
			return -1
		}
	}
	return first
}

// cmdEntry matches history entries made by CMD or ENTRYPOINT, in the
// classic builder's "/bin/sh -c #(nop)  CMD [...]" form and BuildKit's.
var cmdEntry = regexp.MustCompile(`^(/bin/sh -c #\(nop\)\s+)?(CMD|ENTRYPOINT)\b`)

// boundaryByCmd returns the index after the last CMD or ENTRYPOINT entry
// that is followed by a layer-making entry, or -1.
func boundaryByCmd(hist []v1.History) int {
	at := -1
	for i, h := range hist {
		if cmdEntry.MatchString(strings.TrimSpace(h.CreatedBy)) && layersBefore(hist, len(hist))-layersBefore(hist, i+1) > 0 {
			at = i + 1
		}
	}
	return at
}
