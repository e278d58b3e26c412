package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// request is one request a client sends, and what it should get.
type request struct {
	kind   string // for the report: hot, new, invalid, expiring, refresh, …
	method string
	url    string
	token  string
	form   string // form body, for logins
	header http.Header
	// valid says the request must succeed; invalid ones must get 401; nil
	// means either is acceptable (an expiring token within the leeway).
	valid *bool
}

var yes, no = true, false

// result is what a phase measured.
type result struct {
	requests   int
	elapsed    time.Duration
	latencies  []time.Duration
	unexpected map[string]int // by kind
	byKind     map[string]int
	firstError string
	samples    []sample // each request, when the phase keeps them
}

// sample is one request: its kind, when it started, how long it took, and
// whether it got what it should.
type sample struct {
	kind  string
	start time.Time
	took  time.Duration
	ok    bool
}

func (r *result) perSecond() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r *result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

// drive runs clients goroutines, each sending next() until the phase's time
// or request budget is spent, printing progress every second.
func drive(ctx context.Context, client *http.Client, clients int, d time.Duration, maxRequests int, label string,
	next func(clientID int, i int) request) *result {
	return driveKeeping(ctx, client, clients, d, maxRequests, label, false, next)
}

// driveKeeping is drive, keeping every request as a sample when keep is
// set.
func driveKeeping(ctx context.Context, client *http.Client, clients int, d time.Duration, maxRequests int, label string,
	keep bool, next func(clientID int, i int) request) *result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var sent atomic.Int64
	var mu sync.Mutex // guards res while clients merge into it
	res := &result{unexpected: map[string]int{}, byKind: map[string]int{}}
	start := time.Now()
	done := make(chan struct{})
	go progress(label, start, &sent, done)
	var wg sync.WaitGroup
	for id := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := &result{unexpected: map[string]int{}, byKind: map[string]int{}}
			for i := 0; ctx.Err() == nil && sent.Add(1) <= int64(maxRequests); i++ {
				req := next(id, i)
				t0 := time.Now()
				status, err := send(ctx, client, req)
				if ctx.Err() != nil {
					break // the phase ended mid-request: not a result
				}
				took := time.Since(t0)
				local.latencies = append(local.latencies, took)
				local.requests++
				local.byKind[req.kind]++
				ok := expected(req, status, err)
				if keep {
					local.samples = append(local.samples, sample{kind: req.kind, start: t0, took: took, ok: ok})
				}
				if !ok {
					local.unexpected[req.kind]++
					if local.firstError == "" {
						local.firstError = fmt.Sprintf("%s %s (%s): status %d, %v", req.method, req.url, req.kind, status, err)
					}
				}
			}
			mu.Lock()
			res.merge(local)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(done)
	res.elapsed = time.Since(start)
	slices.Sort(res.latencies)
	return res
}

func (r *result) merge(o *result) {
	r.requests += o.requests
	r.latencies = append(r.latencies, o.latencies...)
	r.samples = append(r.samples, o.samples...)
	for k, v := range o.unexpected {
		r.unexpected[k] += v
	}
	for k, v := range o.byKind {
		r.byKind[k] += v
	}
	if r.firstError == "" {
		r.firstError = o.firstError
	}
}

func expected(req request, status int, err error) bool {
	switch {
	case req.valid == nil:
		return err == nil
	case *req.valid:
		return err == nil && status/100 == 2
	default:
		return err == nil && status == http.StatusUnauthorized
	}
}

func send(ctx context.Context, client *http.Client, r request) (int, error) {
	var body io.Reader
	if r.form != "" {
		body = stringsReader(r.form)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return 0, err
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func progress(label string, start time.Time, sent *atomic.Int64, done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := int64(0)
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			n := sent.Load()
			fmt.Printf("  %-26s t=%3.0fs  requests=%-9d %7d/s\n", label, now.Sub(start).Seconds(), n, n-last)
			last = n
		}
	}
}

func newHTTPClient(clients int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        4 * clients,
			MaxIdleConnsPerHost: 2 * clients,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}
