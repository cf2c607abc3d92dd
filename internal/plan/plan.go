// Package plan holds a lowered Dockerfile: the stages a build target needs, in
// dependency order, each a list of operations with every variable already
// expanded. It is plain data: the frontend produces it, the solver runs it, and
// neither needs the other's vocabulary.
package plan

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Plan is everything the solver needs to build one target.
type Plan struct {
	// Stages are the stages the target needs, in Dockerfile order. Stages the
	// target does not need are absent.
	Stages []*Stage
	// OneStage says the Dockerfile has a single stage: progress names its
	// steps without a stage name ("[2/3] COPY ..."), as BuildKit does.
	OneStage bool
	// Target is the stage whose result is the build's output. It is one of Stages.
	Target *Stage
	// Platform is the platform being built for, e.g. "linux/amd64".
	Platform string
	// Warnings are non-fatal findings of the frontend (deprecated syntax,
	// ignored directives), already formatted with their location.
	Warnings []string
	// Violations are the build checks' findings (BuildKit's linter rules)
	// among the Warnings.
	Violations []string
}

// Stage is one FROM section of a Dockerfile.
type Stage struct {
	// Index is the stage's position in the Dockerfile, counting from 0, as used
	// by COPY --from=<index>.
	Index int
	// Name is the stage's AS name, lower-cased; empty when it has none.
	Name string
	// Base is what the stage starts from.
	Base Base
	// Ops are the stage's operations in order. The last op's Config is the
	// stage's final image config.
	Ops []*Op
	// Deps are the stages this stage needs (as base, COPY --from or a mount
	// source), excluding itself. The solver builds them first.
	Deps []*Stage
	// Location is where the stage's FROM line is.
	Location Location
	// Platform is the platform the stage builds for, normalized
	// ("linux/arm/v7"): FROM --platform when given, else the base stage's,
	// else the build's target platform.
	Platform string
}

// String names the stage the way progress output does: its name or its index.
func (s *Stage) String() string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("stage-%d", s.Index)
}

// Base is what a stage starts from: an earlier stage, an image, or nothing.
type Base struct {
	// Stage is set when FROM names an earlier stage.
	Stage *Stage
	// Image is set when FROM names an image; empty for scratch and stages.
	Image *ImageRef
	// Context is set when FROM names a --build-context that is a directory:
	// the stage starts from that context's files (the context's name).
	Context string
}

// Scratch reports whether the stage starts from an empty filesystem.
func (b Base) Scratch() bool { return b.Stage == nil && b.Image == nil && b.Context == "" }

// ImageRef is an image named in a Dockerfile, resolved to a digest before
// lowering so that the plan (and every cache key derived from it) is exact.
type ImageRef struct {
	// Ref is the reference as written, variables expanded ("golang:1.23").
	Ref string
	// Platform is the platform the image was resolved for.
	Platform string
	// Digest is the manifest digest the reference resolved to.
	Digest v1.Hash
	// Config is the image's config file.
	Config *v1.ConfigFile
}

// Kind says what an Op does.
type Kind string

// The kinds of operation.
const (
	// KindRun runs a command in the sandbox; its filesystem changes become a layer.
	KindRun Kind = "RUN"
	// KindCopy copies files (COPY or ADD); the copied files become a layer.
	KindCopy Kind = "COPY"
	// KindMkdir creates a directory with parents (WORKDIR); a layer only if it
	// changed something.
	KindMkdir Kind = "MKDIR"
	// KindConfig changes only the image config (ENV, LABEL, CMD, ...).
	KindConfig Kind = "CONFIG"
)

// Op is one operation of a stage.
type Op struct {
	Kind Kind
	// Location is the instruction's place in the Dockerfile.
	Location Location
	// Instruction is the instruction as written, for progress output.
	Instruction string
	// CreatedBy is the history entry's created_by, as BuildKit writes it.
	CreatedBy string
	// Config is the image config after this op.
	Config v1.Config
	// Author is the image's author after this op (MAINTAINER sets it; else
	// the base image's).
	Author string

	// Exactly one of these is set for RUN, COPY and MKDIR ops.
	Run   *Run
	Copy  *Copy
	Mkdir *Mkdir
}

// Run is a RUN instruction, fully expanded.
type Run struct {
	// Args is the command line: the stage's SHELL plus the command for the
	// shell form, the command itself for the exec form.
	Args []string
	// Env is the process environment: the config's Env plus the build args in
	// scope, as KEY=VALUE.
	Env []string
	// ProxyEnv are the proxy variables from the proxy build args
	// (HTTP_PROXY, http_proxy, ...), added after Env. As in BuildKit, they
	// are not part of the step's cache key: a build behind another proxy
	// finds the same cache.
	ProxyEnv []string `json:",omitempty"`
	// User is the user to run as, unresolved ("", "app", "1000:1000").
	User string
	// Cwd is the working directory, absolute.
	Cwd string
	// Network is "default", "none" or "host".
	Network string
	// Mounts are the --mount options, in order.
	Mounts []Mount
	// Security is SecuritySandbox (the default) or SecurityInsecure.
	Security string
	// Heredocs are files the command reads from, for RUN <<EOF forms.
	Heredocs []Heredoc
}

// The security modes of RUN --security.
const (
	SecuritySandbox  = "sandbox"
	SecurityInsecure = "insecure"
)

// MountType is the type of a RUN --mount.
type MountType string

// The mount types of RUN --mount.
const (
	MountBind   MountType = "bind"
	MountCache  MountType = "cache"
	MountTmpfs  MountType = "tmpfs"
	MountSecret MountType = "secret"
	MountSSH    MountType = "ssh"
)

// Mount is one RUN --mount.
type Mount struct {
	Type MountType
	// From is the mount's source for bind and cache mounts.
	From Source
	// Source is the path inside From ("" for its root).
	Source string
	// Target is the absolute path inside the container.
	Target string
	// ReadOnly is true unless rw was given (bind mounts are read-only by default).
	ReadOnly bool
	// ID identifies a cache mount, a secret or an ssh agent.
	ID string
	// Sharing is "shared", "private" or "locked" for cache mounts.
	Sharing string
	// Required makes a missing secret or ssh agent an error.
	Required bool
	// Env, for secrets, names an environment variable to expose the secret in.
	Env string
	// Mode, UID and GID set the mount's (or secret file's) permissions; nil means default.
	Mode *uint32
	UID  *int
	GID  *int
	// Size limits a tmpfs mount, in bytes; 0 means no limit.
	Size int64
}

// SourceKind says where COPY --from or a mount takes files from.
type SourceKind string

// The kinds of source.
const (
	// SourceContext is the build context (or a named --build-context).
	SourceContext SourceKind = "context"
	// SourceStage is an earlier stage's result.
	SourceStage SourceKind = "stage"
	// SourceImage is an image's filesystem.
	SourceImage SourceKind = "image"
	// SourceNone is an empty, writable directory (a cache mount without from).
	SourceNone SourceKind = ""
)

// Source is where files come from.
type Source struct {
	Kind SourceKind
	// Context names a build context: "" for the main one, else a --build-context name.
	Context string
	// Stage is set for SourceStage.
	Stage *Stage
	// Image is set for SourceImage.
	Image *ImageRef
}

// Copy is a COPY or ADD instruction, fully expanded.
type Copy struct {
	// Add is true for ADD: URLs are downloaded and local tar archives unpacked.
	Add bool
	// From is where the sources are.
	From Source
	// Sources are the source paths or patterns, relative to From's root, or
	// URLs for ADD.
	Sources []string
	// Heredocs are inline files (COPY <<EOF /dst); Sources is then empty.
	Heredocs []Heredoc
	// Dest is the destination, absolute. A trailing "/" means a directory.
	Dest string
	// Chown is the --chown value, unresolved ("", "app", "1000:1000").
	Chown string
	// Chmod is the --chmod value, octal or symbolic ("" for none).
	Chmod string
	// Link is COPY --link.
	Link bool
	// Parents is COPY --parents.
	Parents bool
	// Exclude are the --exclude patterns.
	Exclude []string
	// Checksum is ADD --checksum, "sha256:..." or "".
	Checksum string
	// KeepGitDir is ADD --keep-git-dir.
	KeepGitDir bool
	// Unpack is ADD --unpack: nil means the default (local archives are
	// unpacked, downloaded ones are not).
	Unpack *bool
	// User is the stage's USER at this point (ownership defaults to root
	// regardless; kept for heredoc files that BuildKit creates as root).
	User string
	// Cwd is the WORKDIR the destination was resolved against.
	Cwd string
}

// Heredoc is an inline file of a RUN, COPY or ADD instruction.
type Heredoc struct {
	// Name is the heredoc's word ("EOF") for RUN, or the destination file
	// name for COPY.
	Name string
	// Content is the body, expanded unless the word was quoted.
	Content string
	// Chomp is true for <<- (leading tabs removed).
	Chomp bool
	// FileDescriptor is the fd a RUN heredoc feeds (0 for stdin).
	FileDescriptor int
}

// Mkdir is the directory creation WORKDIR implies.
type Mkdir struct {
	// Path is absolute.
	Path string
	// User owns the created directories, unresolved ("" means root).
	User string
}

// Location is a place in a Dockerfile.
type Location struct {
	// File is the Dockerfile's path as the user gave it.
	File string
	// Line and EndLine are 1-based and inclusive.
	Line, EndLine int
}

func (l Location) String() string {
	if l.Line == 0 {
		return l.File
	}
	return fmt.Sprintf("%s:%d", l.File, l.Line)
}
