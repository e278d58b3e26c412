package authn

import (
	"fmt"
	"sync"
	"time"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
)

// flights lets one validation per token run at a time; the others wait
// for its verdict.
//
// The leader runs what needs neither the provider nor the enricher itself
// (see Authenticator.lead); the rest runs on a worker (see workers), on a
// context of its own bounded by ValidationTimeout, so that no caller's
// cancellation fails the requests waiting for it; every caller, the one
// that started it included, then waits on its own context. Invalidate
// marks the flight of a token it revokes, under mu, and the flight keeps
// nothing of a marked run.
type flights struct {
	mu sync.Mutex // guards m, every flight's revoked, and the memory writes of landing flights
	m  map[cache.Digest]*flight
}

// flight is one validation in progress; p and err are set before done is
// closed and never after.
type flight struct {
	done    chan struct{}
	p       *claims.Principal
	err     error
	revoked bool // guarded by flights.mu: Invalidate ran while it flew
}

// errAbandoned is the verdict of a flight that panicked: waiters are told
// to retry rather than handed a nil Principal.
var errAbandoned = fmt.Errorf("authn: validation abandoned: %w", claims.ErrUnavailable)

// join returns the flight for d, and whether the caller leads it (it must
// then land it, see Authenticator.land).
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

// workers run flights apart from the requests that start them, on
// goroutines that outlive one flight: a fresh goroutine per miss would grow
// its stack through every signature verification again, which costs more
// than the verification (BenchmarkAuthenticate/miss). A worker that finds
// no new flight within workerIdle ends, so an idle Authenticator holds none.
type workers struct {
	flights chan func() // unbuffered: a send succeeds only into an idle worker
}

// workerIdle is how long a worker waits for another flight before it ends.
const workerIdle = 10 * time.Second

// run runs job on an idle worker, or on a new one.
func (w *workers) run(job func()) {
	select {
	case w.flights <- job:
	default:
		go w.work(job)
	}
}

func (w *workers) work(job func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		job()
		idle.Reset(workerIdle)
		select {
		case job = <-w.flights:
		case <-idle.C:
			return
		}
	}
}
