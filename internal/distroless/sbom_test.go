package distroless

import (
	"bytes"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
)

func testSBOMInput(t *testing.T) ([]*packageLayer, SBOMInfo) {
	libc := testDeb{Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64", Depends: "libgcc-s1"}
	tz := testDeb{Name: "tzdata", Version: "2024a-0+deb12u1", Arch: "all"}
	ctrlSrc := strings.Replace(testDeb{Name: "libssl3", Version: "1:3.0.11-1~deb12u2", Arch: "amd64"}.control(), "Maintainer:", "Source: openssl\nMaintainer:", 1)
	layers := []*packageLayer{
		{Name: "tzdata", Version: tz.Version, Arch: "all", SHA256: strings.Repeat("b", 64), Facts: layerFacts{Control: []byte(tz.control())}},
		{Name: "libc6", Version: libc.Version, Arch: "amd64", SHA256: strings.Repeat("a", 64), Facts: layerFacts{Control: []byte(libc.control())}},
		{Name: "libssl3", Version: "1:3.0.11-1~deb12u2", Arch: "amd64", SHA256: strings.Repeat("c", 64), Facts: layerFacts{Control: []byte(ctrlSrc)}},
		{}, // the generated layer
	}
	s, _ := LookupSuite("bookworm")
	info := SBOMInfo{
		Image:  v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("d", 64)}, MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 1234},
		Name:   "example.invalid/distroless/base-debian12:latest",
		Recipe: "base", Suite: s, Arch: "amd64",
		Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	return layers, info
}

func TestSBOM(t *testing.T) {
	layers, info := testSBOMInput(t)
	sb, err := sbomOf(layers, info)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := sbomOf(layers, info)
	if !bytes.Equal(sb.SPDX, again.SPDX) || !bytes.Equal(sb.CycloneDX, again.CycloneDX) {
		t.Error("the SBOM is not deterministic")
	}

	doc, err := spdxjson.Read(bytes.NewReader(sb.SPDX))
	if err != nil {
		t.Fatalf("the SPDX library cannot read the document: %v\n%s", err, sb.SPDX)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Errorf("invalid SPDX document: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.CreationInfo.Created != "2025-01-02T03:04:05Z" || len(doc.Packages) != 4 {
		t.Errorf("version %s created %s, %d packages", doc.SPDXVersion, doc.CreationInfo.Created, len(doc.Packages))
	}
	described, err := spdxlib.GetDescribedPackageIDs(doc)
	if err != nil || len(described) != 1 {
		t.Errorf("described %v, %v", described, err)
	}
	purls := map[string]string{}
	for _, p := range doc.Packages {
		for _, r := range p.PackageExternalReferences {
			if r.RefType == "purl" {
				purls[p.PackageName] = r.Locator
			}
		}
	}
	for name, want := range map[string]string{
		"libc6":   "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
		"libssl3": "pkg:deb/debian/libssl3@1:3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl",
		"tzdata":  "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12",
	} {
		if purls[name] != want {
			t.Errorf("purl of %s = %s, want %s", name, purls[name], want)
		}
	}
	if !strings.HasPrefix(purls[info.Name], "pkg:oci/base-debian12@sha256:") {
		t.Errorf("image purl %s", purls[info.Name])
	}

	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(sb.CycloneDX), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("decoding the CycloneDX BOM: %v", err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_5 || bom.Metadata.Component.Type != cdx.ComponentTypeContainer || len(*bom.Components) != 3 {
		t.Errorf("spec %v, component %+v, %d components", bom.SpecVersion, bom.Metadata.Component, len(*bom.Components))
	}
	if !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") || len(bom.SerialNumber) != len("urn:uuid:")+36 {
		t.Errorf("serial %s", bom.SerialNumber)
	}
	for _, c := range *bom.Components {
		if c.PackageURL != purls[c.Name] || (*c.Hashes)[0].Algorithm != cdx.HashAlgoSHA256 {
			t.Errorf("component %s: purl %s", c.Name, c.PackageURL)
		}
	}
	if deps := (*bom.Dependencies)[0]; deps.Ref != bom.Metadata.Component.BOMRef || len(*deps.Dependencies) != 3 {
		t.Errorf("dependencies %+v", deps)
	}
}
