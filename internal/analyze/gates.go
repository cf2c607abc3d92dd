package analyze

import (
	"fmt"
	"strings"
)

// GateFailure is one CI gate that a report fails.
type GateFailure struct {
	// Gate is "max-size", "max-compressed-size", "max-wasted",
	// "min-efficiency" or "forbid:<rule>".
	Gate string `json:"gate"`
	// Message says what failed, with the limit and the actual value.
	Message string `json:"message"`
}

// Error implements error, so a caller can return a failure as is.
func (g GateFailure) Error() string { return g.Message }

// Gates checks r against the gates in opts (MaxSize, MaxCompressedSize,
// MaxWasted, MinEfficiency, Forbid) and returns the failures, in that
// order; none means the image passes. A CLI exits non-zero on any.
func (r *Report) Gates(opts Options) []GateFailure {
	var out []GateFailure
	if opts.MaxSize > 0 && r.Size > opts.MaxSize {
		out = append(out, GateFailure{"max-size", fmt.Sprintf("image size %s exceeds --max-size %s", sizeAndBytes(r.Size), sizeAndBytes(opts.MaxSize))})
	}
	if opts.MaxCompressedSize > 0 && r.CompressedSize > opts.MaxCompressedSize {
		out = append(out, GateFailure{"max-compressed-size", fmt.Sprintf("compressed size %s exceeds --max-compressed-size %s", sizeAndBytes(r.CompressedSize), sizeAndBytes(opts.MaxCompressedSize))})
	}
	if opts.MaxWasted > 0 && r.WastedBytes > opts.MaxWasted {
		out = append(out, GateFailure{"max-wasted", fmt.Sprintf("wasted bytes %s exceed --max-wasted %s", sizeAndBytes(r.WastedBytes), sizeAndBytes(opts.MaxWasted))})
	}
	if opts.MinEfficiency > 0 && r.Efficiency < opts.MinEfficiency {
		out = append(out, GateFailure{"min-efficiency", fmt.Sprintf("efficiency %.1f%% is below the minimum %.1f%%", 100*r.Efficiency, 100*opts.MinEfficiency)})
	}
	for _, rule := range opts.Forbid {
		var paths []string
		for _, f := range r.Findings {
			if f.Rule == rule {
				paths = append(paths, f.Path)
			}
		}
		if len(paths) == 0 {
			continue
		}
		shown := paths
		if len(shown) > 3 {
			shown = append(shown[:3:3], fmt.Sprintf("and %d more", len(paths)-3))
		}
		out = append(out, GateFailure{"forbid:" + rule, fmt.Sprintf("forbidden rule %s: %d finding(s): %s", rule, len(paths), strings.Join(shown, ", "))})
	}
	return out
}

// sizeAndBytes formats n for a gate message: humanised in binary units and
// exact, since a limit given as "100MB" (decimal) shows as "95.4 MiB".
func sizeAndBytes(n int64) string {
	return fmt.Sprintf("%s (%d bytes)", HumanSize(n), n)
}
