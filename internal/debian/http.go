package debian

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// errIdle is the cancel cause when a download stalls.
var errIdle = errors.New("no data received within the idle timeout")

// fetchBytes GETs url into memory (at most limit bytes), retrying transient
// failures.
func (c *Client) fetchBytes(ctx context.Context, url string, limit int64) ([]byte, error) {
	var data []byte
	err := c.retry(ctx, url, func(ctx context.Context) error {
		body, err := c.get(ctx, url)
		if err != nil {
			return err
		}
		defer body.Close()
		data, err = io.ReadAll(io.LimitReader(body, limit+1))
		if err != nil {
			return fmt.Errorf("reading %s: %w", url, err)
		}
		if int64(len(data)) > limit {
			return &VerifyError{What: url, Reason: fmt.Sprintf("larger than %d bytes", limit)}
		}
		return nil
	})
	return data, err
}

// retry runs attempt until it succeeds, fails permanently, or the retries
// are used up, backing off exponentially between attempts.
func (c *Client) retry(ctx context.Context, what string, attempt func(context.Context) error) error {
	delay := c.backoff
	var err error
	for i := 0; ; i++ {
		err = attempt(ctx)
		if err == nil || !transient(ctx, err) || i >= c.retries {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fetching %s: %w (after: %v)", what, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay *= 2
	}
	return err
}

// transient reports whether err may go away on retry.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ve *VerifyError
	if errors.As(err, &ve) {
		return false
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Temporary()
	}
	if errors.Is(err, errIdle) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errTruncated) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// get starts a GET of url and returns its body, which aborts when no bytes
// arrive for the idle timeout. Non-2xx responses give an *HTTPError.
func (c *Client) get(ctx context.Context, url string) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel(nil)
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	req.Header.Set("User-Agent", "whittle")
	resp, err := c.http.Do(req)
	if err != nil {
		cancel(nil)
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel(nil)
		return nil, &HTTPError{URL: url, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	b := &idleBody{body: resp.Body, cancel: cancel, ctx: ctx, url: url}
	if c.idleTimeout > 0 {
		b.timer = time.AfterFunc(c.idleTimeout, func() { cancel(errIdle) })
		b.timeout = c.idleTimeout
	}
	return b, nil
}

// idleBody is a response body that cancels its request when reads stall.
type idleBody struct {
	body    io.ReadCloser
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timer   *time.Timer
	timeout time.Duration
	url     string
	once    sync.Once
}

// Read reads from the body and re-arms the idle timer.
func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if b.timer != nil && n > 0 {
		b.timer.Reset(b.timeout)
	}
	if err != nil && err != io.EOF {
		if cause := context.Cause(b.ctx); cause != nil && errors.Is(cause, errIdle) {
			err = fmt.Errorf("reading %s: %w", b.url, errIdle)
		} else {
			err = fmt.Errorf("reading %s: %w", b.url, err)
		}
	}
	return n, err
}

// Close closes the body and releases the request.
func (b *idleBody) Close() error {
	err := b.body.Close()
	b.once.Do(func() {
		if b.timer != nil {
			b.timer.Stop()
		}
		b.cancel(nil)
	})
	return err
}
