package distroless

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/package-url/packageurl-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"

	"github.com/moby/sys/atomicwriter"
	"github.com/whittle-build/whittle/internal/debian"
)

// SBOM is an image's software bill of materials in two formats, made from
// the packages' own control files and the lock (so a locked build gives the
// same bytes).
type SBOM struct {
	// SPDX is an SPDX 2.3 JSON document: the image as the described
	// package, each Debian package CONTAINED by it, with its purl and the
	// SHA256 of its .deb.
	SPDX []byte
	// CycloneDX is a CycloneDX 1.5 JSON BOM with the same content: the
	// image as metadata.component, the packages as library components.
	CycloneDX []byte
}

// The SBOM files that SBOM.WriteDir writes.
const (
	SPDXFile      = "sbom.spdx.json"
	CycloneDXFile = "sbom.cdx.json"
)

// SBOMInfo names what an SBOM describes.
type SBOMInfo struct {
	// Image is the image's manifest descriptor; Name its name.
	Image v1.Descriptor
	Name  string
	// Recipe, Suite and Arch say how it was made.
	Recipe  string
	Suite   Suite
	Arch    string
	Created time.Time
}

// sbomPackage is one Debian package of an SBOM.
type sbomPackage struct {
	Name, Version, Arch, SHA256, Filename string
	Control                               []byte
}

// packagesOf returns the SBOM packages of package layers.
func packagesOf(layers []*packageLayer) []sbomPackage {
	var out []sbomPackage
	for _, l := range layers {
		out = append(out, l.bootstrapPkgs...)
		if l.Name == "" {
			continue
		}
		out = append(out, sbomPackage{Name: l.Name, Version: l.Version, Arch: l.Arch, SHA256: l.SHA256, Filename: l.locked.Filename, Control: l.Facts.Control})
	}
	return out
}

// sbomOf makes the SBOM of an image built from layers.
func sbomOf(layers []*packageLayer, info SBOMInfo) (*SBOM, error) {
	return newSBOM(packagesOf(layers), info)
}

func newSBOM(pkgs []sbomPackage, info SBOMInfo) (*SBOM, error) {
	sort.Slice(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].Arch < pkgs[j].Arch
	})
	imagePURL := ociPURL(info)
	var described []describedPackage
	for _, p := range pkgs {
		d, err := describe(p, info)
		if err != nil {
			return nil, err
		}
		described = append(described, d)
	}
	sp, err := spdxDocument(described, info, imagePURL)
	if err != nil {
		return nil, err
	}
	cd, err := cyclonedxBOM(described, info, imagePURL)
	if err != nil {
		return nil, err
	}
	return &SBOM{SPDX: sp, CycloneDX: cd}, nil
}

// describedPackage is a package with the facts both formats use.
type describedPackage struct {
	sbomPackage
	PURL, Source, SourceVersion, Maintainer, Homepage, Summary string
}

func describe(p sbomPackage, info SBOMInfo) (describedPackage, error) {
	d := describedPackage{sbomPackage: p}
	if len(p.Control) > 0 {
		pkg, fields, err := debian.ParseControlFields(p.Control)
		if err != nil {
			return d, fmt.Errorf("SBOM: control file of %s: %w", p.Name, err)
		}
		d.Source, d.SourceVersion = pkg.SourceName(), pkg.SourceVersion()
		d.Maintainer = fields["Maintainer"]
		d.Homepage = fields["Homepage"]
		d.Summary, _, _ = strings.Cut(fields["Description"], "\n")
	}
	q := packageurl.Qualifiers{
		{Key: "arch", Value: p.Arch},
		{Key: "distro", Value: "debian-" + info.Suite.Version},
	}
	if d.Source != "" && d.Source != p.Name {
		q = append(q, packageurl.Qualifier{Key: "upstream", Value: d.Source})
	}
	d.PURL = packageurl.NewPackageURL(packageurl.TypeDebian, "debian", p.Name, p.Version, q, "").ToString()
	return d, nil
}

// ociPURL is the image's package URL (pkg:oci/NAME@DIGEST?repository_url=...).
func ociPURL(info SBOMInfo) string {
	q := packageurl.Qualifiers{{Key: "arch", Value: info.Arch}}
	repo := "image"
	if ref, err := name.ParseReference(info.Name); err == nil {
		full := ref.Context().Name()
		repo = full[strings.LastIndex(full, "/")+1:]
		q = append(q, packageurl.Qualifier{Key: "repository_url", Value: full})
		if t, ok := ref.(name.Tag); ok {
			q = append(q, packageurl.Qualifier{Key: "tag", Value: t.TagStr()})
		}
	}
	return packageurl.NewPackageURL(packageurl.TypeOCI, "", repo, info.Image.Digest.String(), q, "").ToString()
}

var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// spdxID makes an SPDX element id from parts.
func spdxID(parts ...string) common.ElementID {
	return common.ElementID(spdxIDUnsafe.ReplaceAllString(strings.Join(parts, "-"), "-"))
}

func spdxDocument(pkgs []describedPackage, info SBOMInfo, imagePURL string) ([]byte, error) {
	imageID := spdxID("Image", info.Recipe)
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      info.Name,
		DocumentNamespace: "urn:whittle:sbom:" + info.Image.Digest.Hex,
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{Creator: "whittle", CreatorType: "Tool"}},
			Created:  info.Created.UTC().Format(time.RFC3339),
		},
	}
	doc.Packages = append(doc.Packages, &spdx.Package{
		PackageName:             info.Name,
		PackageSPDXIdentifier:   imageID,
		PackageVersion:          info.Image.Digest.String(),
		PackageDownloadLocation: "NOASSERTION",
		PrimaryPackagePurpose:   "CONTAINER",
		PackageLicenseConcluded: "NOASSERTION",
		PackageLicenseDeclared:  "NOASSERTION",
		PackageCopyrightText:    "NOASSERTION",
		PackageComment:          fmt.Sprintf("whittle base %s, Debian %s (%s), %s", info.Recipe, info.Suite.Version, info.Suite.Name, info.Arch),
		PackageExternalReferences: []*spdx.PackageExternalReference{
			{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: imagePURL},
		},
	})
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA: common.MakeDocElementID("", "DOCUMENT"), RefB: common.MakeDocElementID("", string(imageID)), Relationship: "DESCRIBES",
	})
	for _, p := range pkgs {
		id := spdxID("Package", "deb", p.Name, p.Arch)
		sp := &spdx.Package{
			PackageName:             p.Name,
			PackageSPDXIdentifier:   id,
			PackageVersion:          p.Version,
			PackageFileName:         p.Filename,
			PackageDownloadLocation: "NOASSERTION",
			PackageHomePage:         p.Homepage,
			PackageSummary:          p.Summary,
			PrimaryPackagePurpose:   "LIBRARY",
			PackageLicenseConcluded: "NOASSERTION",
			PackageLicenseDeclared:  "NOASSERTION",
			PackageCopyrightText:    "NOASSERTION",
			PackageExternalReferences: []*spdx.PackageExternalReference{
				{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: p.PURL},
			},
		}
		if p.SHA256 != "" {
			sp.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: p.SHA256}}
		}
		if p.Source != "" {
			sp.PackageSourceInfo = fmt.Sprintf("built package from: %s %s", p.Source, p.SourceVersion)
		}
		if p.Maintainer != "" {
			sp.PackageSupplier = &common.Supplier{Supplier: p.Maintainer, SupplierType: "Person"}
		}
		doc.Packages = append(doc.Packages, sp)
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(imageID)), RefB: common.MakeDocElementID("", string(id)), Relationship: "CONTAINS",
		})
	}
	var b bytes.Buffer
	if err := spdxjson.Write(doc, &b, spdxjson.Indent("  ")); err != nil {
		return nil, fmt.Errorf("writing the SPDX document: %w", err)
	}
	return b.Bytes(), nil
}

func cyclonedxBOM(pkgs []describedPackage, info SBOMInfo, imagePURL string) ([]byte, error) {
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + uuidFrom(info.Image.Digest.String())
	bom.Metadata = &cdx.Metadata{
		Timestamp: info.Created.UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{
			{Type: cdx.ComponentTypeApplication, Name: "whittle"},
		}},
		Component: &cdx.Component{
			BOMRef:     imagePURL,
			Type:       cdx.ComponentTypeContainer,
			Name:       info.Name,
			Version:    info.Image.Digest.String(),
			PackageURL: imagePURL,
			Properties: &[]cdx.Property{
				{Name: "whittle:recipe", Value: info.Recipe},
				{Name: "whittle:suite", Value: info.Suite.Name},
			},
		},
	}
	var comps []cdx.Component
	var refs []string
	for _, p := range pkgs {
		c := cdx.Component{
			BOMRef:      p.PURL,
			Type:        cdx.ComponentTypeLibrary,
			Name:        p.Name,
			Version:     p.Version,
			Description: p.Summary,
			PackageURL:  p.PURL,
			Publisher:   p.Maintainer,
		}
		if p.SHA256 != "" {
			c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: p.SHA256}}
		}
		props := []cdx.Property{{Name: "whittle:deb:architecture", Value: p.Arch}}
		if p.Source != "" {
			props = append(props, cdx.Property{Name: "whittle:deb:source", Value: p.Source + " " + p.SourceVersion})
		}
		c.Properties = &props
		comps = append(comps, c)
		refs = append(refs, p.PURL)
	}
	bom.Components = &comps
	bom.Dependencies = &[]cdx.Dependency{{Ref: imagePURL, Dependencies: &refs}}
	var b bytes.Buffer
	enc := cdx.NewBOMEncoder(&b, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_5); err != nil {
		return nil, fmt.Errorf("writing the CycloneDX BOM: %w", err)
	}
	return b.Bytes(), nil
}

// uuidFrom derives a version 5 style UUID from s, so the BOM's serial
// number is the same for the same image.
func uuidFrom(s string) string {
	h := sha256.Sum256([]byte("whittle-sbom:" + s))
	u := h[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// WriteDir writes the SBOM into dir as SPDXFile and CycloneDXFile,
// creating dir if needed.
func (s *SBOM) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing the SBOM: %w", err)
	}
	for name, data := range map[string][]byte{SPDXFile: s.SPDX, CycloneDXFile: s.CycloneDX} {
		if err := atomicwriter.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("writing the SBOM: %w", err)
		}
	}
	return nil
}
