// Package distroless builds base images from Debian's signed archive, as
// distroless does with Bazel: recipes (static, base-nossl, base, cc,
// python3, java, or a recipe file) → package set → one layer per package
// plus a layer of generated files → an image in the local store, with an
// SBOM attached. The debian recipe instead installs a normal Debian with
// dpkg in whittle's sandbox, for build stages.
//
// # Flow
//
//	Recipe (Builtin, ReadRecipeFile) ─ Flatten: bases applied, --include, --debug
//	  → package set: Index.Resolve of the recipe's packages minus its prune
//	    list (package debian), or a lock file (--locked); the lock of a
//	    resolution is cached in the store under the verified Release hashes
//	    of the indexes it read, so an unchanged archive is not parsed again
//	  → .debs fetched and verified (debian.Client.FetchAll, cached by SHA256)
//	  → one layer per package: its data tar, sorted and normalised (numeric
//	    owners, whole-second times), /bin, /sbin and /lib* moved into /usr
//	    when merged, and var/lib/dpkg/status.d/<pkg> (its control file) with
//	    <pkg>.md5sums, as distroless writes them for scanners. A layer is
//	    cached in the store by the .deb's SHA256 and the rules applied
//	  → a layer of generated files (see below)
//	  → image config and manifest (export.Image), outputs (output.Write),
//	    SBOM (SPDX 2.3 and CycloneDX 1.5) attached (Attach)
//
// # Maintainer scripts, replayed
//
// Maintainer scripts never run for the distroless recipes. What they would
// have done, and what matters in an image without a shell, is replayed in
// the generated layer: the CA bundle of update-ca-certificates (the
// certificates of ca-certificates, then *.crt files a recipe puts below
// /usr/local/share/ca-certificates), the Java trust store of
// ca-certificates-java (JKS, password "changeit"), the update-alternatives
// links that OpenJDK's .jinfo files declare (/usr/bin/java →
// /etc/alternatives/java → the JRE), /etc/localtime for a recipe's
// timezone, and /etc/passwd, /etc/group, home directories and
// /etc/os-release ("Distroless"). The packages that only feed this
// (ca-certificates, ca-certificates-java) ship their copyright and their
// status.d stanza, not their files; busybox-static (--debug) ships its
// binary at /busybox with applet links. Such packages, and packages a
// recipe limits with Only, get no <pkg>.md5sums, since their files are not
// where the package put them.
//
// # Reproducibility
//
// The same package set gives the same image digest: layers hold only what
// the .debs hold, sorted, with their own times; the image's time (config
// creation, generated files) is SOURCE_DATE_EPOCH when set, else the newest
// file time of the packages. The debian recipe dates its image with the
// newest Release date its lock records, passes it to dpkg as
// SOURCE_DATE_EPOCH, clamps every file time to it and removes what
// mmdebstrap removes for reproducibility (logs, caches, machine-id).
//
// # SBOM attachment
//
// In the store, the SBOM is two OCI 1.1 artifact manifests (artifactType
// application/spdx+json and application/vnd.cyclonedx+json, the empty
// config, the document as their layer, subject the image), listed by an
// image index tagged "<repository>:sha256-<hex of the image digest>": the
// referrers tag schema of the OCI distribution spec, which registries
// without the referrers API use. In an OCI layout written by --output
// type=oci, the two manifests are index.json entries annotated with
// dev.whittle.sbom.subject (the image digest).
package distroless
