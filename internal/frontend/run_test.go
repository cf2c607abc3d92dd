package frontend_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/whittle-build/whittle/internal/frontend"
	"github.com/whittle-build/whittle/internal/plan"
)

func ptr[T any](v T) *T { return &v }

// The environments, working directories and users are what BuildKit v0.34.2
// puts in its exec ops for the same Dockerfiles.
func TestRun(t *testing.T) {
	tests := []struct {
		name string
		df   string
		opts frontend.Options
		want []*plan.Run
	}{
		{
			name: "shell and exec form",
			df:   "FROM busybox\nRUN echo $HOME\nRUN [\"/bin/echo\", \"a b\"]\n",
			want: []*plan.Run{
				{Args: []string{"/bin/sh", "-c", "echo $HOME"}, Env: []string{defaultPath}, Cwd: "/", Network: "default", Security: "sandbox"},
				{Args: []string{"/bin/echo", "a b"}, Env: []string{defaultPath}, Cwd: "/", Network: "default", Security: "sandbox"},
			},
		},
		{
			name: "args join the environment, config env moves last in a child stage",
			df:   "FROM busybox AS a\nARG A=1\nENV E=e\nRUN echo a\nFROM a\nARG B=2\nRUN echo b\n",
			opts: frontend.Options{Target: ""},
			want: []*plan.Run{
				{Args: []string{"/bin/sh", "-c", "echo b"}, Env: []string{"A=1", defaultPath, "E=e", "B=2"}, Cwd: "/", Network: "default", Security: "sandbox"},
			},
		},
		{
			name: "user, workdir, PATH default and proxy args",
			df:   "FROM noenv\nUSER root\nWORKDIR /srv\nARG N=1\nRUN id\n",
			opts: frontend.Options{BuildArgs: map[string]string{"http_proxy": "http://p:3128", "NO_PROXY": "localhost"}},
			want: []*plan.Run{
				{Args: []string{"/bin/sh", "-c", "id"}, Env: []string{"HOME=/home/app", defaultPath, "N=1"},
					ProxyEnv: []string{"HTTP_PROXY=http://p:3128", "http_proxy=http://p:3128", "NO_PROXY=localhost", "no_proxy=localhost"},
					User:     "root", Cwd: "/srv", Network: "default", Security: "sandbox"},
			},
		},
		{
			name: "base image WORKDIR and USER apply to RUN",
			df:   "FROM labelled\nRUN pwd\n",
			want: []*plan.Run{
				{Args: []string{"/bin/sh", "-c", "pwd"}, Env: []string{"PATH=/bin", "A=base"}, User: "www", Cwd: "/srv", Network: "default", Security: "sandbox"},
			},
		},
		{
			name: "network and security",
			df:   "FROM busybox\nRUN --network=none --security=insecure true\nRUN --network=host true\n",
			want: []*plan.Run{
				{Args: []string{"/bin/sh", "-c", "true"}, Env: []string{defaultPath}, Cwd: "/", Network: "none", Security: "insecure"},
				{Args: []string{"/bin/sh", "-c", "true"}, Env: []string{defaultPath}, Cwd: "/", Network: "host", Security: "sandbox"},
			},
		},
		{
			name: "SHELL",
			df:   "FROM busybox\nSHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]\nRUN a | b\n",
			want: []*plan.Run{
				{Args: []string{"/bin/bash", "-eo", "pipefail", "-c", "a | b"}, Env: []string{defaultPath}, Cwd: "/", Network: "default", Security: "sandbox"},
			},
		},
		{
			name: "heredocs",
			df: "FROM busybox\nRUN <<EOF\necho one\necho two\nEOF\n" +
				"RUN <<EOF bash\necho in bash\nEOF\n" +
				"RUN <<-EOF\n\t#!/usr/bin/env python3\n\tprint(\"hi\")\n\tEOF\n" +
				"RUN 3<<A cat <&3 && <<B cat\naaa\nA\nbbb\nB\n",
			want: []*plan.Run{
				{Args: []string{"/bin/sh", "-c", "echo one\necho two\n"}, Env: []string{defaultPath}, Cwd: "/", Network: "default", Security: "sandbox"},
				{Args: []string{"/bin/sh", "-c", "<<EOF bash\necho in bash\nEOF"}, Env: []string{defaultPath}, Cwd: "/", Network: "default", Security: "sandbox"},
				{Args: []string{"/bin/sh", "-c", "/dev/pipes/EOF"}, Env: []string{defaultPath}, Cwd: "/", Network: "default", Security: "sandbox",
					Heredocs: []plan.Heredoc{{Name: "EOF", Content: "#!/usr/bin/env python3\nprint(\"hi\")\n", Chomp: true}}},
				{Args: []string{"/bin/sh", "-c", "3<<A cat <&3 && <<B cat\naaa\nA\nbbb\nB"}, Env: []string{defaultPath}, Cwd: "/", Network: "default", Security: "sandbox"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := lower(t, tt.df, tt.opts)
			if diff := cmp.Diff(tt.want, runs(p.Target)); diff != "" {
				t.Errorf("runs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunMounts(t *testing.T) {
	df := `FROM golang:1.23 AS build
RUN touch /out
FROM busybox
WORKDIR /w
RUN --mount=type=cache,target=/root/.cache \
    --mount=type=cache,id=gomod,target=gm,sharing=locked,uid=1000,mode=0700 \
    --mount=type=bind,from=BUILD,source=/out,target=x \
    --mount=type=bind,target=/ctx,rw \
    --mount=type=bind,from=ctx2,target=/c2 \
    --mount=type=secret,id=tok \
    --mount=type=secret,id=env1,env=TOKEN \
    --mount=type=secret,target=/etc/key,required \
    --mount=type=ssh \
    --mount=type=ssh,id=git,target=/s.sock \
    --mount=type=tmpfs,target=/t,size=10m \
    echo hi
RUN --mount=type=bind,from=busybox,target=/bb ls
`
	p := lower(t, df, frontend.Options{BuildContexts: map[string]string{"ctx2": "/some/dir"}})
	build := p.Stages[0]
	rs := runs(p.Target)
	if len(rs) != 2 {
		t.Fatalf("%d runs, want 2", len(rs))
	}
	want := []plan.Mount{
		{Type: plan.MountCache, Target: "/root/.cache", ID: "/root/.cache", Sharing: "shared"},
		{Type: plan.MountCache, Target: "/w/gm", ID: "gomod", Sharing: "locked", Mode: ptr(uint32(0o700)), UID: ptr(1000)},
		{Type: plan.MountBind, From: plan.Source{Kind: plan.SourceStage, Stage: build}, Source: "/out", Target: "/w/x", ReadOnly: true},
		{Type: plan.MountBind, From: plan.Source{Kind: plan.SourceContext}, Target: "/ctx"},
		{Type: plan.MountBind, From: plan.Source{Kind: plan.SourceContext, Context: "ctx2"}, Target: "/c2", ReadOnly: true},
		{Type: plan.MountSecret, ID: "tok", Target: "/run/secrets/tok", ReadOnly: true},
		{Type: plan.MountSecret, ID: "env1", Env: "TOKEN", ReadOnly: true},
		{Type: plan.MountSecret, ID: "key", Target: "/etc/key", Required: true, ReadOnly: true},
		{Type: plan.MountSSH, ID: "default", Target: "/run/buildkit/ssh_agent.0", ReadOnly: true},
		{Type: plan.MountSSH, ID: "git", Target: "/s.sock", ReadOnly: true},
		{Type: plan.MountTmpfs, Target: "/t", Size: 10 << 20},
	}
	if diff := cmp.Diff(want, rs[0].Mounts, cmpopts.IgnoreFields(plan.Source{}, "Stage")); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	if rs[0].Mounts[2].From.Stage != build {
		t.Errorf("bind from=BUILD names %v, want the build stage", rs[0].Mounts[2].From.Stage)
	}
	// The first ssh socket becomes SSH_AUTH_SOCK.
	if got, want := rs[0].Env[len(rs[0].Env)-1], "SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0"; got != want {
		t.Errorf("last env = %q, want %q", got, want)
	}
	bb := rs[1].Mounts[0]
	if bb.From.Kind != plan.SourceImage || bb.From.Image == nil || bb.From.Image.Ref != "busybox" || bb.From.Image.Config == nil {
		t.Errorf("from=busybox mount source = %+v, want the busybox image", bb.From)
	}
	if diff := cmp.Diff([]*plan.Stage{build}, p.Target.Deps); diff != "" {
		t.Errorf("deps (-want +got):\n%s", diff)
	}
}

// TestRunDisplay: progress names a RUN as BuildKit v0.34.2 does: known
// variables put in (quotes and escapes kept), unset ones as written even
// with a default, a secret env mount's variable as ****, a lone heredoc's
// first line after it; and a Dockerfile of one stage says so, for names without a stage.
func TestRunDisplay(t *testing.T) {
	p := lower(t, `FROM busybox
ARG V=arg
ENV E="two words"
RUN echo "$E" '$E' \$V $V $UNSET ${UNSET:-dflt}
RUN --mount=type=secret,id=tok,env=TOKEN echo $TOKEN
RUN <<EOF
first line
second line
EOF
`, frontend.Options{})
	var got []string
	for _, op := range p.Target.Ops {
		if op.Kind == plan.KindRun {
			got = append(got, op.Instruction)
		}
	}
	want := []string{
		`RUN echo "two words" '$E' \$V arg $UNSET ${UNSET:-dflt}`,
		`RUN --mount=type=secret,id=tok,env=TOKEN echo ****`,
		`RUN <<EOF (first line...)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RUN names (-want +got):\n%s", diff)
	}
	if !p.OneStage {
		t.Error("a Dockerfile of one stage: OneStage false")
	}
	if two := lower(t, "FROM busybox AS a\nFROM busybox\n", frontend.Options{}); two.OneStage {
		t.Error("a Dockerfile of two stages: OneStage true")
	}
}
