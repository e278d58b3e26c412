package memcached

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// TestGetterAnswers: getMulti reads memcached's answers to gets — hits
// in the order asked, misses skipped — and refuses, as an error, whatever
// else a server (or something posing as one) answers.
func TestGetterAnswers(t *testing.T) {
	keys := []string{"a", "b", "c"}
	for _, tc := range []struct {
		name, answer string
		want         []string // values by key; "" for a miss
		fails        bool
	}{
		{"hits and misses", "VALUE a 0 2 7\r\nxy\r\nVALUE c 5 0 8\r\n\r\nEND\r\n", []string{"xy", "", ""}, false},
		{"nothing", "END\r\n", []string{"", "", ""}, false},
		{"server error", "SERVER_ERROR out of memory\r\n", nil, true},
		{"a key not asked", "VALUE z 0 1 1\r\nx\r\nEND\r\n", nil, true},
		{"out of order", "VALUE c 0 1 1\r\nx\r\nVALUE a 0 1 1\r\ny\r\nEND\r\n", nil, true},
		{"no cas", "VALUE a 0 1\r\nx\r\nEND\r\n", nil, true},
		{"huge", "VALUE a 0 99999999999 1\r\n", nil, true},
		{"negative", "VALUE a 0 -1 1\r\n", nil, true},
		{"short value", "VALUE a 0 5 1\r\nxy\r\nEND\r\n", nil, true},
		{"cut off", "VALUE a 0 1 1\r\nx\r\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
					c.Write([]byte(tc.answer))
				}
			}()
			g, err := newConns(ln.Addr().String(), time.Second, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer g.close()
			items, err := g.getMulti(keys)
			if tc.fails {
				if err == nil {
					t.Fatalf("no error; items %v", items)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, it := range items {
				switch {
				case tc.want[i] == "" && it != nil && len(it.Value) > 0,
					tc.want[i] != "" && (it == nil || string(it.Value) != tc.want[i] || it.Key != keys[i]):
					t.Errorf("key %s: %+v, want %q", keys[i], it, tc.want[i])
				}
			}
		})
	}
}
