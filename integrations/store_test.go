package integrations_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/authgate/authgate/integrations"
	"github.com/authgate/authgate/internal/pgtest"
)

// eachStore runs test with each kind of store; stores returns another
// instance's view of the same data each call.
func eachStore(t *testing.T, test func(t *testing.T, stores func() integrations.Store)) {
	kinds := []struct {
		name string
		open func(t *testing.T) func() integrations.Store
	}{
		{"memory", func(t *testing.T) func() integrations.Store {
			s := &integrations.MemoryStore{}
			return func() integrations.Store { return s }
		}},
		{"sqlite", func(t *testing.T) func() integrations.Store {
			path := filepath.Join(t.TempDir(), "integrations.db")
			return func() integrations.Store {
				s, err := integrations.OpenSQLite(context.Background(), path, integrations.SQLConfig{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
		}},
		{"postgres", func(t *testing.T) func() integrations.Store {
			dsn := pgtest.Start(t).NewDatabase(t)
			return func() integrations.Store {
				s, err := integrations.OpenPostgres(context.Background(), dsn, integrations.SQLConfig{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) { test(t, k.open(t)) })
	}
}

func TestStore(t *testing.T) {
	eachStore(t, func(t *testing.T, stores func() integrations.Store) {
		ctx := context.Background()
		one, two := stores(), stores()
		t0 := time.UnixMilli(1_900_000_000_123).UTC()
		for _, in := range []integrations.Integration{
			{Subject: "auth0|alice", ClientID: "partner-app", OrgID: "org_acme", EnabledAt: t0},
			{Subject: "auth0|alice", ClientID: "partner-app", OrgID: "org_acme", EnabledAt: t0.Add(time.Hour)}, // again: keeps t0
			{Subject: "auth0|alice", ClientID: "cms", EnabledAt: t0},
			{Subject: "auth0|alice", ClientID: "partner-app", EnabledAt: t0},
			{Subject: "auth0|bob", ClientID: "partner-app", OrgID: "org_globex", EnabledAt: t0},
		} {
			if err := one.Enable(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		got, err := two.List(ctx, "auth0|alice")
		if err != nil {
			t.Fatal(err)
		}
		want := []integrations.Integration{
			{Subject: "auth0|alice", ClientID: "cms", EnabledAt: t0},
			{Subject: "auth0|alice", ClientID: "partner-app", EnabledAt: t0},
			{Subject: "auth0|alice", ClientID: "partner-app", OrgID: "org_acme", EnabledAt: t0},
		}
		for i := range got {
			got[i].EnabledAt = got[i].EnabledAt.UTC()
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("List:\n got %+v\nwant %+v", got, want)
		}
		for _, tc := range []struct {
			sub, client, org string
			want             bool
		}{
			{"auth0|alice", "partner-app", "org_acme", true},
			{"auth0|alice", "partner-app", "", true},
			{"auth0|alice", "partner-app", "org_globex", false},
			{"auth0|alice", "other-app", "", false},
			{"auth0|bob", "partner-app", "org_acme", false},
		} {
			if ok, err := two.Enabled(ctx, tc.sub, tc.client, tc.org); err != nil || ok != tc.want {
				t.Errorf("Enabled(%s, %s, %q) = %v, %v", tc.sub, tc.client, tc.org, ok, err)
			}
		}
		if was, err := two.Disable(ctx, "auth0|alice", "partner-app", "org_acme"); err != nil || !was {
			t.Fatalf("Disable: %v, %v", was, err)
		}
		if was, err := one.Disable(ctx, "auth0|alice", "partner-app", "org_acme"); err != nil || was {
			t.Fatalf("Disable again: %v, %v", was, err)
		}
		if ok, _ := one.Enabled(ctx, "auth0|alice", "partner-app", "org_acme"); ok {
			t.Error("enabled after Disable")
		}
		if ok, _ := one.Enabled(ctx, "auth0|alice", "partner-app", ""); !ok {
			t.Error("the integration without organization went with the other")
		}
		if got, err := one.List(ctx, "auth0|nobody"); err != nil || len(got) != 0 {
			t.Errorf("List of nobody: %v, %v", got, err)
		}
	})
}

func TestNewSQLStoreRefusesBadConfig(t *testing.T) {
	if _, err := integrations.NewSQLStore(nil, integrations.Dialect(9), integrations.SQLConfig{}); err == nil {
		t.Error("an unknown dialect: no error")
	}
	if _, err := integrations.NewSQLStore(nil, integrations.SQLite, integrations.SQLConfig{Table: "x; DROP TABLE y"}); err == nil {
		t.Error("a table name with SQL in it: no error")
	}
}
