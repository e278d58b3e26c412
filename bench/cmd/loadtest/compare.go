package main

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/middleware"
	"github.com/authgate/authgate/tokenvalidator"
)

// ok is the handler every contender guards: the work of a real handler is
// the same for all, so it is left out.
var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })

// comparePhase serves ok behind each contender and drives each the same way.
func (w *world) comparePhase(ctx context.Context) error {
	contenders, err := w.contenders(ctx)
	if err != nil {
		return err
	}
	const rounds = 3
	fmt.Printf("\nComparison: %d clients, %d rounds of %v per contender, the same %d hot tokens, loopback HTTP\n",
		w.c.clients, rounds, w.c.compare, len(w.hot))
	urls := make([]string, len(contenders))
	for i, ct := range contenders {
		url, stop, err := serve(ct.handler)
		if err != nil {
			return err
		}
		defer stop()
		urls[i] = url
		// Warm up: every hot token once, so each contender is measured in
		// its steady state (authgate: in-process hits).
		client := newHTTPClient(w.c.clients)
		for _, tok := range w.hot {
			if status, err := send(ctx, client, request{method: "GET", url: url, token: tok}); err != nil || status != 200 {
				return fmt.Errorf("%s refuses a hot token: %d %v", ct.name, status, err)
			}
		}
	}
	names := make([]string, len(contenders))
	for i, ct := range contenders {
		names[i] = ct.name
	}
	rows, err := w.inRotation(ctx, names, rounds, w.c.compare, func(i int, token string) request {
		return request{kind: "hot", method: "GET", url: urls[i], token: token, valid: &yes}
	})
	if err != nil {
		return err
	}
	printCompare(rows)
	return ctx.Err()
}

// inRotation drives each contender for d, rounds times, in rotation — so
// that none always runs first or last on a machine whose speed drifts — with
// the hot tokens, and returns each contender's median round by requests/s.
func (w *world) inRotation(ctx context.Context, names []string, rounds int, d time.Duration, req func(i int, token string) request) ([]compareRow, error) {
	results := make([][]*result, len(names))
	for range rounds {
		for i, name := range names {
			client := newHTTPClient(w.c.clients)
			res := drive(ctx, client, w.c.clients, d, w.c.maxRequests, name, func(id, n int) request {
				return req(i, w.hot[(id*7919+n)%len(w.hot)])
			})
			client.CloseIdleConnections()
			results[i] = append(results[i], res)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	rows := make([]compareRow, len(names))
	for i, name := range names {
		slices.SortFunc(results[i], func(a, b *result) int { return cmp.Compare(a.perSecond(), b.perSecond()) })
		rows[i] = compareRow{name, results[i][len(results[i])/2]}
	}
	return rows, nil
}

type contender struct {
	name    string
	handler http.Handler
}

type compareRow struct {
	name string
	res  *result
}

func (w *world) contenders(ctx context.Context) ([]contender, error) {
	v, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{Issuer: w.idp.Issuer(), Audiences: []string{api}})
	if err != nil {
		return nil, err
	}
	a, err := authn.NewAuthenticator(v, authn.Config{MemoryTTL: time.Hour})
	if err != nil {
		return nil, err
	}
	mw, err := middleware.New(a, middleware.Config{})
	if err != nil {
		return nil, err
	}
	var known sync.Map
	for _, tok := range w.hot {
		known.Store(cache.DigestOf(tok), &claims.Principal{Subject: "auth0|alice"})
	}
	shaMap := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		p, found := known.Load(cache.DigestOf(tok))
		if !found {
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		ok.ServeHTTP(rw, r.WithContext(claims.NewContext(r.Context(), p.(*claims.Principal))))
	})
	issuer, _ := url.Parse(w.idp.Issuer())
	provider := jwks.NewCachingProvider(issuer, 5*time.Minute)
	gv, err := validator.New(provider.KeyFunc, validator.RS256, w.idp.Issuer(), []string{api})
	if err != nil {
		return nil, err
	}
	return []contender{
		{"bare handler", ok},
		{"sha256 + map", shaMap},
		{"authgate (L1 hit)", mw.Handler(mw.RequireScopes("read:venues")(ok))},
		{"go-jwt-middleware", jwtmiddleware.New(gv.ValidateToken).CheckJWT(ok)},
	}, nil
}

// serve starts h on a free loopback port.
func serve(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	return "http://" + l.Addr().String() + "/", func() { srv.Close() }, nil
}

func printCompare(rows []compareRow) {
	bare := rows[0].res.perSecond()
	fmt.Println()
	fmt.Println("| contender | requests/s | % of bare handler | p50 | p99 | unexpected answers |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %s | %.0f | %.0f%% | %v | %v | %d |\n", r.name, r.res.perSecond(), 100*r.res.perSecond()/bare,
			r.res.percentile(.50).Round(time.Microsecond), r.res.percentile(.99).Round(time.Microsecond), sum(r.res.unexpected))
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
