package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// overlay prepares snapshots as overlayfs mounts.
type overlay struct {
	workDir string
	// userxattr makes overlayfs use user.overlay.* attributes, as it must
	// in a user namespace.
	userxattr bool
	// classic forces mount(2) with a single option string instead of the
	// fsconfig "lowerdir+" API (a test seam for kernels before 6.8).
	classic bool
	// noVolatile is set once a kernel refused the volatile option
	// (Linux < 5.10): later mounts go without it.
	noVolatile atomic.Bool
	// refuseVolatile makes mounts fail as such a kernel does (a test seam).
	refuseVolatile bool
}

// NewOverlay returns a Snapshotter that mounts overlayfs over the lowers.
// Snapshots live in workDir, which must be on the same filesystem as where
// their diffs are to be renamed (the store) and must support overlay upper
// directories (see Supported). The mounts are made with index=off,
// redirect_dir=off and metacopy=off, so an upper directory is a
// self-contained layer, and in a user namespace with userxattr (and
// redirect_dir=nofollow, which userxattr needs).
//
// The mounts are volatile (Linux 5.10; an older kernel mounts without it),
// as buildah's build containers are: unmounting one does not sync the
// store's whole filesystem, and fsync in a RUN step (dpkg calls it for every
// file it unpacks) returns at once. A snapshot is a build's scratch space or
// the store's unpacked copy of a layer, never the only copy of anything
// that must survive a host crash: the layer blobs and the store's records
// are synced when written, and the store drops the snapshots a crash may
// have torn (store.CommitSnapshot).
//
// Lowers are passed one by one ("lowerdir+", Linux 6.8), so long layer
// lists do not hit the one-page limit of mount options; older kernels get
// a single option string naming the layers through /proc/self/fd.
func NewOverlay(workDir string) (Snapshotter, error) {
	if err := os.MkdirAll(workDir, 0o711); err != nil {
		return nil, fmt.Errorf("creating snapshot directory: %w", err)
	}
	return &overlay{workDir: workDir, userxattr: inUserNamespace()}, nil
}

var _ Snapshotter = (*overlay)(nil)

func (o *overlay) Prepare(ctx context.Context, lowers []string) (Active, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkLowers(lowers); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.workDir, "overlay-")
	if err != nil {
		return nil, fmt.Errorf("preparing snapshot: %w", err)
	}
	a := &overlayActive{dir: dir, lowers: lowers, opaque: OpaqueXattr}
	if o.userxattr {
		a.opaque = UserOpaqueXattr
	}
	if err := a.setup(o); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("preparing snapshot: %w", err)
	}
	return a, nil
}

// overlayActive is a mounted overlay: dir holds upper, work and merged (and
// an empty lower for scratch).
type overlayActive struct {
	dir    string
	lowers []string
	opaque string

	mu   sync.Mutex
	done bool
}

var _ Active = (*overlayActive)(nil)

func (a *overlayActive) upper() string  { return filepath.Join(a.dir, "upper") }
func (a *overlayActive) merged() string { return filepath.Join(a.dir, "merged") }

func (a *overlayActive) setup(o *overlay) error {
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(a.dir, d), 0o755); err != nil {
			return err
		}
	}
	lowers := a.lowers
	if len(lowers) == 0 {
		empty := filepath.Join(a.dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return err
		}
		lowers = []string{empty}
	} else {
		// The merged root shows the upper root's metadata: make it the
		// top-most layer's.
		st, err := lstat(lowers[0])
		if err != nil {
			return err
		}
		if err := copyMetadata(lowers[0], st, a.upper(), true); err != nil {
			return err
		}
	}
	opts := overlayOptions{lowers: lowers, upper: a.upper(), work: filepath.Join(a.dir, "work"),
		userxattr: o.userxattr, volatile: !o.noVolatile.Load()}
	err := o.mount(opts, a.merged())
	if err != nil && opts.volatile && errors.Is(err, unix.EINVAL) {
		// A kernel before 5.10 has no volatile option.
		opts.volatile = false
		if err = o.mount(opts, a.merged()); err == nil {
			o.noVolatile.Store(true)
		}
	}
	return err
}

func (o *overlay) mount(opts overlayOptions, target string) error {
	if o.refuseVolatile && opts.volatile {
		return fmt.Errorf("overlay option volatile: %w", unix.EINVAL)
	}
	if o.classic {
		return mountOverlayClassic(opts, target)
	}
	err := mountOverlay(opts, target)
	if errors.Is(err, errNoLowerdirPlus) {
		return mountOverlayClassic(opts, target)
	}
	return err
}

func (a *overlayActive) Root() string { return a.merged() }

func (a *overlayActive) Commit(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return "", errors.New("committing snapshot: already committed or released")
	}
	a.done = true
	if err := unmount(a.merged()); err != nil {
		// Never remove a directory tree with a mount still in it.
		return "", fmt.Errorf("committing snapshot: %w", err)
	}
	defer os.RemoveAll(a.dir)
	if err := ctx.Err(); err != nil {
		return "", err
	}
	upper := a.upper()
	if _, err := cleanUpper(ctx, upper, ".", a.lowers); err != nil {
		return "", fmt.Errorf("committing snapshot: %w", err)
	}
	diff := a.dir + "-diff"
	if err := os.Rename(upper, diff); err != nil {
		return "", fmt.Errorf("committing snapshot: %w", err)
	}
	return diff, nil
}

func (a *overlayActive) Release() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return nil
	}
	a.done = true
	if err := unmount(a.merged()); err != nil {
		// Never remove a directory tree with a mount still in it.
		return fmt.Errorf("releasing snapshot: %w", err)
	}
	if err := os.RemoveAll(a.dir); err != nil {
		return fmt.Errorf("releasing snapshot: %w", err)
	}
	return nil
}

// cleanUpper makes an upper directory a clean layer: it drops overlayfs's
// bookkeeping attributes, and removes what copy-up left without a change
// (a directory copied up for a mount point that is gone again, a file
// whose metadata was rewritten to the same values), restoring the times of
// the directories it removed entries from. It reports whether the
// directory rel of upper is empty afterwards.
func cleanUpper(ctx context.Context, upper, rel string, lowers []string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	dir := filepath.Join(upper, rel)
	dirSt, err := lstat(dir)
	if err != nil {
		return false, err
	}
	names, err := readDirNames(dir)
	if err != nil {
		return false, err
	}
	removed, kept := false, 0
	for _, name := range names {
		crel := filepath.Join(rel, name)
		p := filepath.Join(upper, crel)
		st, err := lstat(p)
		if err != nil {
			return false, err
		}
		if err := removeOverlayXattrs(p); err != nil {
			return false, err
		}
		if isWhiteout(st) {
			kept++
			continue
		}
		unchanged := false
		if isDir(st) {
			empty, err := cleanUpper(ctx, upper, crel, lowers)
			if err != nil {
				return false, err
			}
			if empty && !isOpaque(p) {
				if st, err = lstat(p); err != nil {
					return false, err
				}
				if unchanged, err = sameAsLower(lowers, crel, p, st); err != nil {
					return false, err
				}
			}
		} else if st.Nlink == 1 {
			// A file with more links is linked to another path of the upper
			// directory: keep it, so the layer keeps the link.
			if unchanged, err = sameAsLower(lowers, crel, p, st); err != nil {
				return false, err
			}
		}
		if !unchanged {
			kept++
			continue
		}
		if err := os.Remove(p); err != nil {
			return false, err
		}
		removed = true
	}
	if removed {
		if err := setTimes(dir, dirSt); err != nil {
			return false, err
		}
	}
	return kept == 0, nil
}

// sameAsLower reports whether the entry p (stat st) of an upper directory
// equals what the lowers have at rel.
func sameAsLower(lowers []string, rel, p string, st *unix.Stat_t) (bool, error) {
	lp, lst, ok, err := lowerEntry(lowers, rel)
	if err != nil || !ok {
		return false, err
	}
	return sameEntry(p, st, lp, lst)
}

// overlayOptions are the parts of an overlay mount.
type overlayOptions struct {
	lowers      []string // top-most first
	upper, work string
	userxattr   bool
	// volatile skips the syncs of the upper filesystem (see NewOverlay).
	volatile bool
}

// flags are the options every mount gets: an upper directory that does not
// depend on the lowers or on an index.
func (o overlayOptions) flags() [][2]string {
	var flags [][2]string
	if o.userxattr {
		// "off" still follows redirects, which userxattr forbids.
		flags = [][2]string{{"userxattr", ""}, {"index", "off"}, {"redirect_dir", "nofollow"}, {"metacopy", "off"}}
	} else {
		flags = [][2]string{{"index", "off"}, {"redirect_dir", "off"}, {"metacopy", "off"}}
	}
	if o.volatile {
		flags = append(flags, [2]string{"volatile", ""})
	}
	return flags
}

// errNoLowerdirPlus reports a kernel without fsconfig "lowerdir+".
var errNoLowerdirPlus = errors.New(`overlayfs has no "lowerdir+" option (Linux < 6.8)`)

// mountOverlay mounts an overlay at target with the new mount API, one
// fsconfig call per lower.
func mountOverlay(o overlayOptions, target string) (retErr error) {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fd)
	defer func() {
		if retErr != nil {
			if log := fsLog(fd); log != "" {
				retErr = fmt.Errorf("%w (kernel: %s)", retErr, log)
			}
		}
	}()
	for i, l := range o.lowers {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			if i == 0 && errors.Is(err, unix.EINVAL) {
				return errNoLowerdirPlus
			}
			return fmt.Errorf("overlay lower %s: %w", l, err)
		}
	}
	if err := unix.FsconfigSetString(fd, "upperdir", o.upper); err != nil {
		return fmt.Errorf("overlay upper %s: %w", o.upper, err)
	}
	if err := unix.FsconfigSetString(fd, "workdir", o.work); err != nil {
		return fmt.Errorf("overlay work dir %s: %w", o.work, err)
	}
	for _, f := range o.flags() {
		if f[1] == "" {
			err = unix.FsconfigSetFlag(fd, f[0])
		} else {
			err = unix.FsconfigSetString(fd, f[0], f[1])
		}
		if err != nil {
			return fmt.Errorf("overlay option %s: %w", f[0], err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("creating overlay: %w", err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("fsmount overlay: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mounting overlay on %s: %w", target, err)
	}
	return nil
}

// fsLog drains the messages the kernel logged on an fsopen context.
func fsLog(fd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for range 16 {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		// Each message starts with its severity: "e ", "w " or "i ".
		msg := string(buf[:n])
		if len(msg) > 2 && msg[1] == ' ' && strings.ContainsRune("ewi", rune(msg[0])) {
			msg = msg[2:]
		}
		msgs = append(msgs, strings.TrimSpace(msg))
	}
	return strings.Join(msgs, "; ")
}

// mountOverlayClassic mounts an overlay with mount(2). Each lower is named
// through an O_PATH descriptor (/proc/self/fd/N), so the option string
// stays short whatever the layers' paths; it must still fit in a page.
func mountOverlayClassic(o overlayOptions, target string) error {
	var lowers []string
	for _, l := range o.lowers {
		fd, err := unix.Open(l, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening overlay lower %s: %w", l, err)
		}
		defer unix.Close(fd)
		lowers = append(lowers, "/proc/self/fd/"+strconv.Itoa(fd))
	}
	opts := []string{"lowerdir=" + strings.Join(lowers, ":"), "upperdir=" + o.upper, "workdir=" + o.work}
	for _, f := range o.flags() {
		if f[1] == "" {
			opts = append(opts, f[0])
		} else {
			opts = append(opts, f[0]+"="+f[1])
		}
	}
	data := strings.Join(opts, ",")
	if len(data) >= os.Getpagesize() {
		return fmt.Errorf("mounting overlay: %d layers do not fit in one mount option page on this kernel", len(o.lowers))
	}
	if err := unix.Mount("overlay", target, "overlay", 0, data); err != nil {
		return fmt.Errorf("mounting overlay on %s: %w", target, err)
	}
	return nil
}

// unmount unmounts target, retrying while it is busy, and detaching it
// lazily as a last resort. A target that is not mounted is fine.
func unmount(target string) error {
	var err error
	for i := range 50 {
		err = unix.Unmount(target, unix.UMOUNT_NOFOLLOW)
		if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
	if derr := unix.Unmount(target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); derr == nil {
		return nil
	}
	return fmt.Errorf("unmounting %s: %w", target, err)
}
