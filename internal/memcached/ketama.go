package memcached

import (
	"cmp"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Node is one memcached server of a [Cluster].
type Node struct {
	// Addr is "host:port", "[ipv6]:port" or a Unix socket path (anything
	// with a "/"). Its text places the node on the continuum, so every
	// instance, in any language, must spell a node alike: "mc1:11211" and
	// the address it resolves to are different nodes to the hash.
	Addr string
	// Weight is the node's share of the keys relative to the other nodes'
	// weights. 0 means 1.
	Weight int
}

// pointsPerServer and pointsPerHash are libmemcached's
// MEMCACHED_POINTS_PER_SERVER_KETAMA and the number of points taken from
// one MD5 digest in its weighted ketama mode.
const (
	pointsPerServer = 160
	pointsPerHash   = 4
)

// continuum places keys on nodes as libmemcached's weighted ketama does
// (see the package documentation). It is read-only once built.
type continuum struct {
	hashes []uint32 // the points' positions, ascending
	nodes  []int32  // nodes[i] is the index of the node owning hashes[i]
	n      int      // number of nodes
}

// point is one point of the continuum while it is built.
type point struct {
	hash uint32
	node int32
}

// newContinuum builds the continuum of nodes, whose weights must be ≥ 1.
func newContinuum(nodes []Node) (*continuum, error) {
	var total uint64
	for _, n := range nodes {
		total += uint64(n.Weight)
	}
	var pts []point
	for i, n := range nodes {
		name, err := pointName(n.Addr)
		if err != nil {
			return nil, err
		}
		// libmemcached computes the share in float32, one rounding per
		// operation; the conversions keep Go from fusing them.
		pct := float32(n.Weight) / float32(total)
		x := float32(pct * pointsPerServer)
		x = float32(x / pointsPerHash)
		x = float32(x * float32(len(nodes)))
		x = float32(x + 1e-10)
		perServer := int(math.Floor(float64(x))) * pointsPerHash
		for j := range perServer / pointsPerHash {
			sum := md5.Sum([]byte(name + strconv.Itoa(j)))
			for k := range pointsPerHash {
				pts = append(pts, point{binary.LittleEndian.Uint32(sum[4*k:]), int32(i)})
			}
		}
	}
	// libmemcached sorts equal positions by server index.
	slices.SortFunc(pts, func(a, b point) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.node, b.node))
	})
	c := &continuum{hashes: make([]uint32, len(pts)), nodes: make([]int32, len(pts)), n: len(nodes)}
	for i, p := range pts {
		c.hashes[i], c.nodes[i] = p.hash, p.node
	}
	return c, nil
}

// pointName returns the prefix of the names whose MD5 digests place a
// node's points: "host:port-" ("host-" on memcached's default port 11211,
// as libmemcached does), and "path:0-" for a Unix socket.
func pointName(addr string) (string, error) {
	if strings.Contains(addr, "/") {
		return addr + ":0-", nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("memcached: node %q: %w", addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	switch {
	case err != nil || p == 0:
		return "", fmt.Errorf("memcached: node %q: bad port", addr)
	case host == "":
		return "", fmt.Errorf("memcached: node %q: no host", addr)
	case p == 11211:
		return host + "-", nil
	}
	return host + ":" + port + "-", nil
}

// keyHash is a key's position on the continuum: the first four bytes of
// its MD5 digest, little-endian. A key longer than memcached allows is
// hashed all the same (the call then fails as malformed).
func keyHash(key string) uint32 {
	var buf [250]byte
	if len(key) > len(buf) {
		sum := md5.Sum([]byte(key))
		return binary.LittleEndian.Uint32(sum[:])
	}
	n := copy(buf[:], key)
	sum := md5.Sum(buf[:n])
	return binary.LittleEndian.Uint32(sum[:])
}

// search returns the index of the point that owns hash: the first at or
// after it, wrapping around to the first point.
func (c *continuum) search(hash uint32) int {
	i, _ := slices.BinarySearch(c.hashes, hash)
	if i == len(c.hashes) {
		return 0
	}
	return i
}

// next returns the first node after point i, clockwise, that is not skip
// and for which ok is true (nil accepts every node); -1 if there is none.
func (c *continuum) next(i int, skip int32, ok func(int32) bool) int32 {
	for range len(c.nodes) {
		if i++; i == len(c.nodes) {
			i = 0
		}
		if n := c.nodes[i]; n != skip && (ok == nil || ok(n)) {
			return n
		}
	}
	return -1
}
