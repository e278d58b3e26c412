package cache_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/internal/tracing/tracingtest"
)

// TestTraceTier: WithTracerProvider on NewCluster traces the shared tier's
// calls — a child span of the request's per call, saying whether a get
// found the entry — and never shows a key name.
func TestTraceTier(t *testing.T) {
	e := newEnv(t)
	rec := tracingtest.New(t)
	cluster := e.cluster(t, cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second}, cache.WithTracerProvider(rec))
	m, err := cache.NewMemcache(cluster, cache.MemcacheConfig{Namespace: "test/venue", HashKey: hashKey, MACKeys: []cache.MACKey{key1}})
	if err != nil {
		t.Fatal(err)
	}
	d := cache.DigestOf("a token")
	ctx, request := rec.Request(context.Background())
	if err := m.Add(ctx, d, cache.Entry{Value: []byte("v"), Expires: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.GetCopies(ctx, d); err != nil {
		t.Fatal(err)
	}
	request.End()
	add, get := rec.One(t, "authgate.memcached.add"), rec.One(t, "authgate.memcached.get")
	tracingtest.ChildOf(t, add, request.SpanContext())
	tracingtest.ChildOf(t, get, request.SpanContext())
	tracingtest.WantAttrs(t, get, map[string]string{"authgate.memcached.hit": "true", "authgate.memcached.hits": "1"})
	name := m.KeyName(d)
	for where, text := range tracingtest.Texts(rec.Spans()) {
		if strings.Contains(text, name[len(name)-20:]) || strings.Contains(text, "a token") {
			t.Errorf("%s names the key: %q", where, text)
		}
	}
}
