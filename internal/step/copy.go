package step

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/whittle-build/whittle/internal/archive"
	"github.com/whittle-build/whittle/internal/buildcontext"
	"github.com/whittle-build/whittle/internal/passwd"
	"github.com/whittle-build/whittle/internal/plan"
)

// Source is where COPY reads from: the build context, or the root
// filesystem of a stage or an image.
type Source struct {
	// Root is the directory source paths are relative to.
	Root string
	// Excluded hides paths (the context's .dockerignore); nil hides nothing.
	Excluded func(rel string) bool
	// Exceptions says that Excluded may let through paths inside an
	// excluded directory ("!" exceptions of .dockerignore): Copy then looks
	// inside excluded directories, and creates those that hold something
	// it copies, as BuildKit does. Otherwise they are skipped whole.
	Exceptions bool
	// KeepOwner keeps the owners of the copied files (stage and image
	// sources). Files from the build context are owned by root, as BuildKit
	// does, unless --chown says otherwise.
	KeepOwner bool
}

// CopyOptions tune Copy.
type CopyOptions struct {
	// Epoch, when set, is the modification time of files Copy creates
	// (heredocs, parent directories); default now.
	Epoch *time.Time
	// Scratch is a directory for temporary files (ADD unpacks archives
	// there first); default the system's.
	Scratch string
}

// Copy carries out c (COPY or ADD of local files) into the root filesystem
// rootfs, reading from src. Destination paths are resolved inside rootfs
// with filepath-securejoin: a symlink in the image never sends a write
// outside it.
func Copy(ctx context.Context, rootfs string, c *plan.Copy, src Source, o CopyOptions) error {
	owner, err := copyOwner(rootfs, c.Chown)
	if err != nil {
		return err
	}
	mode, err := parseChmod(c.Chmod)
	if err != nil {
		return err
	}
	cp := &copier{ctx: ctx, rootfs: rootfs, owner: owner, chmod: mode, keepOwner: src.KeepOwner && owner == nil, epoch: o.Epoch, scratch: o.Scratch, links: map[fileID]string{}}
	if len(c.Exclude) > 0 {
		if cp.exclude, err = patternmatcher.New(c.Exclude); err != nil {
			return fmt.Errorf("--exclude: %w", err)
		}
	}

	if len(c.Heredocs) > 0 {
		return cp.heredocs(c)
	}

	if len(c.Sources) > 1 && !strings.HasSuffix(c.Dest, "/") {
		return fmt.Errorf("when using %s with more than one source file, the destination must be a directory and end with a /", map[bool]string{true: "ADD", false: "COPY"}[c.Add])
	}
	type match struct{ pattern, rel string }
	var matches []match
	for _, s := range c.Sources {
		rels, err := buildcontext.Match(src.Root, s, src.Excluded, src.Exceptions)
		if err != nil {
			return fmt.Errorf("%s: %w", s, errNotFound(err))
		}
		for _, r := range rels {
			if cp.excluded(r) {
				continue
			}
			matches = append(matches, match{s, r})
		}
	}
	destDir := strings.HasSuffix(c.Dest, "/") || strings.HasSuffix(c.Dest, "/.") || len(matches) > 1
	for _, m := range matches {
		srcPath, err := securejoin.SecureJoin(src.Root, m.rel)
		if err != nil {
			return err
		}
		fi, err := os.Stat(srcPath)
		if err != nil {
			return fmt.Errorf("%s: %w", m.pattern, err)
		}
		if c.Add && fi.Mode().IsRegular() && (c.Unpack == nil || *c.Unpack) {
			if ok, err := cp.addArchive(srcPath, c.Dest); err != nil || ok {
				return err
			}
		}
		if c.Parents {
			if err := cp.copyParents(src, m.rel, c.Dest); err != nil {
				return err
			}
			continue
		}
		if fi.IsDir() {
			if err := cp.copyTree(src, m.rel, c.Dest); err != nil {
				return err
			}
			continue
		}
		dst := c.Dest
		if destDir || cp.isDir(dst) {
			dst = path.Join(dst, path.Base(m.rel))
		}
		if err := cp.copyOne(src, m.rel, srcPath, fi, dst); err != nil {
			return err
		}
	}
	return nil
}

func errNotFound(err error) error {
	if errors.Is(err, buildcontext.ErrNotFound) {
		return fmt.Errorf("no such file or directory (check the path and .dockerignore)")
	}
	return err
}

// copyOwner resolves --chown inside rootfs; nil means no --chown.
func copyOwner(rootfs, chown string) (*passwd.IDs, error) {
	if chown == "" {
		return nil, nil
	}
	ids, err := passwd.LookupOwner(rootfs, chown)
	if err != nil {
		return nil, fmt.Errorf("--chown=%s: %w", chown, err)
	}
	return &ids, nil
}

type fileID struct{ dev, ino uint64 }

type copier struct {
	ctx       context.Context
	rootfs    string
	owner     *passwd.IDs
	chmod     *chmodSpec
	keepOwner bool
	epoch     *time.Time
	scratch   string
	exclude   *patternmatcher.PatternMatcher
	// links maps a source file with several links to its first copy.
	links map[fileID]string
	// dirTimes are directory mtimes to set once their contents are written.
	dirTimes []dirTime
}

type dirTime struct {
	path string
	t    time.Time
}

func (cp *copier) excluded(rel string) bool {
	if cp.exclude == nil {
		return false
	}
	ok, _ := cp.exclude.MatchesOrParentMatches(rel)
	return ok
}

// resolve returns the host path of dst (absolute in the image) with every
// symlink resolved inside rootfs.
func (cp *copier) resolve(dst string) (string, error) {
	return securejoin.SecureJoin(cp.rootfs, dst)
}

func (cp *copier) isDir(dst string) bool {
	p, err := cp.resolve(dst)
	if err != nil {
		return false
	}
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// mkdirAll creates dst and its missing parents (mode 0755, or an octal
// --chmod's mode as BuildKit gives the directories COPY creates; owned by
// the --chown user or root) and returns its host path.
func (cp *copier) mkdirAll(dst string) (string, error) {
	dst = path.Clean("/" + dst)
	if dst == "/" {
		return cp.rootfs, nil
	}
	if _, err := cp.mkdirAll(path.Dir(dst)); err != nil {
		return "", err
	}
	p, err := cp.resolve(dst)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(p)
	if err == nil {
		if !fi.IsDir() {
			return "", fmt.Errorf("%s exists and is not a directory", dst)
		}
		return p, nil
	}
	if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("creating %s: %w", dst, err)
	}
	// Only the permission bits: BuildKit's directories never get the
	// setuid, setgid or sticky bit of --chmod=4755.
	mode := fs.FileMode(0o755)
	if cp.chmod != nil && cp.chmod.octal != nil {
		mode = cp.chmod.octal.Perm()
	}
	if err := os.Chmod(p, mode); err != nil {
		return "", err
	}
	uid, gid := 0, 0
	if cp.owner != nil {
		uid, gid = int(cp.owner.UID), int(cp.owner.GID)
	}
	if err := os.Lchown(p, uid, gid); err != nil {
		return "", fmt.Errorf("creating %s: %w", dst, err)
	}
	if cp.epoch != nil {
		cp.dirTimes = append(cp.dirTimes, dirTime{p, *cp.epoch})
	}
	return p, nil
}

// copyTree copies the contents of the source directory rel into the
// directory dst. As in BuildKit, dst keeps its own mode and owner when it
// exists and is created like a parent (0755 or an octal --chmod, the
// --chown owner) when it does not, and either way takes the modification
// time of the source directory; what is below it gets the metadata of the
// sources.
func (cp *copier) copyTree(src Source, rel, dst string) error {
	root, err := securejoin.SecureJoin(src.Root, rel)
	if err != nil {
		return err
	}
	// The destination root is resolved through symlinks (inside rootfs);
	// everything below it is created by name in directories this copy
	// verified, never through a symlink.
	dstRoot, err := cp.mkdirAll(dst)
	if err != nil {
		return err
	}
	rootInfo, err := os.Stat(root)
	if err != nil {
		return err
	}
	// The source's time replaces the one mkdirAll may have planned.
	cp.dirTimes = slices.DeleteFunc(cp.dirTimes, func(d dirTime) bool { return d.path == dstRoot })
	cp.dirTimes = append(cp.dirTimes, dirTime{dstRoot, rootInfo.ModTime()})
	// Excluded directories are looked into only when an exception may let
	// something inside them through; pending are those on the current path,
	// outermost first, created once something below them is copied.
	descend := src.Exceptions || (cp.exclude != nil && cp.exclude.Exclusions())
	type pendingDir struct{ p, sub string }
	var pending []pendingDir
	// A file that fails (a full disk, say) stops the walk: nothing more is
	// queued, and its error is the one reported.
	files, filesCtx := errgroup.WithContext(cp.ctx)
	files.SetLimit(copyWorkers)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := filesCtx.Err(); err != nil {
			return err
		}
		sub, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if sub == "." {
			return nil
		}
		for len(pending) > 0 && !strings.HasPrefix(sub, pending[len(pending)-1].sub+string(filepath.Separator)) {
			pending = pending[:len(pending)-1]
		}
		full := path.Join(rel, filepath.ToSlash(sub))
		// --exclude patterns match below the source directory and from the
		// source root alike.
		if (src.Excluded != nil && src.Excluded(full)) || cp.excluded(full) || cp.excluded(filepath.ToSlash(sub)) {
			if d.IsDir() {
				if !descend {
					return filepath.SkipDir
				}
				pending = append(pending, pendingDir{p, sub})
			}
			return nil
		}
		for _, pd := range pending {
			fi, err := os.Lstat(pd.p)
			if err != nil {
				return err
			}
			if err := cp.write(pd.p, fi, filepath.Join(dstRoot, pd.sub)); err != nil {
				return err
			}
		}
		pending = pending[:0]
		fi, err := d.Info()
		if err != nil {
			return err
		}
		target := filepath.Join(dstRoot, sub)
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink == 1 {
			// Files are independent of each other once their directory
			// exists (directories are made here, in walk order): copy them
			// concurrently, which halves the time of a many-file COPY.
			files.Go(func() error { return cp.write(p, fi, target) })
			return nil
		}
		return cp.write(p, fi, target)
	})
	if werr := files.Wait(); werr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("copying %s: %w", rel, err)
	}
	return cp.finish()
}

// copyWorkers is how many files a COPY writes at once: file creation is
// mostly kernel time that several cores share well.
const copyWorkers = 4

// copyOne copies one non-directory source to the image path dst.
func (cp *copier) copyOne(src Source, rel, srcPath string, fi fs.FileInfo, dst string) error {
	target, err := cp.fileTarget(dst)
	if err != nil {
		return err
	}
	if err := cp.write(srcPath, fi, target); err != nil {
		return fmt.Errorf("copying %s: %w", rel, err)
	}
	return cp.finish()
}

// fileTarget returns the host path at which COPY writes a file named dst
// (absolute in the image), its missing parents made. As in BuildKit, a
// symlink at dst is followed inside rootfs: COPY onto a symlink writes the
// file it points to, made if the link dangles. (Below a directory that
// copyTree writes, symlinks are replaced instead.)
func (cp *copier) fileTarget(dst string) (string, error) {
	resolved, err := cp.resolve(dst)
	if err != nil {
		return "", err
	}
	inside, err := filepath.Rel(cp.rootfs, resolved)
	if err != nil || inside == "." || strings.HasPrefix(inside, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s: resolves to %s, not a file in the image", dst, resolved)
	}
	dst = "/" + filepath.ToSlash(inside)
	parent, err := cp.mkdirAll(path.Dir(dst))
	if err != nil {
		return "", err
	}
	return filepath.Join(parent, path.Base(dst)), nil
}

// copyParents copies rel keeping its directory path below dst (COPY --parents).
func (cp *copier) copyParents(src Source, rel, dst string) error {
	full := path.Join(dst, rel)
	srcPath, err := securejoin.SecureJoin(src.Root, rel)
	if err != nil {
		return err
	}
	fi, err := os.Stat(srcPath)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return cp.copyTree(src, rel, full)
	}
	return cp.copyOne(src, rel, srcPath, fi, full)
}

// finish sets the modification times of directories written, deepest first.
func (cp *copier) finish() error {
	for i := len(cp.dirTimes) - 1; i >= 0; i-- {
		d := cp.dirTimes[i]
		ts := []unix.Timespec{unix.NsecToTimespec(d.t.UnixNano()), unix.NsecToTimespec(d.t.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, d.path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("setting times of %s: %w", d.path, err)
		}
	}
	cp.dirTimes = cp.dirTimes[:0]
	return nil
}

// write copies the source entry at p (described by fi) to target, a host
// path whose parent exists and is a real directory.
func (cp *copier) write(p string, fi fs.FileInfo, target string) error {
	st, _ := fi.Sys().(*syscall.Stat_t)
	uid, gid := 0, 0
	if cp.owner != nil {
		uid, gid = int(cp.owner.UID), int(cp.owner.GID)
	} else if cp.keepOwner && st != nil {
		uid, gid = int(st.Uid), int(st.Gid)
	}
	perm := fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
	if cp.chmod != nil {
		perm = cp.chmod.apply(perm, fi.IsDir())
	}

	existing, lerr := os.Lstat(target)
	switch {
	case fi.IsDir():
		if lerr == nil && !existing.IsDir() {
			if err := os.Remove(target); err != nil {
				return err
			}
			lerr = os.ErrNotExist
		}
		if lerr != nil {
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		}
		cp.dirTimes = append(cp.dirTimes, dirTime{target, fi.ModTime()})
	case fi.Mode()&fs.ModeSymlink != 0:
		link, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if err := removeExisting(target, existing, lerr); err != nil {
			return err
		}
		if err := os.Symlink(link, target); err != nil {
			return err
		}
		if err := os.Lchown(target, uid, gid); err != nil {
			return err
		}
		return lutimes(target, fi.ModTime())
	case fi.Mode().IsRegular():
		if err := removeExisting(target, existing, lerr); err != nil {
			return err
		}
		if st != nil && st.Nlink > 1 {
			id := fileID{uint64(st.Dev), st.Ino}
			if first, ok := cp.links[id]; ok {
				return os.Link(first, target)
			}
			cp.links[id] = target
		}
		if err := copyFile(p, target); err != nil {
			return err
		}
	default:
		// Devices, fifos and sockets: recreate devices and fifos as they are.
		if err := removeExisting(target, existing, lerr); err != nil {
			return err
		}
		if st == nil || fi.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("creating %s: %w", target, err)
		}
	}
	if err := os.Lchown(target, uid, gid); err != nil {
		return err
	}
	if err := os.Chmod(target, perm); err != nil {
		return err
	}
	// After chown, which clears security.capability.
	if err := archive.CopyXattrs(target, p); err != nil {
		return err
	}
	if !fi.IsDir() {
		return lutimes(target, fi.ModTime())
	}
	return nil
}

func removeExisting(target string, existing fs.FileInfo, lerr error) error {
	if lerr != nil {
		return nil
	}
	if existing.IsDir() {
		return fmt.Errorf("cannot overwrite directory %s with a non-directory", target)
	}
	return os.Remove(target)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func lutimes(p string, t time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// heredocs writes the inline files of COPY <<EOF.
func (cp *copier) heredocs(c *plan.Copy) error {
	for _, h := range c.Heredocs {
		dst := c.Dest
		if strings.HasSuffix(dst, "/") || len(c.Heredocs) > 1 || cp.isDir(dst) {
			dst = path.Join(dst, h.Name)
		}
		target, err := cp.fileTarget(dst)
		if err != nil {
			return err
		}
		existing, lerr := os.Lstat(target)
		if err := removeExisting(target, existing, lerr); err != nil {
			return err
		}
		perm := fs.FileMode(0o644)
		if cp.chmod != nil {
			perm = cp.chmod.apply(perm, false)
		}
		if err := os.WriteFile(target, []byte(h.Content), 0o600); err != nil {
			return err
		}
		uid, gid := 0, 0
		if cp.owner != nil {
			uid, gid = int(cp.owner.UID), int(cp.owner.GID)
		}
		if err := os.Lchown(target, uid, gid); err != nil {
			return err
		}
		if err := os.Chmod(target, perm); err != nil {
			return err
		}
		if cp.epoch != nil {
			if err := lutimes(target, *cp.epoch); err != nil {
				return err
			}
		}
	}
	return cp.finish()
}
