package compat

import (
	"testing"

	"github.com/whittle-build/whittle/internal/testutil"
)

// compatCase is one Dockerfile that every builder builds.
type compatCase struct {
	// name is the directory under testdata/compat (or the example's name).
	name string
	// example is the directory under examples/ for the examples' cases.
	example string
	// dockerfile is the Dockerfile's name in the directory; default "Dockerfile".
	dockerfile string
	// bases are the fixture bases the Dockerfile builds FROM (see bases).
	bases []string
	// buildArgs are --build-arg values; target is --target.
	buildArgs map[string]string
	target    string
	// gitRepo is a directory of the case whose files become a Git
	// repository (main, tag v1) served on 127.0.0.1; the build arg REPO is
	// its URL.
	gitRepo string
	// http serves the files of serveHTTP on 127.0.0.1; the build arg URL
	// is its address.
	http bool
	// secrets are --secret id=ID,src=FILE values, by id: the content of
	// a file the test writes.
	secrets map[string]string
	// ssh are the ids of --ssh ID=SOCKET values, each an agent the test
	// serves.
	ssh []string
	// labels are --label values; hosts are --add-host NAME:IP values.
	labels map[string]string
	hosts  []string
	// platform is the --platform built for; default the host's.
	platform string
	// setup adds to the copied context what git cannot keep (archives,
	// hard links, special modes); keepTimes are the context paths whose
	// times setup chose (every other one gets contextTime).
	setup     func(t *testing.T, dir string)
	keepTimes []string
	// mtimes are globs of image paths whose modification times are compared.
	mtimes []string
	// layers compares the layer count and the empty_layer marks of history;
	// wantHistory, when set, is what whittle's must be ("L" a layer, "-"
	// none, one mark per history entry).
	layers      bool
	wantHistory string
	// buildahLayers builds with buildah --layers (a layer per instruction),
	// for cases about what happens across layers.
	buildahLayers bool
	// buildahUnsupported says why buildah 1.28 refuses the Dockerfile: its
	// failure is then logged, not an error (and a buildah that builds it
	// is compared as usual).
	buildahUnsupported string
	// tolerate are the documented differences of this case.
	tolerate []tolerance
	// uniqueArg names a build arg that gets a value new in every run (for
	// cache mount ids, which outlive a run).
	uniqueArg string
	// slow cases (toolchain images) are left out with -short.
	slow bool
}

func (c compatCase) dir(t *testing.T) string {
	if c.example != "" {
		return testutil.RepoPath(t, "examples", c.example)
	}
	return testutil.RepoPath(t, "testdata", "compat", c.name)
}

func (c compatCase) dockerfileName() string {
	if c.dockerfile == "" {
		return "Dockerfile"
	}
	return c.dockerfile
}

// globalTolerances are the documented differences of every case.
func globalTolerances() []tolerance {
	return append([]tolerance{
		{peer: "buildkit", field: "history.empty-layer",
			reason: "whittle adds no layer for an instruction that changes nothing (BuildKit adds one without files)"},
		{peer: "buildah", field: "config.Labels", path: "io.buildah.version",
			reason: "buildah labels every image with its version"},
	}, tol("buildah", "presence", "buildah leaves the mount points of a RUN's /etc/hosts, /etc/hostname, /etc/resolv.conf and /run in the image",
		"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run")...)
}

// tol returns the tolerance of field for each path (or for any path).
func tol(peer, field, reason string, paths ...string) []tolerance {
	if len(paths) == 0 {
		return []tolerance{{peer: peer, field: field, reason: reason}}
	}
	out := make([]tolerance, 0, len(paths))
	for _, p := range paths {
		out = append(out, tolerance{peer: peer, field: field, path: p, reason: reason})
	}
	return out
}

// join concatenates tolerance lists.
func join(lists ...[]tolerance) []tolerance {
	var out []tolerance
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// compatCases are the cases; testdata/compat/README.md describes each.
func compatCases() []compatCase {
	bb := []string{"busybox"}
	return []compatCase{
		{name: "arg-env", bases: bb, tolerate: join(
			tol("buildah", "content", "buildah: an ARG declared after an ENV of the same name does not change what RUN sees (BuildKit: the ARG's value)", "/arg-scope"),
			tol("buildah", "presence", "buildah: WORKDIR expands such a variable with the ENV's value", "/from-env", "/from-later-arg"),
			tol("buildah", "config.WorkingDir", "buildah: WORKDIR expands such a variable with the ENV's value"))},
		{name: "global-arg-from", bases: bb,
			buildahUnsupported: "buildah 1.28 does not take a stage name from an ARG in FROM (it pulls an image of that name)"},
		{name: "build-args", bases: bb,
			buildArgs: map[string]string{"GREETING": "hello", "NAME": "world", "UNDECLARED": "nope"}},
		{name: "add-git", bases: bb, gitRepo: "repo",
			buildahUnsupported: "buildah 1.28 does not ADD Git repositories"},
		{name: "add-http", bases: bb, http: true,
			buildahUnsupported: "buildah 1.28 does not have ADD --unpack",
			mtimes: []string{"/plain.txt", "/dir/*", "/remote/*", "/unpacked/**", "/usr/local/bin/script.sh",
				"/owned.txt", "/checked.txt", "/nolm/*", "/query/*", "/root-url/*", "/cd/*"}},
		{name: "run-mount-secret", bases: bb, secrets: map[string]string{"token": "s3cret-value\n"},
			tolerate: tol("buildah", "presence", "buildah leaves a secret's mount point and the directories it made for it",
				"/etc/app", "/run/secrets")},
		{name: "run-mount-ssh", bases: bb, ssh: []string{"default", "other"}, tolerate: join(
			tol("buildah", "presence", "buildah leaves the directory it made for the agent's socket", "/run/buildkit"),
			tol("buildah", "content", "buildah sets no SSH_AUTH_SOCK for an agent it was not given (BuildKit: the path of the socket that is not there)", "/sock-absent"),
			tol("buildah", "content", "buildah's agent socket is 0620 (BuildKit: the mount's default mode, 0600)", "/stat-default"))},
		{name: "build-flags", bases: bb,
			labels: map[string]string{"org.opencontainers.image.title": "from-flag", "org.opencontainers.image.revision": "abc123"},
			hosts:  []string{"db:10.0.0.7", "six:2001:db8::1"},
			tolerate: tol("buildah", "content", "buildah's /etc/hosts also has the host's entries and the container's address",
				"/hosts-builder", "/hosts-final")},
		{name: "workdir", bases: bb, tolerate: tol("buildah", "presence",
			"buildah creates a WORKDIR only when a later instruction needs it (BuildKit always)",
			"/a", "/a/b", "/as-1234", "/home/app/work/deep/relative", "/home/app/work/deep/relative/dir")},
		{name: "user", bases: bb},
		{name: "syntax", bases: bb},
		{name: "expansion", bases: bb, tolerate: join(
			tol("buildah", "mode", "buildah makes the directories COPY creates 0755 whatever --chmod says (BuildKit gives them an octal --chmod's permissions)", "/dest"),
			tol("buildah", "presence", "buildah makes each VOLUME's directory", "/work/vol"))},
		{name: "user-debian", bases: []string{"debian"}},
		{name: "copy-rules", bases: bb},
		{name: "names", bases: bb, setup: setupNames},
		{name: "copy-over", bases: bb, tolerate: join(
			tol("buildah", "content", "buildah replaces a symlink to a file that COPY writes onto (BuildKit writes its target)", "/files/f"),
			tol("buildah", "type", "buildah replaces a symlink to a file that COPY writes onto (BuildKit writes its target)", "/to-file"),
			tol("buildah", "type", "buildah makes a dangling symlink's target a directory when COPY writes onto it (BuildKit: the file)", "/nowhere"),
			tol("buildah", "presence", "buildah makes a dangling symlink's target a directory when COPY writes onto it (BuildKit: the file)", "/nowhere/a.txt"))},
		{name: "copy-empty-wildcard", bases: bb,
			buildahUnsupported: "buildah 1.28 fails on a wildcard that matches nothing"},
		{name: "copy-chown-chmod", bases: bb, tolerate: tol("buildah", "mode",
			"buildah makes the directories COPY creates 0755 whatever --chmod says (BuildKit gives them an octal --chmod's permissions)",
			"/chmod-dir", "/made", "/made/by", "/made/by/chmod", "/new", "/new/parents")},
		{name: "chown-ids", bases: bb},
		{name: "copy-xattrs", bases: bb, setup: setupXattrs, tolerate: tol("buildkit", "xattrs",
			"BuildKit v0.34's image layers carry no extended attributes of the files COPY wrote (its type=tar output has the user.* ones; security.capability is lost either way, moby/buildkit#2250); whittle and buildah keep them",
			"/ctx/tool", "/ctx/note", "/chowned/tool", "/from-stage/tool", "/from-stage/note")},
		{name: "run-seccomp", bases: bb, tolerate: tol("buildah", "content",
			"buildah's seccomp profile (containers-common's) lets a RUN step make a user namespace; Docker's, BuildKit's and whittle's do not",
			"/unshare-user")},
		{name: "workdir-unknown-user", bases: bb, tolerate: tol("buildah", "owner",
			"buildah makes WORKDIR's directory root's when the USER's group is unknown (BuildKit keeps the known user)",
			"/unknown-group", "/uid-unknown-group")},
		{name: "copy-chmod-symbolic", bases: bb,
			buildahUnsupported: "buildah 1.28 parses only octal --chmod"},
		{name: "copy-from", bases: bb},
		{name: "copy-parents", bases: bb,
			buildahUnsupported: "buildah 1.28 has no COPY --parents"},
		{name: "copy-exclude", bases: bb,
			buildahUnsupported: "buildah 1.28 has no COPY --exclude"},
		{name: "copy-link", bases: bb,
			buildahUnsupported: "buildah 1.28 has no COPY --link"},
		{name: "add-archives", bases: bb, setup: setupArchives,
			mtimes: []string{"/plain/**", "/gz/**", "/bz2/**", "/xz/**", "/zst/**"}},
		{name: "add-unpack", bases: bb, setup: setupArchives,
			buildahUnsupported: "buildah 1.28 has no ADD --unpack"},
		{name: "dockerignore", bases: bb},
		{name: "links", bases: bb, setup: setupLinks, buildahLayers: true,
			tolerate: tol("", "hardlinks", "whittle: a RUN that hard-links a file of a lower layer keeps the file and the link together in its layer (BuildKit writes the link as a copy)",
				"/files/hard", "/files/target.txt", "/run-hard")},
		{name: "run-forms", bases: bb},
		{name: "shell", bases: bb, tolerate: tol("buildah", "config.Cmd",
			"buildah: a shell-form CMD ignores SHELL (BuildKit uses it)")},
		{name: "heredocs", bases: bb, buildahUnsupported: "buildah 1.28 has no heredocs"},
		{name: "run-mount-bind", bases: bb, tolerate: tol("buildah", "presence",
			"buildah leaves the directories it made for a mount point's parents", "/mnt")},
		{name: "run-mount-cache", bases: bb, uniqueArg: "CACHE", tolerate: tol("buildah", "presence",
			"buildah leaves a cache mount's mount point and its parents", "/var", "/var/cache", "/var/cache/c")},
		{name: "run-mount-tmpfs", bases: bb, tolerate: tol("buildah", "presence",
			"buildah drops the base's /tmp after a tmpfs was mounted on it", "/tmp")},
		{name: "entrypoint-reset", bases: bb},
		{name: "entrypoint-cmd", bases: bb},
		{name: "expose", bases: bb, tolerate: tol("buildah", "config.ExposedPorts",
			"buildah keeps a port range as one entry (BuildKit lists each port)")},
		{name: "volume", bases: bb, tolerate: join(
			tol("buildah", "presence", "buildah makes each VOLUME's directory", "/from-arg", "/json", "/two words"),
			tol("buildah", "presence", "buildah drops what a RUN writes into a VOLUME's directory (the classic builder's rule; BuildKit keeps it)", "/data/written-after-volume"))},
		{name: "label", bases: bb},
		{name: "stopsignal", bases: bb},
		{name: "healthcheck", bases: bb,
			buildahUnsupported: "buildah 1.28 has no HEALTHCHECK --start-interval"},
		{name: "onbuild", bases: bb},
		{name: "target", bases: bb, target: "middle"},
		{name: "platform-cross", bases: bb, platform: "linux/arm64", tolerate: tol("buildah", "config.WorkingDir",
			"buildah leaves a scratch image's WorkingDir empty (BuildKit: /)")},
		{name: "whiteout", bases: bb, buildahLayers: true},
		{name: "opaque", bases: bb, buildahLayers: true},
		{name: "setuid", bases: bb},
		{name: "empty-run", bases: bb, layers: true, wantHistory: "LL---L-", buildahLayers: true,
			tolerate: []tolerance{{field: "layers", peerValue: "6 layers, history LLL-LLL",
				reason: "whittle adds no layer for a RUN that changes nothing (BuildKit and buildah add an empty one)"}}},
		{name: "mtimes", bases: bb, setup: setupMtimes, keepTimes: mtimeKeep(),
			mtimes: []string{"/files/*", "/dir", "/dir/**", "/dir-named", "/dir-named/**", "/touched", "/unpacked/**"},
			tolerate: join(
				tol("buildah", "mtime", "buildah gives the directory a directory's contents are copied into the time of the copy", "/dir", "/dir-named"),
				tol("buildah", "mtime", "buildah rounds sub-second times of context files", "/files/new.txt"))},

		{name: "example-go", example: "go", bases: []string{"golang", "static"}, slow: true},
		{name: "example-go-single", example: "go", dockerfile: "Dockerfile.single", bases: []string{"golang"}, slow: true,
			tolerate: join(
				tol("", "content", "the Go build cache in /root/.cache/go-build holds the times of the build", "/root/.cache/go-build/**"),
				tol("", "presence", "the Go build cache in /root/.cache/go-build holds the times of the build", "/root/.cache/go-build/**"))},
		{name: "example-python", example: "python", bases: []string{"python", "python3"}, slow: true},
		{name: "example-python-single", example: "python", dockerfile: "Dockerfile.single", bases: []string{"python"}, slow: true},
	}
}
