package authn

import (
	"fmt"
	"sync"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
)

// flights lets one validation per token run at a time; the others wait
// for its verdict.
//
// The request that finds no flight for its token runs the validation in its
// own goroutine, on a context of its own bounded by ValidationTimeout, so
// that its own cancellation cannot fail the requests waiting for it.
// Requests that join a flight leave on their own context. This replaces
// x/sync/singleflight's DoChan, which starts a goroutine per flight: that
// goroutine's stack grows through every RSA verification, and a miss cost
// 80 µs with it against 53 µs without (BenchmarkMiddleware/authgate/miss in
// bench/), more than the verification itself.
type flights struct {
	mu sync.Mutex // guards m
	m  map[cache.Digest]*flight
}

// flight is one validation in progress; p and err are set before done is
// closed and never after.
type flight struct {
	done chan struct{}
	p    *claims.Principal
	err  error
}

// errAbandoned is the verdict of a flight whose leader panicked: waiters
// are told to retry rather than handed a nil Principal.
var errAbandoned = fmt.Errorf("authn: validation abandoned: %w", claims.ErrUnavailable)

// join returns the flight for d, and whether the caller leads it (it must
// then call land when done).
func (fs *flights) join(d cache.Digest) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[d]; ok {
		return f, false
	}
	if fs.m == nil {
		fs.m = make(map[cache.Digest]*flight)
	}
	f := &flight{done: make(chan struct{}), err: errAbandoned}
	fs.m[d] = f
	return f, true
}

// land ends the flight for d and releases its waiters.
func (fs *flights) land(d cache.Digest, f *flight) {
	fs.mu.Lock()
	delete(fs.m, d)
	fs.mu.Unlock()
	close(f.done)
}
