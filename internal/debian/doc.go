// Package debian is a client for signed Debian archives: it reads the
// host's apt sources, fetches and verifies InRelease files, Packages indexes
// and .deb files, resolves dependency closures by Debian policy, records
// them in a lock file, and streams the contents of .deb files.
//
// The flow, each step verifying what the previous one trusted:
//
//	Repositories (apt sources, or a mirror and a keyring)
//	  → Client.Release: InRelease, clearsign signature checked with
//	    ProtonMail/go-crypto against the repository keyring, Valid-Until
//	    checked against the client's clock
//	  → Client.Index: Packages indexes, fetched by hash when the Release
//	    says Acquire-By-Hash, checked against the Release's size and SHA256,
//	    several suites overlaid into one Index
//	  → Index.Resolve: the closure of some requested packages, minus a prune
//	    list, with a reason for every package (Resolution.Why)
//	  → NewLock / Lock.Fetchable: a lock that fixes the set for later builds
//	  → Client.Fetch: each .deb checked against the size and SHA256 of its
//	    Packages stanza (or lock entry) while it downloads, then cached by
//	    SHA256
//	  → OpenDeb: control stanza, md5sums, conffiles, and the data tar as a
//	    streaming *tar.Reader. Maintainer scripts are never run.
//
// Nothing unverified is returned: a Package always comes from an index whose
// hash a signed Release vouched for, and a .deb path returned by Fetch always
// names bytes whose SHA256 matched.
package debian
