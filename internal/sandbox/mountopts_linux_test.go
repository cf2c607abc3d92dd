package sandbox

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want mountOptions
	}{
		{"none", nil, mountOptions{}},
		{"proc", []string{"nosuid", "noexec", "nodev"}, mountOptions{flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV}},
		{"tmpfs data", []string{"nosuid", "strictatime", "mode=755", "size=65536k"}, mountOptions{flags: unix.MS_NOSUID | unix.MS_STRICTATIME, data: "mode=755,size=65536k"}},
		{"rbind ro", []string{"rbind", "ro"}, mountOptions{flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY}},
		{"later option clears", []string{"ro", "rw", "nosuid", "suid"}, mountOptions{}},
		{"propagation", []string{"bind", "rprivate", "slave"}, mountOptions{flags: unix.MS_BIND, propagation: []uintptr{unix.MS_PRIVATE | unix.MS_REC, unix.MS_SLAVE}}},
		{"devpts", []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}, mountOptions{flags: unix.MS_NOSUID | unix.MS_NOEXEC, data: "newinstance,ptmxmode=0666,mode=0620,gid=5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseMountOptions(tc.in)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(mountOptions{})); diff != "" {
				t.Errorf("parseMountOptions(%v) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestStatfsToMountFlags(t *testing.T) {
	got := statfsToMountFlags(unix.ST_RDONLY | unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC | unix.ST_RELATIME)
	want := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME)
	if got != want {
		t.Errorf("statfsToMountFlags = %#x, want %#x", got, want)
	}
}
