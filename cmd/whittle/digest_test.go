package main

import (
	"bytes"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/output"
)

// TestPrintDigest: --quiet prints the digest on standard output, except
// when an output writes its archive there (build and base share this).
func TestPrintDigest(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: "0123"}
	for _, tc := range []struct {
		name             string
		outputs          []output.Spec
		wantOut, wantErr string
	}{
		{"store", nil, "sha256:0123\n", ""},
		{"to a file", []output.Spec{{Dest: "out.tar"}}, "sha256:0123\n", ""},
		{"to stdout", []output.Spec{{Dest: "out"}, {Dest: "-"}}, "", "sha256:0123\n"},
	} {
		var stdout, stderr bytes.Buffer
		printDigest(&stdout, &stderr, tc.outputs, d)
		if stdout.String() != tc.wantOut || stderr.String() != tc.wantErr {
			t.Errorf("%s: stdout %q, stderr %q; want %q, %q", tc.name, stdout.String(), stderr.String(), tc.wantOut, tc.wantErr)
		}
	}
}
