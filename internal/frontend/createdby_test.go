package frontend_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/whittle-build/whittle/internal/frontend"
)

// The expected lines below are what BuildKit v0.34.2's dockerfile2llb writes
// for the same Dockerfiles (checked by running it on them).
func TestCreatedBy(t *testing.T) {
	tests := []struct {
		name string
		df   string
		opts frontend.Options
		want []string
	}{
		{
			name: "env run cmd",
			df:   "FROM busybox\nENV A=1 B=\"x y\"\nENV C $A-$B\nRUN echo $A\nCMD echo hi\n",
			want: []string{"ENV A=1 B=x y", "ENV C=1-x y", "RUN /bin/sh -c echo $A # buildkit", `CMD ["/bin/sh" "-c" "echo hi"]`},
		},
		{
			name: "args with build args",
			df:   "ARG V=1\nFROM busybox\nARG V\nARG W=2\nRUN echo $V $W\nARG V=3\nARG UNSET\nRUN echo $V\n",
			opts: frontend.Options{BuildArgs: map[string]string{"W": "9"}},
			want: []string{"ARG V=1", "ARG W=9", "RUN |2 V=1 W=9 /bin/sh -c echo $V $W # buildkit", "ARG V=3", "ARG UNSET",
				"RUN |3 V=3 W=9 UNSET= /bin/sh -c echo $V # buildkit"},
		},
		{
			name: "repeated arg keeps first place and last value",
			df:   "FROM busybox\nARG foo=bar\nARG bar=123\nARG foo=bar2\nRUN ls /etc/\n",
			want: []string{"ARG foo=bar", "ARG bar=123", "ARG foo=bar2", "RUN |2 foo=bar2 bar=123 /bin/sh -c ls /etc/ # buildkit"},
		},
		{
			name: "workdir user copy exec form",
			df:   "FROM golang:1.23\nWORKDIR $GOPATH/src/app\nRUN go build\nUSER 1000:1000\nWORKDIR sub\nCOPY . .\nCOPY a b ./x/\nCOPY c ..\nRUN [\"go\",\"test\",\"./...\"]\n",
			want: []string{"WORKDIR /go/src/app", "RUN /bin/sh -c go build # buildkit", "USER 1000:1000", "WORKDIR /go/src/app/sub",
				"COPY . . # buildkit", "COPY a b ./x/ # buildkit", "COPY c .. # buildkit", "RUN go test ./... # buildkit"},
		},
		{
			name: "copy flags",
			df:   "FROM scratch\nCOPY --chown=1:2 --chmod=755 a /b\nCOPY --link --exclude=*.md --parents x/./y /z/\nENTRYPOINT [\"/b\"]\nCMD [\"x\"]\n",
			want: []string{"COPY --chown=1:2 --chmod=755 a /b # buildkit", "COPY --parents x/./y /z/ # buildkit", `ENTRYPOINT ["/b"]`, `CMD ["x"]`},
		},
		{
			name: "shell",
			df:   "FROM busybox\nSHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]\nRUN echo a | cat\nCMD echo b\nENTRYPOINT exec x\n",
			want: []string{"SHELL [/bin/bash -eo pipefail -c]", "RUN /bin/bash -eo pipefail -c echo a | cat # buildkit",
				`CMD ["/bin/bash" "-eo" "pipefail" "-c" "echo b"]`, `ENTRYPOINT ["/bin/bash" "-eo" "pipefail" "-c" "exec x"]`},
		},
		{
			name: "metadata instructions",
			df: `FROM busybox
ENV PORT=8080
EXPOSE $PORT 53/udp 9000-9002 80/TCP
VOLUME /data ["/a", "/b"]
VOLUME $PORT
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --start-interval=1s --retries=3 CMD curl -f http://localhost/ || exit 1
LABEL org.opencontainers.image.title="my app" version=1 multi="a b"
MAINTAINER Jane Doe <jane@example.com>
USER nobody
ONBUILD RUN echo later
`,
			want: []string{"ENV PORT=8080", "EXPOSE [8080/tcp 53/udp 80/tcp 9000/tcp 9001/tcp 9002/tcp]", "VOLUME [/data [/a, /b]]", "VOLUME [8080]",
				"STOPSIGNAL SIGTERM",
				"HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/ || exit 1] Interval:30s Timeout:3s StartPeriod:5s StartInterval:1s Retries:3}",
				"LABEL org.opencontainers.image.title=my app version=1 multi=a b", "MAINTAINER Jane Doe <jane@example.com>", "USER nobody"},
		},
		{
			name: "healthcheck none",
			df:   "FROM busybox\nHEALTHCHECK CMD [\"true\"]\nHEALTHCHECK NONE\n",
			want: []string{"HEALTHCHECK {Test:[CMD true] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}",
				"HEALTHCHECK {Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}"},
		},
		{
			name: "heredocs",
			df: `FROM busybox
RUN <<EOF
echo one
echo two
EOF
RUN <<EOF bash
echo in bash
EOF
RUN <<-EOF
	#!/usr/bin/env python3
	print("hi")
	EOF
RUN <<A cat > /a && <<B cat > /b
aaa
A
bbb
B
ENV NAME=world
COPY <<EOF /greeting
hello $NAME
EOF
COPY <<one <<two /dir/
1
one
2
two
`,
			want: []string{"RUN /bin/sh -c echo one\necho two\n # buildkit", "RUN /bin/sh -c <<EOF bash\necho in bash\nEOF # buildkit",
				"RUN /bin/sh -c /dev/pipes/EOF # buildkit", "RUN /bin/sh -c <<A cat > /a && <<B cat > /b\naaa\nA\nbbb\nB # buildkit",
				"ENV NAME=world", "COPY <<EOF /greeting # buildkit", "COPY <<one <<two /dir/ # buildkit"},
		},
		{
			name: "env overrides arg in the run line",
			df:   "FROM busybox\nARG X=1\nENV X=2\nRUN echo $X\nARG Y\nRUN echo y\n",
			opts: frontend.Options{BuildArgs: map[string]string{"Y": "from-cli"}},
			want: []string{"ARG X=1", "ENV X=2", "RUN |1 X=2 /bin/sh -c echo $X # buildkit", "ARG Y=from-cli", "RUN |2 X=2 Y=from-cli /bin/sh -c echo y # buildkit"},
		},
		{
			name: "add",
			df:   "FROM busybox\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tar.gz /a/\nADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.10.1 /bk\nADD --unpack=true --chown=app:app local.tar.gz rel/\n",
			want: []string{"ADD https://example.com/a.tar.gz /a/ # buildkit", "ADD https://github.com/moby/buildkit.git#v0.10.1 /bk # buildkit", "ADD --chown=app:app local.tar.gz rel/ # buildkit"},
		},
		{
			name: "workdir slash is a config change",
			df:   "FROM labelled\nLABEL extra=1\nWORKDIR /\n",
			want: []string{"LABEL extra=1", "WORKDIR /"},
		},
		{
			name: "arg default expands the environment",
			df:   "FROM busybox\nENV BASE=/opt\nARG DIR=$BASE/app\nRUN echo $DIR\n",
			want: []string{"ENV BASE=/opt", "ARG DIR=/opt/app", "RUN |1 DIR=/opt/app /bin/sh -c echo $DIR # buildkit"},
		},
		{
			name: "global arg only after redeclaring",
			df:   "ARG VERSION=1.0\nFROM busybox\nRUN echo $VERSION\nARG VERSION\nRUN echo $VERSION\n",
			want: []string{"RUN /bin/sh -c echo $VERSION # buildkit", "ARG VERSION=1.0", "RUN |1 VERSION=1.0 /bin/sh -c echo $VERSION # buildkit"},
		},
		{
			name: "build arg overrides global default",
			df:   "ARG VERSION=1.0\nFROM busybox\nARG VERSION\nRUN echo $VERSION\n",
			opts: frontend.Options{BuildArgs: map[string]string{"VERSION": "2.0"}},
			want: []string{"ARG VERSION=2.0", "RUN |1 VERSION=2.0 /bin/sh -c echo $VERSION # buildkit"},
		},
		{
			name: "escape directive",
			df:   "# escape=`\nFROM busybox\nENV A=`$notvar\nRUN echo `\n  hello\n",
			want: []string{"ENV A=$notvar", "RUN /bin/sh -c echo   hello # buildkit"},
		},
		{
			name: "legacy key value form",
			df:   "FROM busybox\nENV A 1\nLABEL b 2\n",
			want: []string{"ENV A=1", "LABEL b=2"},
		},
		{
			name: "undefined variables expand to nothing",
			df:   "FROM busybox\nENV A=$UNDEF\nCOPY $SRC /x\n",
			want: []string{"ENV A=", "COPY  /x # buildkit"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := lower(t, tt.df, tt.opts)
			if diff := cmp.Diff(tt.want, history(p.Target)); diff != "" {
				t.Errorf("created_by (-want +got):\n%s", diff)
			}
		})
	}
}

// A stage built on another repeats the args of its base in its RUN lines,
// and ONBUILD triggers of the base stage or image run first.
func TestCreatedByAcrossStages(t *testing.T) {
	tests := []struct {
		name string
		df   string
		want []string
	}{
		{
			name: "inherited args",
			df:   "FROM busybox AS a\nARG A=1\nENV E=e\nRUN echo a\nFROM a\nARG B=2\nRUN echo b\n",
			want: []string{"ARG B=2", "RUN |2 A=1 B=2 /bin/sh -c echo b # buildkit"},
		},
		{
			name: "onbuild of the base stage",
			df:   "FROM busybox AS base\nONBUILD RUN echo hi\nONBUILD ENV X=1\nRUN echo base\nFROM base\nRUN echo child $X\n",
			want: []string{"RUN /bin/sh -c echo hi # buildkit", "ENV X=1", "RUN /bin/sh -c echo child $X # buildkit"},
		},
		{
			name: "onbuild of the base image",
			df:   "FROM busybox AS helper\nRUN touch /x\nFROM onbuildimg\nRUN echo after\n",
			want: []string{"RUN /bin/sh -c echo triggered $PATH # buildkit", "ENV FROMTRIGGER=1", "COPY /x /y # buildkit", "RUN /bin/sh -c echo after # buildkit"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := lower(t, tt.df, frontend.Options{})
			if diff := cmp.Diff(tt.want, history(p.Target)); diff != "" {
				t.Errorf("created_by (-want +got):\n%s", diff)
			}
		})
	}
}
