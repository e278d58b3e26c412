package memcached_test

import (
	"math"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/memcached"
)

func TestExpiration(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const month = 30 * 24 * time.Hour
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		want int32
		ok   bool
	}{
		{"zero", 0, 0, false},
		{"negative", -time.Second, 0, false},
		{"most negative", math.MinInt64, 0, false},
		{"1ns rounds up", time.Nanosecond, 1, true},
		{"1s", time.Second, 1, true},
		{"1.5s rounds up", 1500 * time.Millisecond, 2, true},
		{"30 days is relative", month, 2_592_000, true},
		{"30 days + 1ns rounds up past it", month + time.Nanosecond, 1_800_000_000 + 2_592_001, true},
		{"30 days + 1s is absolute", month + time.Second, 1_800_000_000 + 2_592_001, true},
		{"beyond 2038 is cut", 100 * 365 * 24 * time.Hour, math.MaxInt32, true},
		{"largest duration", math.MaxInt64, math.MaxInt32, true},
	} {
		got, ok := memcached.Expiration(tc.ttl, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Expiration(%v) = %d, %v; want %d, %v", tc.name, tc.ttl, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNewClient(t *testing.T) {
	for _, tc := range []struct {
		name    string
		servers []string
		ok      bool
	}{
		{"none", nil, false},
		{"no port", []string{"no-port"}, false},
		{"unresolvable", []string{"host.invalid.:11211"}, false},
		{"one bad of two", []string{"127.0.0.1:11211", "host.invalid.:11211"}, false},
		{"loopback", []string{"127.0.0.1:11211"}, true},
		{"two", []string{"127.0.0.1:11211", "127.0.0.1:11212"}, true},
	} {
		c, err := memcached.NewClient(tc.servers, 150*time.Millisecond, 64)
		if (err == nil) != tc.ok {
			t.Errorf("%s: NewClient(%q) error %v", tc.name, tc.servers, err)
			continue
		}
		if err == nil && (c.Timeout != 150*time.Millisecond || c.MaxIdleConns != 64) {
			t.Errorf("%s: Timeout %v, MaxIdleConns %d", tc.name, c.Timeout, c.MaxIdleConns)
		}
	}
}
