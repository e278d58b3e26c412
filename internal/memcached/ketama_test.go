package memcached

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestKetamaMatchesLibmemcached checks the continuum against placements
// computed by libmemcached itself (testdata/ketama/gen.c says how), for
// server lists that exercise weights, the default port, IPv6 and Unix
// sockets: 10,000 keys each.
func TestKetamaMatchesLibmemcached(t *testing.T) {
	f, err := os.Open("testdata/ketama/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	lists := 0
	for sc.Scan() {
		spec, ok := strings.CutPrefix(sc.Text(), "nodes ")
		if !ok {
			t.Fatalf("want a nodes line, got %.40q", sc.Text())
		}
		var nodes []Node
		for _, f := range strings.Fields(spec) {
			addr, w, _ := strings.Cut(f, "=")
			weight, err := strconv.Atoi(w)
			if err != nil {
				t.Fatalf("weight in %q: %v", f, err)
			}
			nodes = append(nodes, Node{Addr: addr, Weight: weight})
		}
		if !sc.Scan() {
			t.Fatal("nodes line without placements")
		}
		placed, ok := strings.CutPrefix(sc.Text(), "placed ")
		if !ok || len(placed) != 10_000 {
			t.Fatalf("bad placed line for %s", spec)
		}
		c, err := newContinuum(nodes)
		if err != nil {
			t.Fatal(err)
		}
		wrong := 0
		for i := range placed {
			want, _ := strconv.ParseInt(placed[i:i+1], 36, 32)
			if got := c.nodes[c.search(keyHash(fmt.Sprintf("key-%d", i)))]; int64(got) != want {
				if wrong++; wrong <= 3 {
					t.Errorf("%s: key-%d on node %d, libmemcached says %d", spec, i, got, want)
				}
			}
		}
		if wrong > 0 {
			t.Errorf("%s: %d of 10000 keys placed unlike libmemcached", spec, wrong)
		}
		lists++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lists < 10 {
		t.Fatalf("only %d server lists in the vectors", lists)
	}
}

func TestPointName(t *testing.T) {
	for _, tc := range []struct {
		addr, want string
		ok         bool
	}{
		{"127.0.0.1:11212", "127.0.0.1:11212-", true},
		{"mc-a:11211", "mc-a-", true},
		{"[::1]:11213", "::1:11213-", true},
		{"[::1]:11211", "::1-", true},
		{"/run/memcached.sock", "/run/memcached.sock:0-", true},
		{"mc-a", "", false},
		{":11211", "", false},
		{"mc-a:0", "", false},
		{"mc-a:65536", "", false},
		{"mc-a:http", "", false},
	} {
		got, err := pointName(tc.addr)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("pointName(%q) = %q, %v; want %q, ok %v", tc.addr, got, err, tc.want, tc.ok)
		}
	}
}

// TestContinuumPoints: libmemcached's weighted ketama gives each of n
// equal nodes 160 points, and a node's share of points follows its weight.
func TestContinuumPoints(t *testing.T) {
	count := func(nodes []Node) []int {
		c, err := newContinuum(nodes)
		if err != nil {
			t.Fatal(err)
		}
		per := make([]int, len(nodes))
		for _, n := range c.nodes {
			per[n]++
		}
		return per
	}
	for n := 1; n <= 12; n++ {
		var nodes []Node
		for i := range n {
			nodes = append(nodes, Node{Addr: fmt.Sprintf("10.0.0.%d:11211", i+1), Weight: 1})
		}
		for i, p := range count(nodes) {
			if p != 160 {
				t.Errorf("%d equal nodes: node %d has %d points, want 160", n, i, p)
			}
		}
	}
	// 1+2+3+4 = 10: shares 10%..40% of 4×160 points, in groups of four.
	got := count([]Node{{"a:1", 1}, {"b:1", 2}, {"c:1", 3}, {"d:1", 4}})
	for i, want := range []int{64, 128, 192, 256} {
		if got[i] != want {
			t.Errorf("weight %d: %d points, want %d", i+1, got[i], want)
		}
	}
}
