// Package memcached is authgate's access to memcached, shared by the
// validated-token cache (package cache), the refresh-token store (package
// refresh) and the connections package: a [Cluster] of memcached nodes —
// keys placed by consistent hashing, a circuit breaker per node, a gutter
// for the keys of a node that is out, and replication for what must survive
// the loss of a node — and memcached's expiration rules ([Expiration]).
//
// gomemcache takes no context, so a call is bounded by the Cluster's
// timeouts (for the dial and for each read and write), not by the
// context's deadline; a context that has already ended stops the call
// before it starts. Errors name the operation and the node ("memcached:
// get mc1:11211: …"), and gomemcache's sentinels (memcache.ErrCacheMiss,
// ErrNotStored, …) stay visible to errors.Is. Answers — a miss, a lost add
// or compare-and-swap race, a key gomemcache refuses to send — are not
// failures.
//
// # Cluster
//
// A Cluster serves two kinds of keys. Single-copy keys (validated-token
// cache entries, leases: anything that can be recomputed) live on one node
// and move to a gutter while it is out: [Cluster.Get], [Cluster.Set],
// [Cluster.Add], [Cluster.Delete], [Cluster.Lease]. Replicated keys
// (revocation marks, refresh records, refresh locks: what must survive a
// node) live on two: [Cluster.GetReplicated], [Cluster.SetReplicated],
// [Cluster.SetReplicatedIf] (a compare-and-swap per copy, so that a copy
// never goes back over a newer value), [Cluster.DeleteReplicated],
// [Cluster.Lock]. A key is one kind or the other, always: a single-copy
// read of a replicated key sees one copy. [Cluster.GetMulti] reads several
// keys' copies in one round trip per node (one gets of all the keys a node
// holds, the nodes at once): a cache entry and the marks that may revoke
// it cost one round trip, not one per key.
//
//	c, err := memcached.NewCluster([]memcached.Node{{Addr: "mc1:11211"}, {Addr: "mc2:11211"}, {Addr: "mc3:11211"}},
//		memcached.ClusterConfig{OnNodeDown: logDown, OnNodeUp: logUp})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	cp, err := c.SetReplicated(ctx, &memcache.Item{Key: mark, Value: v, Expiration: exp})
//	// err is nil when one copy was written; cp.Errs says which failed.
//
// # Placement
//
// Keys are placed on a ketama continuum, exactly as libmemcached places
// them with MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED (what PHP's
// Memcached::OPT_LIBKETAMA_COMPATIBLE and pylibmc's "ketama_weighted"
// set), so services in other languages using those clients, given the same
// servers in the same order and spelled alike, place every key on the same
// node. Each node gets floor(weight/total × 40 × n) × 4 points — 160 with
// equal weights — computed in float32 as libmemcached does; point j of a
// node is one of the four little-endian words of MD5("host:port-" + i)
// (i = j/4; "host-" + i on port 11211, "path:0-" + i for a Unix socket);
// points are sorted by position, then by node order. A key's position is
// the first little-endian word of MD5(key), and its node is the first
// point at or after it, wrapping around. testdata/ketama holds placements
// computed by libmemcached 1.1.4 for 100,000 keys, and the tests check
// every one, ties between points included. Not reproduced: libmemcached's
// key prefix (namespace) hashing, and its auto-eject, which rebuilds the
// continuum without a dead node (with equal weights that gives the same
// node as the gutter below).
//
// Adding a node to n moves about 1/(n+1) of the keys, all to the new node;
// removing one moves only its keys. A replicated key's two nodes are the
// first two distinct nodes from its position, so after adding or removing
// one node every key still has one of its two nodes: instances with the
// old and the new node list, side by side during a deploy, still find
// every replicated key.
//
// # Health and the gutter
//
// Each node has its own breaker: BreakerThreshold consecutive failures take
// it out, and a timeout takes it out at once (a node that does not answer
// within the timeout is treated as hung: a request would rather validate
// its token than wait). Requests never wait for a node that is out: calls
// that need it fail at once with [ErrBreakerOpen], or go elsewhere (below),
// while a goroutine probes it ("version") in the background, replays the
// writes it missed, and puts it back. The first probe runs as soon as the
// node is taken out — the timeout may have been this process's own stall
// (a GC pause, CPU throttling) rather than the node's, and a healthy node
// should not stay out for it — and the next every BreakerCooldown; a node
// taken out again within a cooldown of rejoining waits the cooldown, so
// that a node which answers probes but fails calls costs requests at most
// one timeout per cooldown. So a hung node costs the calls in flight when
// it hangs one timeout each, and nothing more until it returns; a dead node
// (connection refused) costs each call a refused connection until the
// threshold. The other nodes serve as before. One call waits: a
// replicated call that finds both of its key's nodes out while one of them
// is being probed waits for that probe (at most ReadTimeout + WriteTimeout),
// so that a stall of this process, which times out every call in flight
// and takes every node out at once, costs a refresh or a logout a round
// trip rather than a failure. Reads and writes have their
// own timeouts (ReadTimeout, WriteTimeout): gomemcache has one timeout per
// client, so each node has two gomemcache clients, each with its own idle
// connections.
//
// While a key's node is out, single-copy calls go to the gutter: the next
// node on the continuum that is up (for a node's keys that is mostly its
// successor, as it holds the second copy of replicated keys). What is
// stored there lives at most GutterTTL (default 20 s), so the gutter holds
// little and goes stale little. A single-copy Delete made meanwhile reaches
// only the gutter: the node serves its old copy when it returns. That is
// fine for entries that may be recomputed and that a replicated revocation
// mark overrides; it is why nothing that must not come back is stored
// single-copy.
//
// # Replication
//
// A replicated key's copies are on its node and the next distinct node on
// the continuum, fixed: there is no gutter for them, so they never
// scatter. A replicated write goes to both nodes at once and succeeds when
// one copy was written; the result, [Copies], says which failed. A
// replicated read asks both at once and returns both copies: what two
// answers mean is the caller's rule (a revocation mark found on either
// node stands; a record found on either is the record).
//
// A write that misses a node because it is out, or that fails and takes
// it out, is queued for that node (hinted handoff), at most MaxHints per
// node. When the node answers its probe, the queue is replayed to it in
// order — sets, conditional sets and adds with what remains of their
// TTL, deletes, lock releases — before it is put back, that is before any
// request reads from it. A node that resumes with its old contents (a hang) thus gets the
// revocation marks written meanwhile before it serves. Past MaxHints the
// oldest writes are dropped and the node is emptied with flush_all before
// it rejoins: to every user of it that is a restart, which replication
// covers; a stale node is worse than an empty one. A write that reached no
// node fails and is not replayed.
//
// What remains, honestly: the queue is in this process. Another instance
// whose writes missed the node replays them when its own probe succeeds,
// up to one BreakerCooldown later, and until then a copy it missed can be
// absent or stale on the node (a record deleted meanwhile, a mark
// missing): a read that asks both nodes sees the mark on the other node,
// but cannot tell a stale record from a current one, and a replay can land
// after a newer write made by an instance that rejoined the node earlier.
// An instance that dies loses its queue: its missed copies stay missing
// (absent, or stale until their TTL). A write that timed out may still be
// applied when a hung node resumes. Losing both of a key's nodes at once
// loses the key.
//
// # Locks and leases
//
// [Cluster.Lock] takes a lock on both of its key's nodes with add, one
// node after the other in a fixed order, so the first node decides
// between contenders; the value is a random owner token. A copy missing on
// one node (it was out, or restarted) does not let a second owner in: a
// contender adds a copy there, finds the other copy held, loses, and takes
// its copy back. Two owners can both hold the lock only if each sees a
// different one of the two nodes out at the same moment. [Lock.Unlock]
// removes a copy only while it still holds the owner's token: gets, then a
// compare-and-swap with expiration -1, which memcached stores as already
// expired (the key then reads as absent and add succeeds on it; a copy
// changed since the gets is left alone). [Cluster.LockAndGet] takes a lock
// and then, in one gets per node, reads keys under it together with the
// lock's own copies: their CAS ids let that Lock's Unlock skip the gets,
// one compare-and-swap per copy, and [Lock.SetAndUnlock] writes
// replicated keys, several keys' sets together on one connection per node
// (pipelined, the nodes at once), then releases the lock — in the same
// pipelines when the keys share the lock's nodes. [Cluster.Lease] is the
// same as Lock on a single copy, for electing one caller among many for a
// short while, such as one instance asking the provider about a token.
//
// # What a node loss costs
//
// With n nodes, one of them out (hung, dead, or restarted empty):
//
//   - Sessions and logouts: nothing. Replicated keys keep their copy on the
//     other node; reads take it, writes land there and are replayed to the
//     node when it rejoins; locks keep one owner.
//   - Cache: revalidations. The node's share of single-copy keys (about
//     1/n) misses until refilled on the gutter, and again when the node
//     returns (its contents may be stale or gone); each miss costs a
//     token's validation, done locally for a JWT.
//   - Latency: one timeout per detection window. A hang costs the calls in
//     flight when it starts one ReadTimeout or WriteTimeout each, then
//     nothing: calls skip the node until a probe finds it answering. A
//     dead node costs refused connections, which are fast, until
//     BreakerThreshold of them take it out.
//   - Memory: the node's missed replicated writes, queued in each instance
//     (at most MaxHints).
//
// Two nodes out at once: the replicated keys whose two copies were on them
// (about 2/(n(n-1)) of them, all of them with two nodes) cannot be read or
// written, and calls on them fail.
//
// # Commands, and mcrouter
//
// A Cluster sends, in memcached's text protocol: gets of one key or several
// (gomemcache's Get sends gets, not get), set, add, cas, delete, version (the probe) and
// flush_all (only to a node whose replay queue overflowed, before it
// rejoins). Never touch, incr, decr, append or the meta commands.
//
// Past a handful of nodes — each instance keeps up to 2 × MaxIdleConns
// connections per node and its own view of every node's health — front
// the pool with mcrouter, a sidecar per host that pools connections and
// shares health across the host's processes. Keep authgate's rules by
// giving the Cluster two nodes, two mcrouter endpoints (two mcrouter
// processes, say on ports 5000 and 5001), each routing to one replica pool
// of memcached servers ("route": "PoolRoute|A" in one's configuration,
// "PoolRoute|B" in the other's). Every replicated key then has one copy in
// each pool, written to both and read from both, so a revocation mark
// found in either pool stands, and writes an endpoint missed while out are
// replayed to it; single-copy keys go to their endpoint's pool, and to the
// other (the gutter) while it is out; locks are taken through the key's own
// endpoint first, as on two nodes; mcrouter hashes within each pool. Set
// mcrouter's --server-timeout below the Cluster's ReadTimeout, so that a
// hung server costs an error for its keys (which mcrouter answers at once
// once it has marked the server out, after --timeouts-until-tko timeouts)
// rather than a timeout that takes a whole pool's endpoint out. mcrouter
// answers version itself, so the probe checks mcrouter, not the servers.
// What is lost: a replicated write that one server misses while its
// endpoint stays in is not replayed to that server (mcrouter logs failed
// deletes for replay, its async log, but not sets), so a server back from
// a partition can serve a stale copy of a record until it is rewritten or
// expires; marks still stand, being read from both pools.
//
// One mcrouter endpoint with mcrouter's own replication — an
// OperationSelectorRoute sending "set" and "delete" to an AllSyncRoute over
// both pools, and "get" and "gets" (the Cluster sends gets) to a
// MissFailoverRoute over them — keeps two copies too, but a read returns
// the first copy found: a server that missed a revocation mark and still
// holds the token's entry serves the entry. Prefer the two endpoints.
package memcached
