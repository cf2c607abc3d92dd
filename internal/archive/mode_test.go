package archive

import (
	"io/fs"
	"testing"
)

func TestFileModeBits(t *testing.T) {
	for bits, want := range map[uint32]fs.FileMode{
		0o755:    0o755,
		0o4755:   fs.ModeSetuid | 0o755,
		0o2750:   fs.ModeSetgid | 0o750,
		0o1777:   fs.ModeSticky | 0o777,
		0o7000:   fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky,
		0o100644: 0o644, // the file type is not a permission
	} {
		if got := FileMode(bits); got != want {
			t.Errorf("FileMode(%o) = %v, want %v", bits, got, want)
		}
		if back := ModeBits(want); back != bits&0o7777 {
			t.Errorf("ModeBits(%v) = %o, want %o", want, back, bits&0o7777)
		}
	}
	if got := ModeBits(fs.ModeDir | 0o700); got != 0o700 {
		t.Errorf("ModeBits(dir 0700) = %o, want 700", got)
	}
}
