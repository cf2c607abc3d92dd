package frontend_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/whittle-build/whittle/internal/frontend"
	"github.com/whittle-build/whittle/internal/plan"
)

func TestCopy(t *testing.T) {
	ctx := plan.Source{Kind: plan.SourceContext}
	tests := []struct {
		name string
		df   string
		want []*plan.Copy
	}{
		{
			name: "destinations against WORKDIR",
			df:   "FROM golang:1.23\nWORKDIR /src/app\nUSER 1000\nCOPY . .\nCOPY a b ./x/\nCOPY c ..\nCOPY d /abs\nCOPY e \"\"\n",
			want: []*plan.Copy{
				{From: ctx, Sources: []string{"."}, Dest: "/src/app/", User: "1000", Cwd: "/src/app"},
				{From: ctx, Sources: []string{"a", "b"}, Dest: "/src/app/x/", User: "1000", Cwd: "/src/app"},
				{From: ctx, Sources: []string{"c"}, Dest: "/src", User: "1000", Cwd: "/src/app"},
				{From: ctx, Sources: []string{"d"}, Dest: "/abs", User: "1000", Cwd: "/src/app"},
				{From: ctx, Sources: []string{"e"}, Dest: "/src/app/", User: "1000", Cwd: "/src/app"},
			},
		},
		{
			name: "flags and expansion",
			df:   "FROM scratch\nENV U=1 M=0755 S=src\nCOPY --chown=$U:2 --chmod=$M --link --exclude=*.md --exclude=$S/x $S/ /b/\nCOPY --parents --chmod=u+x x/./y /z/\n",
			want: []*plan.Copy{
				{From: ctx, Sources: []string{"src/"}, Dest: "/b/", Chown: "1:2", Chmod: "0755", Link: true, Exclude: []string{"*.md", "$S/x"}, Cwd: "/"},
				{From: ctx, Sources: []string{"x/./y"}, Dest: "/z/", Chmod: "u+x", Parents: true, Cwd: "/"},
			},
		},
		{
			name: "ADD options",
			df: "FROM busybox\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tar.gz /a/\n" +
				"ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.10.1 /bk\nADD --unpack=false --chown=app:app local.tar.gz rel/\n",
			want: []*plan.Copy{
				{Add: true, From: ctx, Sources: []string{"https://example.com/a.tar.gz"}, Dest: "/a/",
					Checksum: "sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d", Cwd: "/"},
				{Add: true, From: ctx, Sources: []string{"https://github.com/moby/buildkit.git#v0.10.1"}, Dest: "/bk", KeepGitDir: true, Cwd: "/"},
				{Add: true, From: ctx, Sources: []string{"local.tar.gz"}, Dest: "/rel/", Chown: "app:app", Unpack: ptr(false), Cwd: "/"},
			},
		},
		{
			name: "heredocs expand unless quoted",
			df:   "FROM busybox\nENV NAME=world\nCOPY <<EOF /greeting\nhello $NAME\nEOF\nCOPY <<\"EOF\" /raw\nhello $NAME\nEOF\nCOPY <<-one <<two /dir/\n\t1\n\tone\n2\ntwo\n",
			want: []*plan.Copy{
				{From: ctx, Heredocs: []plan.Heredoc{{Name: "EOF", Content: "hello world\n"}}, Dest: "/greeting", Cwd: "/"},
				{From: ctx, Heredocs: []plan.Heredoc{{Name: "EOF", Content: "hello $NAME\n"}}, Dest: "/raw", Cwd: "/"},
				{From: ctx, Heredocs: []plan.Heredoc{{Name: "one", Content: "1\n"}, {Name: "two", Content: "2\n"}}, Dest: "/dir/", Cwd: "/"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := lower(t, tt.df, frontend.Options{})
			if diff := cmp.Diff(tt.want, copies(p.Target), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("copies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCopyFrom(t *testing.T) {
	df := `FROM golang:1.23 AS Build
RUN go build -o /out/app
FROM busybox AS unused
RUN false
FROM scratch
COPY --from=build /out/app /app
COPY --from=0 /go /go
COPY --from=busybox /bin/busybox /bin/
COPY --from=assets /logo.png /
COPY --from=base /etc/os-release /
`
	p := lower(t, df, frontend.Options{BuildContexts: map[string]string{
		"assets": "./assets",
		"base":   "docker-image://labelled",
	}})
	if len(p.Stages) != 2 {
		t.Fatalf("stages %v, want build and the target", p.Stages)
	}
	build := p.Stages[0]
	cs := copies(p.Target)
	if len(cs) != 5 {
		t.Fatalf("%d copies, want 5", len(cs))
	}
	for i, want := range []plan.Source{
		{Kind: plan.SourceStage, Stage: build},
		{Kind: plan.SourceStage, Stage: build},
	} {
		if cs[i].From != want {
			t.Errorf("copy %d from %+v, want the build stage", i, cs[i].From)
		}
	}
	if f := cs[2].From; f.Kind != plan.SourceImage || f.Image.Ref != "busybox" || f.Image.Platform != "linux/amd64" {
		t.Errorf("COPY --from=busybox from %+v, want the busybox image", f)
	}
	if f := cs[3].From; f != (plan.Source{Kind: plan.SourceContext, Context: "assets"}) {
		t.Errorf("COPY --from=assets from %+v, want the assets context", f)
	}
	if f := cs[4].From; f.Kind != plan.SourceImage || f.Image.Ref != "labelled" {
		t.Errorf("COPY --from=base from %+v, want the labelled image", f)
	}
	if diff := cmp.Diff([]*plan.Stage{build}, p.Target.Deps); diff != "" {
		t.Errorf("deps (-want +got):\n%s", diff)
	}
}
