package refresh

import (
	"context"
	"errors"
	"time"
)

// backoff paces a request that waits for another one's refresh: short sleeps
// that double up to a cap, until a deadline.
type backoff struct {
	deadline time.Time
	delay    time.Duration
}

const (
	firstDelay = 5 * time.Millisecond
	maxDelay   = 100 * time.Millisecond
)

func newBackoff(limit time.Duration) *backoff {
	return &backoff{deadline: time.Now().Add(limit), delay: firstDelay}
}

var errGaveUp = errors.New("gave up waiting")

// sleep waits for the next try, or fails once the deadline has passed or
// ctx ended.
func (b *backoff) sleep(ctx context.Context) error {
	remaining := time.Until(b.deadline)
	if remaining <= 0 {
		return errGaveUp
	}
	t := time.NewTimer(min(b.delay, remaining))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.delay = min(2*b.delay, maxDelay)
	return nil
}
