package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/memcachedtest"
)

// The classes of new tokens in cluster mode, by where the venue instances
// keep the token's shared entry: its key's own node is the node that hangs,
// or its second copy is there (a revocation mark would be; lookups read
// both copies), or neither.
const (
	newOnHung    = "new, key's node is the hung one"
	newCopyHung  = "new, key's second node is the hung one"
	newElsewhere = "new, key elsewhere"
)

// clusterPhase is the venue mix on a memcached cluster (-cluster): three
// real memcached nodes, the venue instances sharing them, and one node that
// hangs (SIGSTOP) a quarter into the run, is killed at half, and restarted
// (empty) at three quarters. It reports latency and failures per phase —
// for every request, for the new tokens by where their key lives, and for
// the login + refresh flows — and, for the hung phase, after the first
// detection (the moment both instances have taken the node out).
func (w *world) clusterPhase(ctx context.Context) error {
	var nodes []*memcachedtest.Process
	defer func() {
		for _, n := range nodes {
			_ = n.Kill()
		}
	}()
	for range 3 {
		n, err := memcachedtest.Launch()
		if err != nil {
			return fmt.Errorf("-cluster needs memcached: %w", err)
		}
		nodes = append(nodes, n)
	}
	addrs := []string{nodes[0].Addr, nodes[1].Addr, nodes[2].Addr}
	victim := nodes[1]
	dir, err := os.MkdirTemp("", "authgate-loadtest-")
	if err != nil {
		return err
	}
	keepLogs := false // when something went wrong: the instances' logs say what
	defer func() {
		if keepLogs {
			fmt.Println("the venue instances' logs are kept in", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	instances, stop, err := w.startVenues(ctx, dir, addrs)
	defer stop()
	if err != nil {
		return err
	}
	place, err := w.newPlacement(ctx, addrs)
	if err != nil {
		return err
	}
	defer place.close()

	fresh, err := w.mint(ctx, min(w.c.newPerSecond*int(w.c.duration.Seconds()+1), 5000)+1, time.Hour)
	if err != nil {
		return err
	}
	client := newHTTPClient(w.c.clients)
	if err := place.check(ctx, client, instances[0], fresh[0]); err != nil {
		return err
	}
	fresh = fresh[1:]
	class := make(map[string]string, len(fresh))
	for _, tok := range fresh {
		switch home, second := place.cluster.Placement(place.key(tok)); victim.Addr {
		case home:
			class[tok] = newOnHung
		case second:
			class[tok] = newCopyHung
		default:
			class[tok] = newElsewhere
		}
	}
	expiring, err := w.mint(ctx, w.c.expiring, w.c.expireAt)
	if err != nil {
		return err
	}
	expiry := w.idp.Now().Add(w.c.expireAt).Truncate(time.Second)

	fmt.Printf("\nCluster mix: %d instances on 3 memcached nodes (%s), %d clients, %v; hot %d, new %d/s, invalid %.0f%%, %d expiring at +%v, %d refreshes/s\n",
		len(instances), strings.Join(addrs, ", "), w.c.clients, w.c.duration, len(w.hot), w.c.newPerSecond, 100*w.c.invalidFraction,
		w.c.expiring, w.c.expireAt, w.c.refreshPerSec)
	fmt.Printf("node %s hangs at +%v, is killed at +%v and restarted at +%v\n", victim.Addr, w.c.duration/4, w.c.duration/2, 3*w.c.duration/4)

	callsBefore := w.providerCalls()
	phaseCtx, cancel := context.WithTimeout(ctx, w.c.duration)
	defer cancel()
	start := time.Now()
	events := make(chan faultEvents, 1)
	go func() { events <- w.injectFaults(phaseCtx, client, instances, victim, start) }()
	newTokens := make(chan string, len(fresh))
	go release(phaseCtx, fresh, w.c.newPerSecond, newTokens)
	flows := make(chan *result, 1)
	go func() { flows <- w.refreshFlows(phaseCtx, client, instances, nil) }()
	res := driveKeeping(ctx, client, w.c.clients, w.c.duration, w.c.maxRequests, "cluster mix", true,
		w.mix(instances, expiring, expiry, newTokens, func(tok string) string { return class[tok] }))
	cancel()
	ev := <-events
	flowRes := <-flows
	callsAfter := w.providerCalls()

	reportCluster(start, w.c.duration, ev, res, flowRes, healthyOuts(dir, victim.Addr))
	sumCalls := 0
	for e, n := range callsAfter {
		sumCalls += n - callsBefore[e]
	}
	fmt.Printf("\nprovider calls: %d, from %d login + refresh flows (2 calls each)\n", sumCalls, flowRes.byKind["started"])
	if ev.err != nil {
		keepLogs = true
		return ev.err
	}
	if n := sum(res.unexpected) + sum(flowRes.unexpected); n > 0 {
		keepLogs = true
		return fmt.Errorf("%d unexpected answers; first: %s%s", n, res.firstError, flowRes.firstError)
	}
	return nil
}

// faultEvents is when each fault happened and was seen.
type faultEvents struct {
	snapshots [5]map[string]float64 // cache lookup counters at each phase boundary and the end
	detected  time.Time             // both instances had taken the hung node out
	rejoined  time.Time             // both had put the restarted node back
	err       error
}

// injectFaults hangs, kills and restarts victim at a quarter, half and
// three quarters of the run that began at start, and watches the
// instances' authgate_cache_memcache_node_up for the node going out and
// coming back.
func (w *world) injectFaults(ctx context.Context, client *http.Client, instances []string, victim *memcachedtest.Process, start time.Time) faultEvents {
	var ev faultEvents
	d := w.c.duration
	ev.snapshots[0] = scrape(ctx, client, instances)
	for i, step := range []struct {
		name string
		do   func() error
		up   float64 // what node_up must read on every instance once seen
		at   *time.Time
	}{
		{"hanging", victim.Pause, 0, &ev.detected},
		{"killing", victim.Kill, 0, nil},
		{"restarting", victim.Restart, 1, &ev.rejoined},
	} {
		if !sleepUntil(ctx, start.Add(time.Duration(i+1)*d/4)) {
			return ev
		}
		ev.snapshots[i+1] = scrape(ctx, client, instances)
		fmt.Printf("  ** %s memcached %s **\n", step.name, victim.Addr)
		if err := step.do(); err != nil {
			ev.err = fmt.Errorf("%s memcached %s: %w", step.name, victim.Addr, err)
			return ev
		}
		if step.at != nil {
			// Seen before the next step, or not at all.
			wctx, cancel := context.WithDeadline(ctx, start.Add(time.Duration(i+2)*d/4))
			*step.at = waitNodeUp(wctx, client, instances, victim.Addr, step.up)
			cancel()
		}
	}
	sleepUntil(ctx, start.Add(d))
	ev.snapshots[4] = scrape(context.WithoutCancel(ctx), client, instances)
	return ev
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// waitNodeUp polls every instance's authgate_cache_memcache_node_up for
// node until all read want, and returns when; zero if ctx ends first.
func waitNodeUp(ctx context.Context, client *http.Client, instances []string, node string, want float64) time.Time {
	for {
		all := true
		for _, u := range instances {
			if v, ok := nodeUp(ctx, client, u, node); !ok || v != want {
				all = false
			}
		}
		if all {
			return time.Now()
		}
		if !sleepUntil(ctx, time.Now().Add(10*time.Millisecond)) {
			return time.Time{}
		}
	}
}

// nodeUp reads authgate_cache_memcache_node_up{node} from an instance.
func nodeUp(ctx context.Context, client *http.Client, instance, node string) (float64, bool) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, instance+"/metrics", nil)
	resp, err := client.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	prefix := `authgate_cache_memcache_node_up{node="` + node + `"} `
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// placement predicts where the venue instances keep a token's shared
// entry: the key name an authn.Setup configured as the venue configures
// its own gives it (authn.Authenticator.SharedKeyName: a keyed hash of the
// token bound to the validators' policy and the enricher's name), and the
// node the ketama continuum places that name on. check verifies it against
// a real instance before a run.
type placement struct {
	gate    *authn.Gate
	cluster *cache.Cluster
}

// venueEnricher is the name examples/venue gives its enricher.
const venueEnricher = "datasets-v1"

func (w *world) newPlacement(ctx context.Context, servers []string) (*placement, error) {
	gate, err := authn.Setup(ctx, authn.SetupConfig{
		Issuer: w.idp.Issuer(), Audience: api, ClientID: "venue-app", ClientSecret: "venue-app-secret",
		MemcacheServers: servers, Namespace: venueNamespace, Secret: []byte(w.secret),
	}, authn.WithEnricher(venueEnricher, authn.EnricherFunc(func(context.Context, *claims.Principal) (map[string][]string, error) {
		return nil, nil
	})), authn.WithLogger(zap.NewNop()))
	if err != nil {
		return nil, err
	}
	p := &placement{gate: gate}
	if p.cluster, err = cache.NewCluster(servers, cache.ClusterConfig{}); err != nil {
		gate.Close()
		return nil, err
	}
	return p, nil
}

func (p *placement) close() {
	p.cluster.Close()
	p.gate.Close()
}

// key is the memcached key of token's shared entry.
func (p *placement) key(token string) string { return p.gate.Authenticator.SharedKeyName(token) }

// check sends token, which no instance has seen, to instance, and looks
// for its entry on the node placement predicts.
func (p *placement) check(ctx context.Context, client *http.Client, instance, token string) error {
	if status, err := send(ctx, client, request{method: "GET", url: instance + "/v1/venues", token: token}); err != nil || status != 200 {
		return fmt.Errorf("checking placement: a new token got %d, %v", status, err)
	}
	key := p.key(token)
	home, _ := p.cluster.Placement(key)
	keys, err := memcachedtest.Keys(home, 5*time.Second)
	if err != nil {
		return err
	}
	if !slices.Contains(keys, key) {
		return errors.New("the venue did not store a token's entry where the load test predicts: its key derivation no longer matches authn's (see placement)")
	}
	return nil
}

// phaseNames are the cluster mix's four phases, a quarter of the run each.
var phaseNames = [4]string{"all up", "one node hung", "the node killed", "the node restarted (empty)"}

// healthyOuts reads the instances' logs in dir for the moments they took
// a node other than victim out: a timeout of a healthy node, that is a
// stall of this machine longer than the read or write timeout.
func healthyOuts(dir, victim string) []time.Time {
	logs, _ := filepath.Glob(filepath.Join(dir, "venue-*.log"))
	var outs []time.Time
	for _, name := range logs {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var line struct {
				TS   float64 `json:"ts"`
				Msg  string  `json:"msg"`
				Node string  `json:"node"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && strings.HasPrefix(line.Msg, "cache: memcached node out") && line.Node != victim {
				outs = append(outs, time.Unix(0, int64(line.TS*1e9)))
			}
		}
		f.Close()
	}
	return outs
}

// reportCluster prints the cluster mix's figures per phase.
func reportCluster(start time.Time, d time.Duration, ev faultEvents, res, flows *result, healthyOuts []time.Time) {
	bounds := [5]time.Time{start, start.Add(d / 4), start.Add(d / 2), start.Add(3 * d / 4), start.Add(d)}
	type row struct {
		name     string
		from, to time.Time
		snaps    [2]map[string]float64
	}
	var rows []row
	for i, name := range phaseNames {
		rows = append(rows, row{name, bounds[i], bounds[i+1], [2]map[string]float64{ev.snapshots[i], ev.snapshots[i+1]}})
		if i == 1 && !ev.detected.IsZero() {
			rows = append(rows, row{name: "  after the first detection", from: ev.detected, to: bounds[2]})
		}
	}
	if !ev.detected.IsZero() {
		fmt.Printf("\nthe hung node was out on every instance %v after it hung", ev.detected.Sub(bounds[1]).Round(time.Millisecond))
	}
	if !ev.rejoined.IsZero() {
		fmt.Printf("; back in service on every instance %v after its restart", ev.rejoined.Sub(bounds[3]).Round(time.Millisecond))
	}
	fmt.Println()
	fmt.Printf("\n| phase | requests | p50 / p99 | %s: n, p50 / p99 | %s | %s | login + refresh flows: ok / failed | memcached lookups: hits / misses / errors | healthy nodes taken out | unexpected answers |\n",
		newOnHung, newCopyHung, newElsewhere)
	fmt.Println("|---|---:|---|---|---|---|---|---|---:|---:|")
	for _, r := range rows {
		in := func(s sample) bool { return !s.start.Before(r.from) && s.start.Before(r.to) }
		all := pick(res.samples, func(s sample) bool { return in(s) })
		flowOK := len(pick(flows.samples, func(s sample) bool { return in(s) && s.ok }))
		flowFailed := len(pick(flows.samples, func(s sample) bool { return in(s) && !s.ok }))
		unexpected := len(pick(res.samples, func(s sample) bool { return in(s) && !s.ok })) + flowFailed
		class := func(kind string) string {
			return figures(pick(res.samples, func(s sample) bool { return in(s) && s.kind == kind }), true)
		}
		lookups := ""
		if r.snaps[0] != nil && r.snaps[1] != nil {
			delta := func(k string) float64 { return r.snaps[1]["memcache/"+k] - r.snaps[0]["memcache/"+k] }
			lookups = fmt.Sprintf("%.0f / %.0f / %.0f", delta("hit"), delta("miss"), delta("error"))
		}
		outs := 0
		for _, t := range healthyOuts {
			if !t.Before(r.from) && t.Before(r.to) {
				outs++
			}
		}
		fmt.Printf("| %s | %d | %s | %s | %s | %s | %d / %d | %s | %d | %d |\n", r.name, len(all), figures(all, false),
			class(newOnHung), class(newCopyHung), class(newElsewhere), flowOK, flowFailed, lookups, outs, unexpected)
	}
}

func pick(samples []sample, keep func(sample) bool) []sample {
	var out []sample
	for _, s := range samples {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// figures is "p50 / p99" of samples, prefixed with their count when
// counted.
func figures(samples []sample, counted bool) string {
	if len(samples) == 0 {
		return "–"
	}
	took := make([]time.Duration, len(samples))
	for i, s := range samples {
		took[i] = s.took
	}
	slices.Sort(took)
	at := func(p float64) time.Duration {
		return took[min(len(took)-1, int(p*float64(len(took))))].Round(10 * time.Microsecond)
	}
	f := fmt.Sprintf("%v / %v", at(.5), at(.99))
	if counted {
		f = fmt.Sprintf("%d, %s", len(samples), f)
	}
	return f
}
