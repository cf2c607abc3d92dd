package frontend_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/whittle-build/whittle/internal/frontend"
	"github.com/whittle-build/whittle/internal/plan"
)

// The expected configs are BuildKit v0.34.2's for the same Dockerfiles
// (HealthConfig has no StartInterval field in v1.Config, so that one is not
// kept).
func TestConfig(t *testing.T) {
	tests := []struct {
		name       string
		df         string
		want       v1.Config
		wantAuthor string
	}{
		{
			name: "scratch gets the default PATH and /",
			df:   "FROM scratch\nCOPY a /b\n",
			want: v1.Config{Env: []string{defaultPath}, WorkingDir: "/"},
		},
		{
			name:       "PATH added when the base has none",
			df:         "FROM noenv\nRUN whoami\n",
			want:       v1.Config{Env: []string{"HOME=/home/app", defaultPath}, User: "app", Cmd: []string{"serve"}, Entrypoint: []string{"/entry"}},
			wantAuthor: "someone",
		},
		{
			name:       "ENTRYPOINT resets an inherited CMD",
			df:         "FROM noenv\nENTRYPOINT [\"/app\"]\n",
			want:       v1.Config{Env: []string{"HOME=/home/app", defaultPath}, User: "app", Entrypoint: []string{"/app"}},
			wantAuthor: "someone",
		},
		{
			name: "ENTRYPOINT keeps a CMD set earlier in the stage",
			df:   "FROM noenv\nCMD [\"a\"]\nENTRYPOINT /app --flag\nMAINTAINER me\n",
			want: v1.Config{Env: []string{"HOME=/home/app", defaultPath}, User: "app", Cmd: []string{"a"},
				Entrypoint: []string{"/bin/sh", "-c", "/app --flag"}, ArgsEscaped: true},
			wantAuthor: "me",
		},
		{
			name: "ENV replaces in place, labels merge, relative WORKDIR",
			df:   "FROM labelled\nENV A=over NEW=1\nLABEL extra=1\nWORKDIR sub\n",
			want: v1.Config{Env: []string{"PATH=/bin", "A=over", "NEW=1"}, Labels: map[string]string{"base": "yes", "extra": "1"},
				WorkingDir: "/srv/sub", User: "www"},
		},
		{
			name: "metadata instructions",
			df: `FROM busybox
ENV PORT=8080
EXPOSE $PORT 53/udp 9000-9002 80/TCP
VOLUME /data ["/a", "/b"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 CMD curl -f http://localhost/ || exit 1
USER nobody
ONBUILD RUN echo later
ONBUILD COPY . /app
SHELL ["/bin/bash", "-c"]
`,
			want: v1.Config{
				Env:          []string{defaultPath, "PORT=8080"},
				Cmd:          []string{"sh"},
				ExposedPorts: map[string]struct{}{"8080/tcp": {}, "53/udp": {}, "9000/tcp": {}, "9001/tcp": {}, "9002/tcp": {}, "80/tcp": {}},
				Volumes:      map[string]struct{}{"/data": {}, "[/a,": {}, "/b]": {}},
				StopSignal:   "SIGTERM",
				Healthcheck: &v1.HealthConfig{Test: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"},
					Interval: 30 * time.Second, Timeout: 3 * time.Second, StartPeriod: 5 * time.Second, Retries: 3},
				User:    "nobody",
				OnBuild: []string{"RUN echo later", "COPY . /app"},
				Shell:   []string{"/bin/bash", "-c"},
			},
		},
		{
			name: "image ONBUILD triggers are consumed, not inherited",
			df:   "FROM busybox AS helper\nFROM onbuildimg\n",
			want: v1.Config{Env: []string{"PATH=/bin", "FROMTRIGGER=1"}},
		},
		{
			name: "ARG values stay out of the image config",
			df:   "FROM busybox\nARG SECRETISH=1\nRUN true\n",
			want: v1.Config{Env: []string{defaultPath}, Cmd: []string{"sh"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := lower(t, tt.df, frontend.Options{})
			last := p.Target.Ops[len(p.Target.Ops)-1]
			if diff := cmp.Diff(tt.want, last.Config); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if last.Author != tt.wantAuthor {
				t.Errorf("author = %q, want %q", last.Author, tt.wantAuthor)
			}
		})
	}
}

// Each op carries the config as it was after it, not a shared one.
func TestConfigPerOp(t *testing.T) {
	p := lower(t, "FROM busybox\nENV A=1\nLABEL l=1\nENV A=2\n", frontend.Options{})
	var envs [][]string
	for _, op := range p.Target.Ops {
		envs = append(envs, op.Config.Env)
		if op.Kind != plan.KindConfig {
			t.Errorf("%s: kind %s, want CONFIG", op.Instruction, op.Kind)
		}
	}
	want := [][]string{{defaultPath, "A=1"}, {defaultPath, "A=1"}, {defaultPath, "A=2"}}
	if diff := cmp.Diff(want, envs); diff != "" {
		t.Errorf("env per op (-want +got):\n%s", diff)
	}
	if got := p.Target.Ops[0].Config.Labels; got != nil {
		t.Errorf("labels before LABEL = %v", got)
	}

	// Ops share unchanged fields, so a later instruction must never change
	// an earlier op's config.
	p = lower(t, "FROM busybox\nLABEL a=1\nLABEL a=2\nEXPOSE 1\nEXPOSE 2\nVOLUME /a\nVOLUME /b\nONBUILD RUN a\nONBUILD RUN b\n", frontend.Options{})
	type snap struct {
		Labels  map[string]string
		Ports   []string
		Volumes []string
		OnBuild []string
	}
	var got []snap
	for _, op := range p.Target.Ops {
		c := op.Config
		got = append(got, snap{c.Labels, slices.Sorted(maps.Keys(c.ExposedPorts)), slices.Sorted(maps.Keys(c.Volumes)), c.OnBuild})
	}
	a1, a2 := map[string]string{"a": "1"}, map[string]string{"a": "2"}
	wantSnaps := []snap{
		{Labels: a1},
		{Labels: a2},
		{Labels: a2, Ports: []string{"1/tcp"}},
		{Labels: a2, Ports: []string{"1/tcp", "2/tcp"}},
		{Labels: a2, Ports: []string{"1/tcp", "2/tcp"}, Volumes: []string{"/a"}},
		{Labels: a2, Ports: []string{"1/tcp", "2/tcp"}, Volumes: []string{"/a", "/b"}},
		{Labels: a2, Ports: []string{"1/tcp", "2/tcp"}, Volumes: []string{"/a", "/b"}, OnBuild: []string{"RUN a"}},
		{Labels: a2, Ports: []string{"1/tcp", "2/tcp"}, Volumes: []string{"/a", "/b"}, OnBuild: []string{"RUN a", "RUN b"}},
	}
	if diff := cmp.Diff(wantSnaps, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("configs per op (-want +got):\n%s", diff)
	}
}

// WORKDIR creates the directory as the USER of that point (a KindMkdir op),
// except for "/", which only changes the config.
func TestWorkdir(t *testing.T) {
	p := lower(t, "FROM busybox\nWORKDIR /a\nUSER app:grp\nWORKDIR b/../c\nWORKDIR /\nUSER root\nWORKDIR $HOME\n", frontend.Options{})
	type step struct {
		Kind  plan.Kind
		Mkdir *plan.Mkdir
		Dir   string
	}
	var got []step
	for _, op := range p.Target.Ops {
		if op.Kind == plan.KindMkdir || op.Instruction[:7] == "WORKDIR" {
			got = append(got, step{op.Kind, op.Mkdir, op.Config.WorkingDir})
		}
	}
	want := []step{
		{plan.KindMkdir, &plan.Mkdir{Path: "/a"}, "/a"},
		{plan.KindMkdir, &plan.Mkdir{Path: "/a/c", User: "app:grp"}, "/a/c"},
		{plan.KindConfig, nil, "/"},
		{plan.KindConfig, nil, "/"}, // $HOME is unset: WORKDIR "" stays put
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("workdir ops (-want +got):\n%s", diff)
	}
}
