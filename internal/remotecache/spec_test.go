package remotecache

import (
	"reflect"
	"strings"
	"testing"

	"github.com/whittle-build/whittle/internal/archive"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		to       bool
		want     Spec
		err      bool
	}{
		{"registry min", "type=registry,ref=reg.example/app:cache", true, Spec{Type: TypeRegistry, Ref: "reg.example/app:cache", Mode: ModeMin}, false},
		{"registry max mounts", "type=registry,ref=r/a,mode=max,mounts=true,ignore-error=true,compression=zstd", true,
			Spec{Type: TypeRegistry, Ref: "r/a", Mode: ModeMax, Mounts: true, IgnoreError: true, Compression: archive.Zstd}, false},
		{"buildkit attrs accepted", "type=registry,ref=r/a,oci-mediatypes=true,image-manifest=true", true, Spec{Type: TypeRegistry, Ref: "r/a", Mode: ModeMin}, false},
		{"bare ref to", "reg.example/app:cache", true, Spec{Type: TypeRegistry, Ref: "reg.example/app:cache", Mode: ModeMin}, false},
		{"bare ref from", "reg.example/app:cache", false, Spec{Type: TypeRegistry, Ref: "reg.example/app:cache", Mode: ModeMin, Mounts: true}, false},
		{"local to", "type=local,dest=/c", true, Spec{Type: TypeLocal, Dir: "/c", Tag: DefaultTag, Mode: ModeMin}, false},
		{"local from tag", "type=local,src=/c,tag=v2", false, Spec{Type: TypeLocal, Dir: "/c", Tag: "v2", Mode: ModeMin, Mounts: true}, false},
		{"from without mounts", "type=registry,ref=r/a,mounts=false", false, Spec{Type: TypeRegistry, Ref: "r/a", Mode: ModeMin}, false},
		{"local to wants dest", "type=local,src=/c", true, Spec{}, true},
		{"local from wants src", "type=local,dest=/c", false, Spec{}, true},
		{"mode only on export", "type=registry,ref=r/a,mode=max", false, Spec{}, true},
		{"bad mode", "type=registry,ref=r/a,mode=all", true, Spec{}, true},
		{"bad bool", "type=registry,ref=r/a,mounts=yes please", true, Spec{}, true},
		{"no ref", "type=registry", true, Spec{}, true},
		{"unknown type", "type=s3,bucket=x", true, Spec{}, true},
		{"no type", "ref=r/a", true, Spec{}, true},
		{"unknown attr", "type=registry,ref=r/a,colour=blue", true, Spec{}, true},
		{"bad compression", "type=registry,ref=r/a,compression=brotli", true, Spec{}, true},
		{"not key=value", "type=registry,ref", true, Spec{}, true},
		{"empty", "", true, Spec{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parse := ParseFrom
			if tc.to {
				parse = ParseTo
			}
			got, err := parse(tc.in)
			if tc.err {
				if err == nil {
					t.Fatalf("parsed %q as %+v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parsed %q as %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// TestParseOtherBackends: BuildKit's other cache backends get an error that
// says what to use instead.
func TestParseOtherBackends(t *testing.T) {
	for in, want := range map[string]string{
		"type=inline":                   "--cache-to type=registry,ref=REPO:buildcache,mode=max",
		"type=gha,scope=main":           "type=gha is not supported: use type=registry",
		"type=s3,bucket=x,region=eu":    "type=s3 is not supported: use type=registry",
		"type=azblob,account_url=https": "type=azblob is not supported",
		"type=bogus":                    `unknown type "bogus"`,
	} {
		if _, err := ParseTo(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTo(%q) = %v, want an error saying %q", in, err, want)
		}
	}
}
