package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
)

// leeway is the venue validator's default clock-skew tolerance: an expiring
// token may still pass this long after its exp.
const leeway = 30 * time.Second

// venuePhase runs the venue example as separate processes and drives them
// with the token mix.
func (w *world) venuePhase(ctx context.Context) error {
	var mc *memcachedtest.Process
	if !w.c.noMemcached {
		var err error
		if mc, err = memcachedtest.Launch(); err != nil {
			fmt.Printf("\nno memcached (%v): the venue phase runs with the in-process tier only\n", err)
		} else {
			defer mc.Kill()
		}
	}
	dir, err := os.MkdirTemp("", "authgate-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var servers []string
	if mc != nil {
		servers = []string{mc.Addr}
	}
	instances, stop, err := w.startVenues(ctx, dir, servers)
	defer stop()
	if err != nil {
		return err
	}

	fresh, err := w.mint(ctx, min(w.c.newPerSecond*int(w.c.duration.Seconds()+1), 5000), time.Hour)
	if err != nil {
		return err
	}
	expiring, err := w.mint(ctx, w.c.expiring, w.c.expireAt)
	if err != nil {
		return err
	}
	expiry := w.idp.Now().Add(w.c.expireAt).Truncate(time.Second)

	client := newHTTPClient(w.c.clients)
	before, callsBefore := scrape(ctx, client, instances), w.providerCalls()
	memcachedNote := "no memcached"
	var killed atomic.Bool
	if mc != nil {
		memcachedNote = "memcached at " + mc.Addr
		if w.c.killMemcachedAt > 0 {
			memcachedNote += fmt.Sprintf(", killed at %v", w.c.killMemcachedAt)
			time.AfterFunc(w.c.killMemcachedAt, func() {
				fmt.Println("  ** killing memcached **")
				killed.Store(true)
				_ = mc.Kill()
			})
		}
	}
	fmt.Printf("\nVenue mix: %d instances (%s), %d clients, %v; hot %d, new %d/s, invalid %.0f%%, %d expiring at +%v, %d refreshes/s\n",
		len(instances), memcachedNote, w.c.clients, w.c.duration, len(w.hot), w.c.newPerSecond, 100*w.c.invalidFraction,
		w.c.expiring, w.c.expireAt, w.c.refreshPerSec)

	newTokens := make(chan string, len(fresh))
	phaseCtx, cancel := context.WithTimeout(ctx, w.c.duration)
	defer cancel()
	go release(phaseCtx, fresh, w.c.newPerSecond, newTokens)
	flows := make(chan *result, 1)
	go func() { flows <- w.refreshFlows(phaseCtx, client, instances, &killed) }()

	res := drive(ctx, client, w.c.clients, w.c.duration, w.c.maxRequests, "venue mix",
		w.mix(instances, expiring, expiry, newTokens, func(string) string { return "new" }))
	cancel()
	flowRes := <-flows
	after, callsAfter := scrape(ctx, client, instances), w.providerCalls()
	report(res, flowRes, before, after, callsBefore, callsAfter)
	if failed := res.unexpected["hot"] + res.unexpected["new"] + flowRes.unexpected["refresh"]; failed > 0 {
		return fmt.Errorf("%d requests with valid tokens failed; first: %s%s", failed, res.firstError, flowRes.firstError)
	}
	return nil
}

// mix returns the venue mix's next request: the hot set, the new tokens
// as release hands them out (of the kind newKind names), invalid tokens,
// and the tokens that expire at expiry; each to an instance in turn.
func (w *world) mix(instances, expiring []string, expiry time.Time, newTokens <-chan string, newKind func(token string) string) func(id, i int) request {
	return func(id, i int) request {
		base := instances[(id+i)%len(instances)]
		r := rand.Float64()
		switch {
		case r < w.c.invalidFraction:
			return request{kind: "invalid", method: "GET", url: base + "/v1/venues", token: w.invalid[rand.IntN(len(w.invalid))], valid: &no}
		case r < w.c.invalidFraction+0.05 && len(expiring) > 0:
			return request{kind: "expiring", method: "GET", url: base + "/v1/venues", token: expiring[rand.IntN(len(expiring))], valid: expiringValidity(expiry)}
		}
		select {
		case tok := <-newTokens:
			return request{kind: newKind(tok), method: "GET", url: base + "/v1/venues", token: tok, valid: &yes}
		default:
			return request{kind: "hot", method: "GET", url: base + "/v1/venues", token: w.hot[rand.IntN(len(w.hot))], valid: &yes}
		}
	}
}

// expiringValidity says what an expiring token must get now: success before
// its exp, 401 once the validator's leeway has passed too, either between.
func expiringValidity(exp time.Time) *bool {
	switch now := time.Now(); {
	case now.Before(exp.Add(-time.Second)):
		return &yes
	case now.After(exp.Add(leeway + 2*time.Second)):
		return &no
	}
	return nil
}

// release hands out the fresh tokens at perSecond.
func release(ctx context.Context, tokens []string, perSecond int, out chan<- string) {
	if perSecond <= 0 {
		return
	}
	t := time.NewTicker(time.Second / time.Duration(perSecond))
	defer t.Stop()
	for _, tok := range tokens {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			out <- tok
		}
	}
}

// refreshFlows logs in and refreshes at refreshPerSec, alternating
// instances, and uses each new token once; each flow is a sample of kind
// "refresh". Refresh tokens live in memcached: once it is killed (killed,
// when not nil, says so), a refresh can only answer 503, so flows started
// after that are counted apart ("outage") and expected to fail.
func (w *world) refreshFlows(ctx context.Context, client *http.Client, instances []string, killed *atomic.Bool) *result {
	res := &result{unexpected: map[string]int{}, byKind: map[string]int{}}
	if w.c.refreshPerSec <= 0 {
		return res
	}
	t := time.NewTicker(time.Second / time.Duration(w.c.refreshPerSec))
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return res
		case <-t.C:
		}
		res.byKind["started"]++
		outage := killed != nil && killed.Load()
		start := time.Now()
		login, refresh := instances[i%len(instances)], instances[(i+1)%len(instances)]
		tok, err := tokenFrom(ctx, client, login+"/auth/login", "", "username=alice&password=alice-password&organization=org_acme")
		if err == nil {
			tok, err = tokenFrom(ctx, client, refresh+"/auth/refresh", tok, "")
		}
		if err == nil {
			var status int
			status, err = send(ctx, client, request{method: "GET", url: login + "/v1/venues", token: tok})
			if err == nil && status != 200 {
				err = fmt.Errorf("the refreshed token got %d", status)
			}
		}
		if ctx.Err() != nil {
			return res
		}
		res.requests += 3
		res.samples = append(res.samples, sample{kind: "refresh", start: start, took: time.Since(start), ok: err == nil})
		switch {
		case outage && err != nil:
			res.byKind["outage-failed"]++
		case outage:
			res.byKind["outage-ok"]++
		case err != nil:
			res.byKind["refresh"]++
			res.unexpected["refresh"]++
			if res.firstError == "" {
				res.firstError = "refresh flow: " + err.Error()
			}
		default:
			res.byKind["refresh"]++
		}
	}
}

func tokenFrom(ctx context.Context, client *http.Client, url, bearer, form string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, stringsReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.AccessToken == "" {
		return "", fmt.Errorf("POST %s: %d %v", url, resp.StatusCode, err)
	}
	return body.AccessToken, nil
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// startVenues builds examples/venue in dir, starts w.c.instances of it
// sharing the memcached servers (none: in-process tier only), and waits for
// their health checks. stop kills the instances and waits for them to exit;
// it must be called, even after an error (the caller's context does not
// outlive the program: os.Exit skips its cancel).
func (w *world) startVenues(ctx context.Context, dir string, servers []string) (urls []string, stop func(), err error) {
	var exited []chan struct{}
	var procs []*os.Process
	stop = func() {
		for i, p := range procs {
			_ = p.Kill()
			<-exited[i]
		}
	}
	urls, err = w.launchVenues(ctx, dir, servers, func(p *os.Process, done chan struct{}) {
		procs, exited = append(procs, p), append(exited, done)
	})
	return urls, stop, err
}

// launchVenues is startVenues' work; started is told of each process and of
// the channel closed when it has exited.
func (w *world) launchVenues(ctx context.Context, dir string, servers []string, started func(*os.Process, chan struct{})) ([]string, error) {
	bin := filepath.Join(dir, "venue")
	fmt.Println("\nbuilding examples/venue …")
	// In its own module (this one's replace points there): its
	// dependencies' sums are in that module's go.sum, not in this one's.
	root, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/authgate/authgate").Output()
	if err != nil {
		return nil, fmt.Errorf("finding the authgate module: %w", err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/venue")
	build.Dir = strings.TrimSpace(string(root))
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the venue example: %v\n%s", err, out)
	}
	var urls []string
	for i := range w.c.instances {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := l.Addr().String()
		l.Close()
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = append(os.Environ(), "ADDR="+addr, "ISSUER_URL="+w.idp.Issuer(), "AUDIENCE="+api,
			"CLIENT_ID=venue-app", "CLIENT_SECRET=venue-app-secret", "CACHE_NAMESPACE="+venueNamespace, "AUTHGATE_SECRET="+w.secret)
		if len(servers) > 0 {
			cmd.Env = append(cmd.Env, "MEMCACHE_SERVERS="+strings.Join(servers, ","))
		}
		logFile, err := os.Create(filepath.Join(dir, fmt.Sprintf("venue-%d.log", i)))
		if err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		done := make(chan struct{})
		started(cmd.Process, done)
		go func() { _ = cmd.Wait(); logFile.Close(); close(done) }()
		urls = append(urls, "http://"+addr)
	}
	client := &http.Client{Timeout: time.Second}
	for _, u := range urls {
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := client.Get(u + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				return nil, errors.New("a venue instance did not become healthy within 30s (see its log)")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return urls, nil
}

var metricLine = regexp.MustCompile(`^authgate_authn_cache_lookups_total\{result="(\w+)",tier="(\w+)"\} ([\d.e+]+)`)

// scrape sums every instance's cache lookup counters, by "tier/result".
func scrape(ctx context.Context, client *http.Client, instances []string) map[string]float64 {
	out := map[string]float64{}
	for _, u := range instances {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u+"/metrics", nil)
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if m := metricLine.FindStringSubmatch(sc.Text()); m != nil {
				v, _ := strconv.ParseFloat(m[3], 64)
				out[m[2]+"/"+m[1]] += v
			}
		}
		resp.Body.Close()
	}
	return out
}

func (w *world) providerCalls() map[idptest.Endpoint]int {
	out := map[idptest.Endpoint]int{}
	for _, e := range []idptest.Endpoint{idptest.EndpointToken, idptest.EndpointJWKS, idptest.EndpointDiscovery,
		idptest.EndpointUserinfo, idptest.EndpointIntrospect, idptest.EndpointRevoke} {
		out[e] = w.idp.Calls(e)
	}
	return out
}

func report(res, flows *result, before, after map[string]float64, callsBefore, callsAfter map[idptest.Endpoint]int) {
	total := res.requests + flows.requests
	delta := func(k string) float64 { return after[k] - before[k] }
	ratio := func(tier string) string {
		hit := delta(tier + "/hit")
		all := hit + delta(tier+"/miss") + delta(tier+"/error") + delta(tier+"/rejected") + delta(tier+"/revoked")
		if all == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f%% (%.0f hits of %.0f lookups)", 100*hit/all, hit, all)
	}
	var calls []string
	sumCalls := 0
	for e, n := range callsAfter {
		if d := n - callsBefore[e]; d > 0 {
			calls = append(calls, fmt.Sprintf("%s %d", e, d))
			sumCalls += d
		}
	}
	fmt.Printf("\n| measure | value |\n|---|---|\n")
	fmt.Printf("| requests | %d (%.0f/s) |\n", total, float64(total)/res.elapsed.Seconds())
	fmt.Printf("| latency p50 / p95 / p99 | %v / %v / %v |\n", res.percentile(.5).Round(time.Microsecond),
		res.percentile(.95).Round(time.Microsecond), res.percentile(.99).Round(time.Microsecond))
	fmt.Printf("| by kind | hot %d, new %d, invalid %d, expiring %d, login+refresh flows %d |\n",
		res.byKind["hot"], res.byKind["new"], res.byKind["invalid"], res.byKind["expiring"], flows.byKind["refresh"])
	if n := flows.byKind["outage-ok"] + flows.byKind["outage-failed"]; n > 0 {
		fmt.Printf("| login+refresh flows with memcached down (the refresh-token store) | %d: %d failed as they must (refresh 503), %d succeeded |\n",
			n, flows.byKind["outage-failed"], flows.byKind["outage-ok"])
	}
	fmt.Printf("| in-process tier hits | %s |\n", ratio("memory"))
	fmt.Printf("| negative (invalid-token) tier hits | %.0f |\n", delta("negative/hit"))
	fmt.Printf("| memcached tier hits, after in-process misses (invalid tokens are never stored) | %s |\n", ratio("memcache"))
	fmt.Printf("| memcached errors (answered by validation) | %.0f |\n", delta("memcache/error"))
	fmt.Printf("| provider calls | %d (%s): %.2f per 1,000 requests; all from the %d login+refresh flows started (2 calls each): %v |\n",
		sumCalls, strings.Join(calls, ", "), 1000*float64(sumCalls)/float64(total), flows.byKind["started"], sumCalls <= 2*flows.byKind["started"])
	fmt.Printf("| unexpected answers | hot %d, new %d, invalid %d, expiring %d, refresh flows %d |\n",
		res.unexpected["hot"], res.unexpected["new"], res.unexpected["invalid"], res.unexpected["expiring"], flows.unexpected["refresh"])
	if res.firstError != "" || flows.firstError != "" {
		fmt.Printf("| first unexpected | %s %s |\n", res.firstError, flows.firstError)
	}
}
