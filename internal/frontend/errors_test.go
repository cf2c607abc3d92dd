package frontend_test

import (
	"context"
	"errors"
	"testing"

	"github.com/whittle-build/whittle/internal/frontend"
)

// The messages after the location are BuildKit v0.34.2's for the same
// Dockerfiles; the location is the line BuildKit attaches, or for the few
// errors where it attaches none, the instruction's line.
func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		df   string
		opts frontend.Options
		want string
	}{
		{"empty", "", frontend.Options{}, "Dockerfile: the Dockerfile cannot be empty"},
		{"only comments", "# nothing\n", frontend.Options{}, "Dockerfile:1: file with no instructions"},
		{"no FROM", "ARG A=1\n", frontend.Options{}, "Dockerfile: dockerfile contains no stages to build"},
		{"instruction before FROM", "RUN true\nFROM busybox\n", frontend.Options{}, "Dockerfile:1: no build stage in current context"},
		{"unknown instruction", "FROM busybox\nRUNN echo\n", frontend.Options{}, "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)"},
		{"file name", "FROM busybox\n\nRUNN echo\n", frontend.Options{Filename: "build/app.Dockerfile"}, "build/app.Dockerfile:3: unknown instruction: RUNN (did you mean RUN?)"},
		{"unknown target", "FROM busybox AS build\n", frontend.Options{Target: "biuld"}, `Dockerfile: target stage "biuld" could not be found (did you mean build?)`},
		{"cycle", "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n", frontend.Options{}, "Dockerfile:2: circular dependency detected on stage: a"},
		{"self reference", "FROM busybox AS a\nCOPY --from=a /x /x\n", frontend.Options{}, "Dockerfile:2: circular dependency detected on stage: a"},
		{"forward reference", "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nRUN x\n", frontend.Options{Target: "a"},
			`Dockerfile:2: cannot copy from stage "b", it needs to be defined before current stage "a"`},
		{"forward mount", "FROM busybox AS a\nRUN --mount=from=b,target=/b x\nFROM busybox AS b\nRUN x\n", frontend.Options{Target: "a"},
			`Dockerfile:2: cannot mount from stage "b" to "/b", stage needs to be defined before current command`},
		{"bad stage index", "FROM busybox\nCOPY --from=5 /a /b\n", frontend.Options{}, "Dockerfile:2: invalid stage index 5"},
		{"variable in --from", "FROM busybox\nARG S=a\nCOPY --from=$S /x /x\n", frontend.Options{},
			"Dockerfile:3: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround"},
		{"bad chmod", "FROM busybox\nCOPY --chmod=999 a /b\n", frontend.Options{}, "Dockerfile:2: invalid chmod parameter: '999'. it should be octal string and between 0 and 07777"},
		{"bad symbolic chmod", "FROM busybox\nCOPY --chmod=u+q a /b\n", frontend.Options{}, "Dockerfile:2: invalid syntax"},
		{"URL in COPY", "FROM busybox\nCOPY https://example.com/x /x\n", frontend.Options{}, "Dockerfile:2: source can't be a URL for COPY"},
		{"git in COPY", "FROM busybox\nCOPY https://github.com/moby/buildkit.git#v0.10.1 /x\n", frontend.Options{}, "Dockerfile:2: source can't be a git ref for COPY"},
		{"checksum of a local file", "FROM busybox\nADD --checksum=sha256:abc a /a\n", frontend.Options{}, "Dockerfile:2: checksum requires HTTP(S) or Git sources"},
		{"--link with a user name", "FROM busybox\nCOPY --link --chown=app a /b\n", frontend.Options{},
			"Dockerfile:2: --chown=app: user and group names can't be resolved when used with --link, use numeric uid[:gid] instead"},
		{"bad signal", "FROM busybox\nSTOPSIGNAL SIGFOO\n", frontend.Options{}, "Dockerfile:2: invalid signal: SIGFOO"},
		{"empty volume", "FROM busybox\nENV E=\nVOLUME $E\n", frontend.Options{}, "Dockerfile:3: VOLUME specified can not be an empty string"},
		{"bad port", "FROM busybox\nEXPOSE 80/xyz\n", frontend.Options{}, `Dockerfile:2: invalid port: "80/xyz": invalid proto: xyz`},
		{"mount on /", "FROM busybox\nRUN --mount=type=bind,target=/ x\n", frontend.Options{}, `Dockerfile:2: invalid mount target "/"`},
		{"bad mount type", "FROM busybox\nRUN --mount=type=bnd,target=/x x\n", frontend.Options{}, `Dockerfile:2: unsupported mount type "bnd" (did you mean bind?)`},
		{"bad network", "FROM busybox\nRUN --network=bridge x\n", frontend.Options{}, `Dockerfile:2: invalid network mode "bridge"`},
		{"unterminated heredoc", "FROM busybox\nRUN <<EOF\necho\n", frontend.Options{}, "Dockerfile:2: unterminated heredoc"},
		{"ONBUILD ONBUILD", "FROM busybox\nONBUILD ONBUILD RUN x\n", frontend.Options{}, "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
		{"ONBUILD FROM", "FROM busybox\nONBUILD FROM x\n", frontend.Options{}, "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"},
		{"ONBUILD MAINTAINER", "FROM busybox\nONBUILD MAINTAINER x\n", frontend.Options{}, "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger"},
		{"bad trigger of a base stage", "FROM busybox AS base\nONBUILD RUNN x\nFROM base\n", frontend.Options{}, "Dockerfile:3: unknown instruction: RUNN (did you mean RUN?)"},
		{"invalid reference even in an unused stage", "FROM busybox AS ok\nFROM Not_Valid AS bad\nFROM ok\n", frontend.Options{},
			`Dockerfile:2: failed to parse stage name "Not_Valid": invalid reference format: repository name (library/Not_Valid) must be lowercase`},
		{"missing image", "FROM busybox AS build\nFROM biuld\n", frontend.Options{}, `Dockerfile:2: resolving image "biuld" for linux/amd64: biuld: not found (did you mean build?)`},
		{"blank FROM", "FROM $NOTHING\n", frontend.Options{}, "Dockerfile:1: base name ($NOTHING) should not be blank"},
		{"bad FROM platform", "FROM --platform=nope busybox\n", frontend.Options{}, `Dockerfile:1: failed to parse platform nope: "nope": unknown operating system or architecture: invalid argument`},
		{"bad stage name", "FROM busybox AS 1st\n", frontend.Options{}, `Dockerfile:1: invalid name for build stage: "1st", name can't start with a number or contain symbols`},
		{"bad target platform", "FROM busybox\n", frontend.Options{Platform: "nope/x/y/z"}, `Dockerfile: parsing platform "nope/x/y/z": "nope/x/y/z": cannot parse platform specifier: invalid argument`},
		{"RUN without a command", "FROM busybox\nRUN []\n", frontend.Options{}, "Dockerfile:2: arguments are required"},
		{"RUN --device", "FROM busybox\nRUN --device=nvidia.com/gpu=all x\n", frontend.Options{}, "Dockerfile:2: RUN --device is not supported by whittle"},
		{"lint errors on request", "# check=error=true\nFROM busybox\nCMD echo\n", frontend.Options{},
			"Dockerfile: lint violation found for rules: JSONArgsRecommended\nDockerfile:3: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals"},
		{"bad build context", "FROM busybox\n", frontend.Options{BuildContexts: map[string]string{"x": "git://example.com/r"}},
			`Dockerfile: build context "x": unsupported context source git (use a directory, docker-image:// or oci-layout://)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Resolver = newResolver()
			opts.BuildPlatform = "linux/amd64"
			_, err := frontend.Lower(context.Background(), []byte(tt.df), opts)
			if err == nil {
				t.Fatalf("Lower succeeded, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %q\nwant %q", err.Error(), tt.want)
			}
			var fe *frontend.Error
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *frontend.Error", err)
			}
		})
	}
}

// A cancelled context reaches the resolver and fails the lowering.
func TestResolverCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := resolverFunc(func(ctx context.Context, ref, platform string) error { return ctx.Err() })
	_, err := frontend.Lower(ctx, []byte("FROM busybox\n"), frontend.Options{Resolver: r})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// Without a resolver, Dockerfiles that name no image still lower.
func TestNoResolver(t *testing.T) {
	if _, err := frontend.Lower(context.Background(), []byte("FROM scratch AS a\nFROM a\nCOPY x /\n"), frontend.Options{}); err != nil {
		t.Fatalf("Lower: %v", err)
	}
	_, err := frontend.Lower(context.Background(), []byte("FROM busybox\n"), frontend.Options{})
	if want := `Dockerfile: image "busybox" is needed but no image resolver was given`; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}
