package sandbox

import (
	"context"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// initName is the argv[0] under which the binary re-executes itself as a
// sandbox child.
const initName = "whittle-sandbox-init"

// init turns a process started as the sandbox's child (argv[0] initName,
// see Run) into the sandbox: it sets it up and executes the command, and
// never returns. Any binary that links this package, whittle and every test
// binary alike, is ready to be a child with nothing to call from main.
//
// It runs while packages initialize, as moby's reexec suggests, and not in
// main: the child needs only this package's dependencies, initialized by
// now, and not the rest of the binary's packages, whose init functions are
// about half of a process start (a RUN starts 5.6 ms sooner: ten RUN steps
// 279 -> 222 ms).
func init() {
	if len(os.Args) > 0 && os.Args[0] == initName {
		childMain()
	}
}

// Stdio is what the sandboxed process reads and writes. Files (*os.File)
// are handed to it directly; other readers and writers are connected through
// pipes. A nil field means /dev/null. With spec.Process.Terminal, the process
// gets a pseudo-terminal instead and Stdin and Stdout are copied to and from
// it (Stderr is unused: a terminal merges the two). Putting the caller's own
// terminal in raw mode is the caller's business (golang.org/x/term); the
// window size is spec.Process.ConsoleSize, set once at start.
type Stdio struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Run runs spec.Process in new namespaces with spec.Root.Path as its root and
// waits for it to exit. The spec is usually made by NewSpec.
//
// The process is PID 1 of its PID namespace. When it exits, every other
// process of the namespace is killed and its mount namespace, with every
// mount made for it, goes away. When ctx is done first, the process (and so
// the whole namespace) is killed with SIGKILL and Run returns ctx.Err().
//
// Mount points: where a mount destination does not exist in the root
// filesystem, Run creates it (a directory, or an empty file for a bind mount
// of a file) inside the root filesystem before the process starts, and after
// it exits removes again those that are still empty and restores the
// modification time of the directory they were made in, unless the process
// changed that directory itself. So a RUN leaves no /etc/hosts,
// /etc/resolv.conf or mount point of its own behind that the image did not
// have (BuildKit's MountStubsCleaner). The mount points of the runtime's
// /proc, /dev and /sys, in contrast, stay, as they do in the images BuildKit
// builds with runc; so does the working directory, created when missing. Because of the mount
// points, two Runs must not use one root filesystem at the same time.
//
// /etc/hosts: unless spec.Mounts has one, Run writes a hosts file with
// localhost and spec.Hostname, in a directory beside the root filesystem
// (in $TMPDIR, where a killed process would leave it, only when that
// directory cannot be written), and binds it read-only at /etc/hosts.
//
// Errors: *ExitError when the process exited non-zero, was killed, or could
// not be executed (127: not found in the PATH of spec.Process.Env; 126: not
// executable); *SetupError when the sandbox could not be set up, naming the
// step that failed; ctx.Err() when ctx was cancelled.
func Run(ctx context.Context, spec *specs.Spec, stdio Stdio) error {
	return run(ctx, spec, stdio)
}
