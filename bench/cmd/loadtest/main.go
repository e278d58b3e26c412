// Command loadtest drives authgate over loopback HTTP and reports what a
// service would see: requests per second, latency percentiles, hit ratios
// per cache tier, provider calls per 1,000 requests, and errors.
//
//	go run ./cmd/loadtest                        # from bench/; make loadtest runs it
//	go run ./cmd/loadtest -kill-memcached-at 15s # memcached dies mid-run
//	go run ./cmd/loadtest -compare 0 -cluster    # three memcached nodes, one hung, killed, restarted
//
// It runs three phases. The comparison phase serves one trivial handler behind
// each contender in this process — a bare handler, a SHA-256 + map
// middleware, authgate (in-process tier hit) and go-jwt-middleware — and
// drives each with the same clients and hot tokens for -compare. The
// gateway phase builds cmd/tokenservice and drives, in rotation for
// -gateway each, its /introspect and /auth endpoints on tokens it has
// cached, and a real nginx (internal/nginxtest) in front of a trivial API,
// alone and with auth_request to the token service. The venue
// phase builds examples/venue, starts -instances copies of it sharing a real
// memcached (when a memcached binary can be found) against an idptest
// provider this program controls, and drives them for -duration with a mix
// of tokens: a hot set, a stream of new tokens, invalid ones, tokens that
// expire during the run, and logins followed by refreshes. Everything stays
// on 127.0.0.1, bounded by -duration and -max-requests.
//
// With -cluster the venue phase runs on three memcached nodes instead of
// one: a quarter into it one node hangs (SIGSTOP), at half it is killed, at
// three quarters restarted empty. It reports latency and failures per
// phase, and for the new tokens whose key lives on that node; every answer
// must be the expected one, refreshes included.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	clients         int
	duration        time.Duration
	compare         time.Duration
	gateway         time.Duration
	maxRequests     int
	hot             int
	newPerSecond    int
	invalidFraction float64
	expiring        int
	expireAt        time.Duration
	refreshPerSec   int
	instances       int
	killMemcachedAt time.Duration
	noMemcached     bool
	cluster         bool
}

func main() {
	var c config
	flag.IntVar(&c.clients, "clients", 32, "concurrent clients")
	flag.DurationVar(&c.duration, "duration", 45*time.Second, "length of the venue phase (0 skips it)")
	flag.DurationVar(&c.compare, "compare", 5*time.Second, "length of each comparison run (0 skips the phase)")
	flag.DurationVar(&c.gateway, "gateway", 5*time.Second, "length of each gateway run: the token service, nginx with and without auth_request (0 skips the phase)")
	flag.IntVar(&c.maxRequests, "max-requests", 3_000_000, "stop a phase after this many requests")
	flag.IntVar(&c.hot, "hot", 200, "tokens in the hot set")
	flag.IntVar(&c.newPerSecond, "new-per-sec", 20, "new tokens introduced per second")
	flag.Float64Var(&c.invalidFraction, "invalid", 0.02, "fraction of requests with an invalid token")
	flag.IntVar(&c.expiring, "expiring", 50, "tokens that expire during the run")
	flag.DurationVar(&c.expireAt, "expire-at", 5*time.Second, "when the expiring tokens expire, from the start of the venue phase")
	flag.IntVar(&c.refreshPerSec, "refresh-per-sec", 2, "login + refresh sequences per second")
	flag.IntVar(&c.instances, "instances", 2, "venue instances sharing memcached")
	flag.DurationVar(&c.killMemcachedAt, "kill-memcached-at", 0, "kill memcached this long into the venue phase (0: never)")
	flag.BoolVar(&c.noMemcached, "no-memcached", false, "run the venue phase without memcached")
	flag.BoolVar(&c.cluster, "cluster", false, "run the venue phase on three memcached nodes, one of them hung, killed and restarted")
	flag.Parse()
	if c.clients < 1 || c.duration < 0 || c.maxRequests < 1 || c.hot < 1 || c.instances < 1 || c.invalidFraction < 0 || c.invalidFraction > 1 {
		fmt.Fprintln(os.Stderr, "loadtest: -clients, -max-requests, -hot and -instances must be positive, -duration not negative; -invalid within [0,1]")
		os.Exit(2)
	}
	if c.cluster && (c.noMemcached || c.killMemcachedAt > 0) {
		fmt.Fprintln(os.Stderr, "loadtest: -cluster brings its own memcached nodes and faults; -no-memcached and -kill-memcached-at do not apply")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	w, err := newWorld(ctx, c)
	if err != nil {
		return err
	}
	defer w.close()
	if c.compare > 0 {
		if err := w.comparePhase(ctx); err != nil {
			return err
		}
	}
	if c.cluster {
		return w.clusterPhase(ctx)
	}
	if c.gateway > 0 {
		if err := w.gatewayPhase(ctx); err != nil {
			return err
		}
	}
	if c.duration == 0 {
		return nil
	}
	return w.venuePhase(ctx)
}
