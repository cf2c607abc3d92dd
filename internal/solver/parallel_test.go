package solver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whittle-build/whittle/internal/frontend"
	"github.com/whittle-build/whittle/internal/snapshot"
	"github.com/whittle-build/whittle/internal/step"
	"github.com/whittle-build/whittle/internal/store"
)

// countingSandbox records how many processes run at once.
type countingSandbox struct {
	cur, max atomic.Int32
	hold     time.Duration
}

func (c *countingSandbox) Run(ctx context.Context, p *step.Process) error {
	n := c.cur.Add(1)
	for {
		m := c.max.Load()
		if n <= m || c.max.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-time.After(c.hold):
	case <-ctx.Done():
	}
	c.cur.Add(-1)
	return ctx.Err()
}

// TestStagesRunConcurrently: independent stages run at the same time, at
// most Jobs at once.
func TestStagesRunConcurrently(t *testing.T) {
	ctx := context.Background()
	df := []byte(`FROM scratch AS a
RUN ["/a"]
FROM scratch AS b
RUN ["/b"]
FROM scratch AS c
RUN ["/c"]
FROM scratch AS d
RUN ["/d"]
FROM scratch
COPY --from=a / /a/
COPY --from=b / /b/
COPY --from=c / /c/
COPY --from=d / /d/
`)
	for _, jobs := range []int32{1, 2, 4} {
		st, err := store.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		dir, _ := st.TempDir("snap-")
		snap, err := snapshot.NewCopy(dir)
		if err != nil {
			t.Fatal(err)
		}
		sb := &countingSandbox{hold: 300 * time.Millisecond}
		p, err := frontend.Lower(ctx, df, frontend.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(Options{Store: st, Snapshotter: snap, Sandbox: sb, Images: noImages{}, Jobs: int(jobs)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Solve(ctx, p); err != nil {
			t.Fatalf("jobs=%d: %v", jobs, err)
		}
		if got := sb.max.Load(); got != jobs {
			t.Errorf("jobs=%d: at most %d RUN steps ran at once, want %d", jobs, got, jobs)
		}
		st.Close()
	}
}
