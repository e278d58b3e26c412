package cache

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/authgate/authgate/internal/memcached"
	"github.com/authgate/authgate/internal/metrics"
)

// Cluster is the memcached pool every instance of a service shares: keys
// placed on a ketama continuum (libmemcached's, so services in other
// languages place keys alike), a circuit breaker per node, a gutter for the
// keys of a node that is out, and replicated writes for what must survive
// the loss of a node. [NewMemcache] keeps validated tokens on it, and
// refresh.NewMemcacheStore the service's sessions; one Cluster serves both.
// It is safe for concurrent use; Close ends its background probes.
type Cluster = memcached.Cluster

// ClusterConfig configures [NewCluster]. Zero values are the documented
// defaults.
type ClusterConfig struct {
	// Weights gives nodes more (or less) of the keys: a node of weight 2
	// holds about twice the keys of one of weight 1. Default 1 for every
	// node.
	Weights map[string]int
	// ReadTimeout bounds each get, and WriteTimeout each set, add,
	// compare-and-swap and delete: a slow memcached must cost a request
	// less than validating its token does. Defaults 50ms and 100ms.
	ReadTimeout, WriteTimeout time.Duration
	// MaxIdleConns is how many idle connections are kept per node and per
	// timeout class; set it above the peak concurrency, or calls dial.
	// Default 64.
	MaxIdleConns int
	// BreakerThreshold is how many consecutive failures take a node out;
	// a timeout takes it out at once. Default 5.
	BreakerThreshold int
	// BreakerCooldown is how often a node that is out is probed, in the
	// background; it rejoins after a successful probe. The first probe is
	// at once, unless the node rejoined less than a cooldown before.
	// Default 2s.
	BreakerCooldown time.Duration
	// GutterTTL caps the lifetime of what is written to the gutter — the
	// next live node — while a key's own node is out. Default 20s.
	GutterTTL time.Duration
	// MaxHints bounds the replicated writes kept, per node that is out, to
	// replay when it rejoins. Past it the node is emptied (flush_all)
	// before it rejoins: an empty node is a restarted one, which
	// replication covers; a stale one is not. Default 10,000.
	MaxHints int
}

// NewCluster returns a Cluster on servers ("host:port", or a Unix socket
// path). It fails on an empty list, a repeated server, or an address that
// does not resolve; it connects to nothing. WithLogger and WithRegisterer
// report the nodes' health: a node taken out or rejoining is logged, and
// counted in authgate_cache_memcache_node_up and
// authgate_cache_memcache_errors_total. WithTracerProvider traces its
// calls.
func NewCluster(servers []string, cfg ClusterConfig, opts ...Option) (*Cluster, error) {
	if len(servers) == 0 {
		return nil, errors.New("cache: NewCluster needs at least one memcached server")
	}
	for addr, w := range cfg.Weights {
		if w < 1 {
			return nil, fmt.Errorf("cache: ClusterConfig.Weights: %q has weight %d, want at least 1", addr, w)
		}
	}
	nodes := make([]memcached.Node, len(servers))
	for i, s := range servers {
		nodes[i] = memcached.Node{Addr: s, Weight: cfg.Weights[s]}
	}
	o := buildOptions(opts)
	m := newClusterMetrics(o.reg, servers)
	c, err := memcached.NewCluster(nodes, memcached.ClusterConfig{
		ReadTimeout:      cfg.ReadTimeout,
		WriteTimeout:     cfg.WriteTimeout,
		MaxIdleConns:     cfg.MaxIdleConns,
		BreakerThreshold: cfg.BreakerThreshold,
		BreakerCooldown:  cfg.BreakerCooldown,
		GutterTTL:        cfg.GutterTTL,
		MaxHints:         cfg.MaxHints,
		Tracer:           o.tracer,
		OnNodeDown: func(addr string, cause error) {
			m.up(addr).Set(0)
			o.logger.Warn("cache: memcached node out; its keys go to the next node until a probe finds it answering",
				zap.String("node", addr), zap.Error(cause))
		},
		OnNodeUp: func(addr string, replayed int) {
			m.up(addr).Set(1)
			o.logger.Info("cache: memcached node rejoined", zap.String("node", addr), zap.Int("replayed_writes", replayed))
		},
		OnFailure: func(_, op string, _ error) { m.errors(op).Inc() },
		OnHintsLost: func(addr string) {
			m.hintsLost.Inc()
			o.logger.Warn("cache: memcached node out too long to replay what it missed; it will be emptied before it rejoins",
				zap.String("node", addr))
		},
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return c, nil
}

// clusterMetrics are a Cluster's collectors, created with all their labels:
// a node's address is a label, as the nodes are few and fixed by
// configuration.
type clusterMetrics struct {
	nodeUp    *prometheus.GaugeVec
	errs      *prometheus.CounterVec
	hintsLost prometheus.Counter
}

// clusterOps are the operations OnFailure reports.
var clusterOps = []string{"get", "set", "add", "cas", "delete", "version", "flush_all"}

func newClusterMetrics(reg prometheus.Registerer, servers []string) clusterMetrics {
	m := clusterMetrics{
		nodeUp: metrics.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "authgate_cache_memcache_node_up",
			Help: "1 while a memcached node serves its keys, 0 while it is out (its keys go to the next node).",
		}, []string{"node"})),
		errs: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_cache_memcache_errors_total",
			Help: "Calls to memcached nodes that failed, by operation: get, set, add, cas, delete, version (a probe), flush_all. Calls not made because the node was out are not counted.",
		}, []string{"op"})),
		hintsLost: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authgate_cache_memcache_hints_lost_total",
			Help: "Outages of a memcached node that outlasted the replay queue: the node was emptied before it rejoined.",
		})),
	}
	for _, s := range servers {
		m.nodeUp.WithLabelValues(s).Set(1)
	}
	for _, op := range clusterOps {
		m.errs.WithLabelValues(op)
	}
	return m
}

func (m clusterMetrics) up(addr string) prometheus.Gauge     { return m.nodeUp.WithLabelValues(addr) }
func (m clusterMetrics) errors(op string) prometheus.Counter { return m.errs.WithLabelValues(op) }
