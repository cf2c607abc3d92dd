package step

import (
	"context"
	"reflect"
	"testing"

	"github.com/whittle-build/whittle/internal/plan"
)

// recorder is a Sandbox that records the process instead of running it.
type recorder struct{ p *Process }

func (r *recorder) Run(_ context.Context, p *Process) error { r.p = p; return nil }

func TestRunProcess(t *testing.T) {
	tests := []struct {
		name        string
		run         plan.Run
		o           RunOptions
		wantEnv     []string
		wantNetwork string
		wantMounts  []Mount
	}{
		{
			name:        "defaults",
			run:         plan.Run{Args: []string{"true"}, Env: []string{"A=1"}},
			wantEnv:     []string{"A=1"},
			wantNetwork: "host",
		},
		{
			name:        "extra env replaces and adds",
			run:         plan.Run{Args: []string{"true"}, Env: []string{"A=1", "TOKEN=plan", "B=2"}},
			o:           RunOptions{Env: []string{"TOKEN=secret", "SSH_AUTH_SOCK=/run/s"}},
			wantEnv:     []string{"A=1", "B=2", "TOKEN=secret", "SSH_AUTH_SOCK=/run/s"},
			wantNetwork: "host",
		},
		{
			name:        "build default network",
			run:         plan.Run{Args: []string{"true"}, Network: "default"},
			o:           RunOptions{Network: "none"},
			wantNetwork: "none",
		},
		{
			name:        "instruction network wins",
			run:         plan.Run{Args: []string{"true"}, Network: "none"},
			o:           RunOptions{Network: "host"},
			wantNetwork: "none",
		},
		{
			name:        "host per instruction",
			run:         plan.Run{Args: []string{"true"}, Network: "host"},
			o:           RunOptions{Network: "none"},
			wantNetwork: "host",
		},
		{
			name:        "mounts passed on",
			run:         plan.Run{Args: []string{"true"}},
			o:           RunOptions{Mounts: []Mount{{Type: "tmpfs", Source: "tmpfs", Target: "/t"}}},
			wantNetwork: "host",
			wantMounts:  []Mount{{Type: "tmpfs", Source: "tmpfs", Target: "/t"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := &recorder{}
			r := tt.run
			if err := Run(context.Background(), t.TempDir(), &r, sb, tt.o); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sb.p.Env, tt.wantEnv) {
				t.Errorf("env %q, want %q", sb.p.Env, tt.wantEnv)
			}
			if sb.p.Network != tt.wantNetwork {
				t.Errorf("network %q, want %q", sb.p.Network, tt.wantNetwork)
			}
			if !reflect.DeepEqual(sb.p.Mounts, tt.wantMounts) {
				t.Errorf("mounts %+v, want %+v", sb.p.Mounts, tt.wantMounts)
			}
			if !reflect.DeepEqual(r.Env, tt.run.Env) {
				t.Errorf("Run changed the instruction's env to %q", r.Env)
			}
		})
	}
}
