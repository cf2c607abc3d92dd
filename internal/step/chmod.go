package step

import (
	"fmt"
	"io/fs"
	"strconv"

	mode "github.com/tonistiigi/dchapes-mode"

	"github.com/whittle-build/whittle/internal/archive"
)

// chmodSpec is a parsed --chmod: octal ("755") or symbolic ("u+rwx,g=rx,o-w",
// "+x"), with the parser BuildKit uses for symbolic modes.
type chmodSpec struct {
	// octal is set for an octal mode, which also applies to the
	// directories COPY creates.
	octal *fs.FileMode
	set   mode.Set
}

func parseChmod(s string) (*chmodSpec, error) {
	if s == "" {
		return nil, nil
	}
	if n, err := strconv.ParseUint(s, 8, 32); err == nil {
		if n > 0o7777 {
			return nil, fmt.Errorf("--chmod=%s: mode out of range", s)
		}
		m := archive.FileMode(uint32(n))
		return &chmodSpec{octal: &m}, nil
	}
	set, err := mode.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("--chmod=%s: invalid mode: use octal (0755) or symbolic (u+x,go-w): %w", s, err)
	}
	return &chmodSpec{set: set}, nil
}

// apply returns the mode a file with mode m gets.
func (c *chmodSpec) apply(m fs.FileMode, isDir bool) fs.FileMode {
	if c.octal != nil {
		return *c.octal
	}
	in := m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if isDir {
		in |= fs.ModeDir // for X
	}
	return c.set.Apply(in) & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}
