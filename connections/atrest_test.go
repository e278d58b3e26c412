package connections_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/connections"
	"github.com/authgate/authgate/internal/memcachedtest"
)

// raw reads and writes a store's records behind the Service's back, as
// someone with access to the database (or the tenant) could.
type raw interface {
	put(t *testing.T, rec connections.Record)
	dump(t *testing.T) [][]byte // every byte the store holds for the connections
}

func rawOf(e *env, kind string, s connections.Store) raw {
	switch kind {
	case "management":
		return mgmtRaw{e}
	default:
		return sqlRaw{s.(*connections.SQLStore), kind}
	}
}

type sqlRaw struct {
	s    *connections.SQLStore
	kind string
}

func (r sqlRaw) ph(n int) string {
	if r.kind == "postgres" {
		return "$" + strconv.Itoa(n)
	}
	return "?" + strconv.Itoa(n)
}

func (r sqlRaw) put(t *testing.T, rec connections.Record) {
	t.Helper()
	q := fmt.Sprintf("UPDATE authgate_connections SET version = %s, data = %s WHERE subject = %s AND party = %s", r.ph(1), r.ph(2), r.ph(3), r.ph(4))
	if res, err := r.s.DB().Exec(q, rec.Version, rec.Data, rec.Subject, rec.Party); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("raw put touched %d rows", n)
	}
}

func (r sqlRaw) dump(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	if r.kind == "sqlite" {
		// The database's files, as a backup or a stolen disk would hold
		// them: the free pages of overwritten records included.
		var path string
		_ = r.s.DB().QueryRow("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path)
		matches, _ := filepath.Glob(path + "*")
		for _, m := range matches {
			b, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		if len(out) == 0 {
			t.Fatal("no SQLite files found")
		}
		return out
	}
	rows, err := r.s.DB().Query("SELECT t::text, data FROM authgate_connections t")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var text string
		var data []byte
		if err := rows.Scan(&text, &data); err != nil {
			t.Fatal(err)
		}
		out = append(out, []byte(text), data)
	}
	return out
}

type mgmtRaw struct{ e *env }

func (r mgmtRaw) put(t *testing.T, rec connections.Record) {
	t.Helper()
	tok, err := accessToken(r.e.own.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {"store"},
		"client_secret": {"store-secret"}, "audience": {r.e.own.ManagementAudience()}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"app_metadata": map[string]any{"authgate_connection_" + rec.Party: map[string]any{
		"version": rec.Version, "grant": base64.RawURLEncoding.EncodeToString(rec.Data)}}})
	req, _ := http.NewRequest(http.MethodPatch, r.e.own.ManagementURL()+"/users/"+url.PathEscape(rec.Subject), bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("raw PATCH: %v %v", resp, err)
	}
	resp.Body.Close()
}

func (r mgmtRaw) dump(t *testing.T) [][]byte {
	var out [][]byte
	for _, sub := range []string{"auth0|alice", "auth0|bob", "auth0|carol"} {
		meta := r.e.own.AppMetadata(sub)
		out = append(out, meta)
		var m map[string]struct {
			Grant string `json:"grant"`
		}
		_ = json.Unmarshal(meta, &m)
		for _, v := range m {
			b, _ := base64.RawURLEncoding.DecodeString(v.Grant)
			out = append(out, b)
		}
	}
	return out
}

// TestMovedAndTamperedRecords, on every store: a record copied to another
// user, given another version, or altered does not open; the user must
// reconnect, and nothing of the other user's grant is used.
func TestMovedAndTamperedRecords(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t)
			store := k.open(e)()
			r := rawOf(e, k.name, store)
			s := e.service(store)
			ctx := context.Background()
			e.connect(s, "auth0|alice", "alice")
			e.connect(s, "auth0|bob", "bob")
			e.connect(s, "auth0|carol", "carol")
			alice, _ := store.Get(ctx, "auth0|alice", "roomsmart")
			bob, _ := store.Get(ctx, "auth0|bob", "roomsmart")
			carol, _ := store.Get(ctx, "auth0|carol", "roomsmart")
			if alice.Version != bob.Version {
				t.Fatalf("versions %d and %d: the move would not test the subject binding alone", alice.Version, bob.Version)
			}
			r.put(t, connections.Record{Subject: "auth0|bob", Party: "roomsmart", Version: alice.Version, Data: alice.Data})
			r.put(t, connections.Record{Subject: "auth0|alice", Party: "roomsmart", Version: alice.Version + 1, Data: alice.Data})
			tampered := bytes.Clone(carol.Data)
			tampered[len(tampered)/2] ^= 1
			r.put(t, connections.Record{Subject: "auth0|carol", Party: "roomsmart", Version: carol.Version, Data: tampered})
			e.mc.Restart() // the cached access tokens would hide the stores
			fresh := e.service(store)
			for _, sub := range []string{"auth0|alice", "auth0|bob", "auth0|carol"} {
				_, err := token(t, fresh, sub)
				wantReconnect(t, err, sub+"'s altered record")
				list, err := fresh.List(ctx, sub)
				if err != nil || len(list) != 1 || list[0].Status != connections.StatusDisconnected {
					t.Errorf("%s's list: %+v %v", sub, list, err)
				}
			}
		})
	}
}

// TestCachedTokensAreBound: access tokens swapped between users' memcached
// entries are refused, and each user still gets their own.
func TestCachedTokensAreBound(t *testing.T) {
	e := newEnv(t)
	s := e.service(storeKinds[0].open(e)())
	e.connect(s, "auth0|alice", "alice")
	e.connect(s, "auth0|bob", "bob")
	mc := memcache.New(e.mc.Addr())
	var names []string
	for _, k := range dumpKeys(t, e.mc.Addr()) {
		if strings.Contains(k, ":token:") {
			names = append(names, k)
		}
	}
	if len(names) != 2 {
		t.Fatalf("cached tokens: %v", names)
	}
	a, _ := mc.Get(names[0])
	b, _ := mc.Get(names[1])
	_ = mc.Set(&memcache.Item{Key: names[0], Value: b.Value, Expiration: 600})
	_ = mc.Set(&memcache.Item{Key: names[1], Value: a.Value, Expiration: 600})
	for sub, rs := range map[string]string{"auth0|alice": "roomsmart|a1", "auth0|bob": "roomsmart|b2"} {
		if got := e.introspect(mustToken(t, s, sub))["sub"]; got != rs {
			t.Errorf("%s got a token of %v", sub, got)
		}
	}
}

// TestNothingInTheClear, on every store: after connections and refreshes,
// no access or refresh token — nor a subject, in memcached — appears in a
// raw dump of the store or of memcached.
func TestNothingInTheClear(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t)
			store := k.open(e)()
			s := e.service(store)
			for _, u := range []string{"alice", "bob", "carol"} {
				e.connect(s, "auth0|"+u, u)
			}
			e.third.Advance(9*time.Minute + 30*time.Second)
			for _, u := range []string{"alice", "bob", "carol"} {
				mustToken(t, s, "auth0|"+u)
			}
			if err := s.Disconnect(context.Background(), "auth0|carol", "roomsmart"); err != nil {
				t.Fatal(err)
			}
			secrets := e.seen.all()
			if len(secrets) != 12 {
				t.Fatalf("observed %d tokens, want 12 (3 connects and 3 refreshes, an access and a refresh token each)", len(secrets))
			}
			dumps := rawOf(e, k.name, store).dump(t)
			mcKeys := dumpKeys(t, e.mc.Addr())
			mc := memcache.New(e.mc.Addr())
			for _, key := range mcKeys {
				if strings.Contains(key, "alice") || strings.Contains(key, "auth0") {
					t.Errorf("memcached key %q shows a subject", key)
				}
				if it, err := mc.Get(key); err == nil {
					dumps = append(dumps, it.Value, []byte(key))
				}
			}
			if len(mcKeys) < 2 {
				t.Fatalf("only %d memcached keys", len(mcKeys))
			}
			for _, d := range dumps {
				for _, sec := range secrets {
					if bytes.Contains(d, []byte(sec)) {
						t.Fatalf("a token in the clear in a dump (%d bytes)", len(d))
					}
				}
			}
		})
	}
}

// dumpKeys lists every key memcached holds (lru_crawler metadump).
func dumpKeys(t testing.TB, addr string) []string {
	t.Helper()
	keys, err := memcachedtest.Keys(addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestKeyRotation: with keys [k2, k1] grants sealed under k1 open, and
// what is written is sealed under k2; without k1 they do not.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t)
	stores := storeKinds[0].open(e)
	old := e.service(stores())
	e.connect(old, "auth0|alice", "alice")
	e.connect(old, "auth0|bob", "bob")
	e.mc.Restart()
	rotated := e.service(stores(), key2, key1)
	mustToken(t, rotated, "auth0|alice")
	e.third.Advance(9*time.Minute + 30*time.Second)
	mustToken(t, rotated, "auth0|alice") // a refresh: written under k2
	e.mc.Restart()
	onlyNew := e.service(stores(), key2)
	mustToken(t, onlyNew, "auth0|alice")
	_, err := token(t, onlyNew, "auth0|bob")
	wantReconnect(t, err, "a grant under a dropped key")
}
