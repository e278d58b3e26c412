package memcached_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"go.opentelemetry.io/otel/codes"

	"github.com/authgate/authgate/internal/memcached"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/internal/tracing"
	"github.com/authgate/authgate/internal/tracing/tracingtest"
)

// TestTraceCalls: each call to a node made for a traced request is an
// "authgate.memcached.<op>" span, a child of the request's, naming the
// operation and the node; a get says whether it found its keys (a
// multi-get how many); an answer such as a lost add is no failure, a node
// that cannot be reached is. No key name is in any span, and a call whose
// context holds no span makes none.
func TestTraceCalls(t *testing.T) {
	mc := memcachedtest.Start(t)
	rec := tracingtest.New(t)
	c, err := memcached.NewCluster(nodes(mc.Addr()), memcached.ClusterConfig{Tracer: tracing.Tracer(rec)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const key, absent = "ag1:test:some-keyed-hash", "ag1:test:another-keyed-hash"
	if err := c.Set(context.Background(), &memcache.Item{Key: key, Value: []byte("v"), Expiration: 60}); err != nil {
		t.Fatal(err)
	}
	if spans := rec.Spans(); len(spans) != 0 {
		t.Fatalf("an untraced call made spans: %s", tracingtest.Names(spans))
	}

	ctx, request := rec.Request(context.Background())
	if _, err := c.Get(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, absent); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatal(err)
	}
	if _, err := c.GetMulti(ctx, []string{key, absent}); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(ctx, &memcache.Item{Key: key, Value: []byte("w"), Expiration: 60}); !errors.Is(err, memcache.ErrNotStored) {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	request.End()

	host, port, _ := strings.Cut(mc.Addr(), ":")
	spans := rec.Spans()
	want := []struct {
		name  string
		attrs map[string]string
	}{
		{"authgate.memcached.get", map[string]string{"authgate.memcached.hit": "true"}},
		{"authgate.memcached.get", map[string]string{"authgate.memcached.hit": "false"}},
		{"authgate.memcached.get", map[string]string{"authgate.memcached.hit": "true", "authgate.memcached.hits": "1"}},
		{"authgate.memcached.add", map[string]string{"db.operation.name": "add"}},
		{"authgate.memcached.delete", map[string]string{"db.operation.name": "delete"}},
		{"request", nil},
	}
	if len(spans) != len(want) {
		t.Fatalf("spans %s, want %d", tracingtest.Names(spans), len(want))
	}
	for i, w := range want[:len(want)-1] {
		s := spans[i]
		if s.Name != w.name {
			t.Errorf("span %d is %s, want %s", i, s.Name, w.name)
		}
		tracingtest.ChildOf(t, s, request.SpanContext())
		tracingtest.WantAttrs(t, s, w.attrs)
		tracingtest.WantAttrs(t, s, map[string]string{"db.system.name": "memcached", "server.address": host, "server.port": port})
		if s.Status.Code == codes.Error {
			t.Errorf("span %d (%s) failed: %v", i, s.Name, s.Status)
		}
	}
	for where, text := range tracingtest.Texts(spans) {
		if strings.Contains(text, "keyed-hash") {
			t.Errorf("%s names a key: %q", where, text)
		}
	}

	rec.Reset()
	down, err := memcached.NewCluster(nodes("127.0.0.1:1"), memcached.ClusterConfig{Tracer: tracing.Tracer(rec), ReadTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	ctx, request = rec.Request(context.Background())
	if _, err := down.Get(ctx, key); err == nil {
		t.Fatal("a node that is not there answered")
	}
	request.End()
	if s := rec.One(t, "authgate.memcached.get"); s.Status.Code != codes.Error {
		t.Errorf("a failed get's span has status %v", s.Status)
	}
}
