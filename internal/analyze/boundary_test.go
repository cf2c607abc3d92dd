package analyze

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

func TestBase(t *testing.T) {
	day := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	later := day.Add(30 * 24 * time.Hour)
	l := []tf{dir("/x")}
	for _, tc := range []struct {
		name        string
		steps       []step
		annotations map[string]string
		want        Base
		fromBase    []bool
	}{
		{
			name: "annotation",
			steps: []step{
				{createdBy: "a", entries: l}, {createdBy: "b", entries: l}, {createdBy: "c", entries: l},
			},
			annotations: map[string]string{AnnotationBaseLayers: "2", AnnotationBaseName: "debian:bookworm", AnnotationBaseDigest: "sha256:abc"},
			want:        Base{Name: "debian:bookworm", Digest: "sha256:abc", Layers: 2, Source: "annotation"},
			fromBase:    []bool{true, true, false},
		},
		{
			name: "annotation out of range falls back to history",
			steps: []step{
				{createdBy: "a", created: day, entries: l}, {createdBy: "b", created: later, entries: l},
			},
			annotations: map[string]string{AnnotationBaseLayers: "7"},
			want:        Base{Layers: 1, Source: "inferred", Method: "created-gap"},
			fromBase:    []bool{true, false},
		},
		{
			name: "created gap, the last one wins",
			steps: []step{
				{createdBy: "ADD rootfs.tar /", created: day.Add(-90 * 24 * time.Hour), entries: l},
				{createdBy: "RUN install toolchain", created: day, entries: l},
				{createdBy: "ENV PATH=/go/bin", created: day},
				{createdBy: "COPY . /src", created: later, entries: l},
				{createdBy: "RUN go build", created: later.Add(time.Minute), entries: l},
			},
			want:     Base{Layers: 2, Source: "inferred", Method: "created-gap"},
			fromBase: []bool{true, true, false, false},
		},
		{
			name: "SOURCE_DATE_EPOCH goes back in time",
			steps: []step{
				{createdBy: "base", created: later, entries: l},
				{createdBy: "build", created: time.Unix(0, 0), entries: l},
			},
			want:     Base{Layers: 1, Source: "inferred", Method: "created-gap"},
			fromBase: []bool{true, false},
		},
		{
			name: "buildkit suffix",
			steps: []step{
				{createdBy: "/bin/sh -c #(nop) ADD file:abc in / ", created: day, entries: l},
				{createdBy: `/bin/sh -c #(nop)  CMD ["bash"]`, created: day},
				{createdBy: "RUN /bin/sh -c apt-get update # buildkit", created: day, entries: l},
				{createdBy: "COPY app /app # buildkit", created: day, entries: l},
			},
			want:     Base{Layers: 1, Source: "inferred", Method: "buildkit-suffix"},
			fromBase: []bool{true, false, false},
		},
		{
			name: "base CMD",
			steps: []step{
				{createdBy: "ADD rootfs / # buildkit", created: day, entries: l},
				{createdBy: "RUN setup # buildkit", created: day, entries: l},
				{createdBy: `CMD ["/bin/sh"] # buildkit`, created: day},
				{createdBy: "COPY app /app # buildkit", created: day, entries: l},
				{createdBy: `ENTRYPOINT ["/app"] # buildkit`, created: day},
			},
			want:     Base{Layers: 2, Source: "inferred", Method: "base-cmd"},
			fromBase: []bool{true, true, false},
		},
		{
			name: "nothing to infer",
			steps: []step{
				{createdBy: "COPY app /app", created: day, entries: l},
				{createdBy: "COPY etc /etc", created: day, entries: l},
			},
			want:     Base{Source: "unknown"},
			fromBase: []bool{false, false},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := imageOfSteps(t, v1.Config{User: "1"}, tc.steps...)
			if tc.annotations != nil {
				img = mutate.Annotations(img, tc.annotations).(v1.Image)
			}
			r, err := Analyze(context.Background(), img, "", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, r.Base); diff != "" {
				t.Errorf("base (-want +got):\n%s", diff)
			}
			var got []bool
			for _, l := range r.Layers {
				got = append(got, l.FromBase)
			}
			if diff := cmp.Diff(tc.fromBase, got); diff != "" {
				t.Errorf("fromBase (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLayerDescription(t *testing.T) {
	img := imageOfSteps(t, v1.Config{User: "1"},
		step{createdBy: "ADD rootfs /", entries: []tf{dir("/etc"), sized("/etc/a", 10), symlink("/etc/b", "a"), hardlink("/etc/c", "/etc/a")}},
		step{createdBy: "ENV X=1"},
		step{createdBy: "RUN rm /etc/a", entries: []tf{whiteout("/etc/a"), opaque("/var")}},
	)
	r, err := Analyze(context.Background(), img, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var want []Layer
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		n, err := countBytes(rc)
		if err != nil {
			t.Fatal(err)
		}
		diffID, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, Layer{Index: i, Digest: m.Layers[i].Digest.String(), DiffID: diffID.String(), MediaType: string(m.Layers[i].MediaType),
			CompressedSize: m.Layers[i].Size, Size: n})
	}
	want[0].Files, want[0].FileBytes, want[0].CreatedBy = 3, 10, "ADD rootfs /"
	want[1].Whiteouts, want[1].CreatedBy = 2, "RUN rm /etc/a"
	if diff := cmp.Diff(want, r.Layers); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}
	if r.CompressedSize != want[0].CompressedSize+want[1].CompressedSize || r.Size != want[0].Size+want[1].Size {
		t.Errorf("sizes %d/%d do not add up", r.CompressedSize, r.Size)
	}
}
