package output

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Spec
		err  string
	}{
		{in: "type=oci,dest=out", want: Spec{Type: TypeOCI, Dest: "out", Attrs: map[string]string{}}},
		{in: "type=oci,dest=out.tar,tar=true", want: Spec{Type: TypeOCI, Dest: "out.tar", Attrs: map[string]string{"tar": "true"}}},
		{in: "type=docker,dest=app.tar,name=app:1", want: Spec{Type: TypeDocker, Dest: "app.tar", Attrs: map[string]string{"name": "app:1"}}},
		{in: `type=image,"name=a:1,b:2",push=true`, want: Spec{Type: TypeImage, Attrs: map[string]string{"name": "a:1,b:2", "push": "true"}}},
		{in: "type=registry,name=127.0.0.1:5000/app", want: Spec{Type: TypeRegistry, Attrs: map[string]string{"name": "127.0.0.1:5000/app"}}},
		{in: "type=tar,dest=-", want: Spec{Type: TypeTar, Dest: "-", Attrs: map[string]string{}}},
		{in: "type=local,dest=./out", want: Spec{Type: TypeLocal, Dest: "./out", Attrs: map[string]string{}}},
		{in: "./out", want: Spec{Type: TypeLocal, Dest: "./out", Attrs: map[string]string{}}},
		{in: "-", want: Spec{Type: TypeTar, Dest: "-", Attrs: map[string]string{}}},
		{in: "", err: "empty"},
		{in: "dest=x", err: "no type="},
		{in: "type=cacheonly", err: `unknown type "cacheonly"`},
		{in: "type=oci", err: "needs dest="},
		{in: "type=local,dest=-", err: "type=tar,dest=-"},
		{in: "type=image,dest=x", err: "takes no dest="},
		{in: "type=tar,dest=x,name=y", err: "takes only dest="},
		{in: "type=oci,dest=x,compression=zstd", err: "does not support compression="},
		{in: "type=image,push=maybe", err: "want true or false"},
		{in: "type=docker,dest=x,tar=false", err: "tar only"},
		{in: "type=registry,name=x,push=false", err: "always pushes"},
		{in: "type=oci,novalue", err: "not key=value"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse(%q) = %+v, %v; want an error containing %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tc.in, diff)
			}
			// String gives back what Parse reads.
			again, err := Parse(got.String())
			if err != nil {
				t.Fatalf("Parse(%q): %v", got.String(), err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("round trip through %q (-want +got):\n%s", got.String(), diff)
			}
		})
	}
}

func TestSpecNames(t *testing.T) {
	s, _ := Parse(`type=image,"name=a:1, b:2"`)
	if got := s.Names([]string{"x"}); !cmp.Equal(got, []string{"a:1", "b:2"}) {
		t.Errorf("name= attribute: %v", got)
	}
	s, _ = Parse("type=image")
	if got := s.Names([]string{"x"}); !cmp.Equal(got, []string{"x"}) {
		t.Errorf("no name=: %v", got)
	}
}
