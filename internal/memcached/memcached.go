package memcached

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// ErrBreakerOpen is returned, without asking memcached, when the node a
// call needs is out (see [Cluster]).
var ErrBreakerOpen = errors.New("memcached: circuit breaker open")

// NewClient returns a gomemcache client for servers ("host:port" or a Unix
// socket path) with timeout bounding each dial, read and write, and
// maxIdleConns idle connections kept per server (gomemcache keeps only 2 by
// default, so under more concurrency than that most calls would dial).
// Unlike memcache.New it fails now, with an error, on an address that does
// not resolve. A timeout or maxIdleConns ≤ 0 leaves gomemcache's default
// (500 ms, 2).
func NewClient(servers []string, timeout time.Duration, maxIdleConns int) (*memcache.Client, error) {
	if len(servers) == 0 {
		return nil, errors.New("memcached: no servers given")
	}
	var ss memcache.ServerList
	if err := ss.SetServers(servers...); err != nil {
		return nil, fmt.Errorf("memcached: servers %q: %w", servers, err)
	}
	c := memcache.NewFromSelector(&ss)
	c.Timeout = max(timeout, 0)
	c.MaxIdleConns = max(maxIdleConns, 0)
	return c, nil
}

// isFailure tells memcached failing (network errors, timeouts, server
// errors, no server) from answers that are just answers: a miss, a lost add
// or compare-and-swap race, a key gomemcache refused to send.
func isFailure(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, memcache.ErrCacheMiss),
		errors.Is(err, memcache.ErrNotStored),
		errors.Is(err, memcache.ErrCASConflict),
		errors.Is(err, memcache.ErrMalformedKey):
		return false
	}
	return true
}

// maxRelative is the largest expiration, in seconds, that memcached reads
// as relative to now (30 days); a larger number is an absolute Unix time.
const maxRelative = 30 * 24 * 60 * 60

// Expiration returns the memcached expiration for an item that should live
// ttl from now: whole seconds rounded up, relative up to 30 days and the
// absolute Unix time beyond (memcached would read a relative 31 days as a
// time in 1970 and expire the item at once). now must be memcached's clock,
// that is the real time. gomemcache's expiration is an int32, so an
// absolute time past January 2038 is cut to its largest value. Expiration
// reports false for a ttl ≤ 0: such an item must not be stored, since 0
// would mean "never expires".
func Expiration(ttl time.Duration, now time.Time) (int32, bool) {
	if ttl <= 0 {
		return 0, false
	}
	secs := int64(ttl / time.Second)
	if ttl%time.Second != 0 {
		secs++ // round up; ttl+time.Second-1 could overflow
	}
	if secs <= maxRelative {
		return int32(secs), true
	}
	return int32(min(now.Unix()+secs, math.MaxInt32)), true
}
