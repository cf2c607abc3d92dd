package snapshot

import "context"

// Snapshotter makes active snapshots. Implementations are safe for
// concurrent use.
type Snapshotter interface {
	// Prepare makes a writable root filesystem whose initial content is the
	// merge of lowers (directories in overlay format; lowers[0] is the
	// top-most layer). lowers may be empty (scratch). The lowers must not
	// change while the snapshot is active.
	Prepare(ctx context.Context, lowers []string) (Active, error)
}

// Active is a prepared snapshot. Call exactly one of Commit and Release;
// calling Release after Commit (e.g. deferred) is a no-op.
type Active interface {
	// Root is the root filesystem to write to.
	Root() string
	// Commit ends writing and returns a directory holding only the changes
	// against the lowers, in overlay format: new and changed entries (with
	// their parent directories), a 0/0 character device for each deleted
	// path, and the opaque attribute on a directory that replaced one of
	// the lowers. An empty directory means nothing changed. The caller owns
	// the directory (renames or removes it); it is on the same filesystem as
	// the snapshotter's work directory. Root is unmounted and removed, also
	// when Commit fails.
	Commit(ctx context.Context) (diffDir string, err error)
	// Release discards the snapshot and everything written to it.
	Release() error
}

// Extended attributes that mark an opaque directory.
const (
	// OpaqueXattr marks an opaque directory ("y") outside user namespaces.
	OpaqueXattr = "trusted.overlay.opaque"
	// UserOpaqueXattr marks one when overlayfs runs with userxattr (in a
	// user namespace).
	UserOpaqueXattr = "user.overlay.opaque"
)
