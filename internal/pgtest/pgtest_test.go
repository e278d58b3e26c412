package pgtest_test

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/authgate/authgate/internal/pgtest"
)

func TestStartAndDatabases(t *testing.T) {
	s := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, b := s.NewDatabase(t), s.NewDatabase(t)
	if a == b {
		t.Fatal("two databases share a DSN")
	}
	for _, dsn := range []string{a, b} {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "CREATE TABLE t (x int)"); err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		var user string
		if err := db.QueryRowContext(ctx, "SELECT current_user").Scan(&user); err != nil || user != "postgres" {
			t.Fatalf("current_user %q %v", user, err)
		}
	}
}

// TestKillRemovesEverything: after Kill the port is closed and the
// directory gone.
func TestKillRemovesEverything(t *testing.T) {
	if err := pgtest.Installed(); err != nil && os.Getenv(pgtest.RequireEnv) != "1" {
		t.Skip(err)
	}
	p, err := pgtest.Launch()
	if err != nil {
		t.Fatal(err)
	}
	db, _ := sql.Open("pgx", p.DSN("postgres"))
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	db.SetMaxIdleConns(0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err == nil {
		t.Error("the server still answers after Kill")
	}
}
