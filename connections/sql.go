package connections

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/sqldb"
)

// Dialect is the SQL dialect of a SQLStore's database.
type Dialect = sqldb.Dialect

// The dialects SQLStore speaks.
const (
	// Postgres is PostgreSQL (through pgx's database/sql driver, "pgx").
	Postgres = sqldb.Postgres
	// SQLite is SQLite (through modernc.org/sqlite, "sqlite", pure Go).
	SQLite = sqldb.SQLite
)

// SQLConfig holds a SQLStore's settings; zero values are the defaults.
type SQLConfig struct {
	// Table is the table's name. Default "authgate_connections".
	Table string
	// Now is the clock that dates records and judges leases. Default
	// time.Now. Instances sharing a database should have clocks within a
	// second or so of each other.
	Now func() time.Time
}

// SQLStore is a Store in one SQL table through database/sql, tested on
// PostgreSQL and SQLite. It is also a Locker: a refresh takes a lease on
// the connection's row. It is safe for concurrent use.
type SQLStore struct {
	db      *sql.DB
	dialect Dialect
	table   string
	now     func() time.Time
	owned   bool // Close closes db
	q       queries
}

type queries struct{ get, list, insert, update, del, lock, unlock string }

// NewSQLStore returns a Store on db, whose tables must exist: apply
// Migration (or call Migrate) first.
func NewSQLStore(db *sql.DB, dialect Dialect, cfg SQLConfig) (*SQLStore, error) {
	if !dialect.Valid() {
		return nil, errors.New("connections: unknown SQL dialect")
	}
	if cfg.Table == "" {
		cfg.Table = "authgate_connections"
	}
	if err := sqldb.CheckTable(cfg.Table); err != nil {
		return nil, fmt.Errorf("connections: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &SQLStore{db: db, dialect: dialect, table: cfg.Table, now: cfg.Now}
	t, p := cfg.Table, dialect.Placeholder
	cols := "subject, party, version, data"
	s.q = queries{
		get:    "SELECT " + cols + " FROM " + t + " WHERE subject = " + p(1) + " AND party = " + p(2),
		list:   "SELECT " + cols + " FROM " + t + " WHERE subject = " + p(1),
		insert: "INSERT INTO " + t + " (subject, party, version, data, updated_at) VALUES (" + p(1) + ", " + p(2) + ", " + p(3) + ", " + p(4) + ", " + p(5) + ") ON CONFLICT (subject, party) DO NOTHING",
		update: "UPDATE " + t + " SET version = " + p(3) + ", data = " + p(4) + ", updated_at = " + p(5) + " WHERE subject = " + p(1) + " AND party = " + p(2) + " AND version = " + p(6),
		del:    "DELETE FROM " + t + " WHERE subject = " + p(1) + " AND party = " + p(2),
		lock: "UPDATE " + t + " SET lock_owner = " + p(3) + ", lock_until = " + p(4) + " WHERE subject = " + p(1) + " AND party = " + p(2) +
			" AND (lock_until IS NULL OR lock_until < " + p(5) + ")",
		unlock: "UPDATE " + t + " SET lock_owner = NULL, lock_until = NULL WHERE subject = " + p(1) + " AND party = " + p(2) + " AND lock_owner = " + p(3),
	}
	return s, nil
}

// Migration returns the statement that creates the store's table in
// dialect (default name when table is ""), for a migration tool; it is
// idempotent. Migrate applies it.
func Migration(dialect Dialect, table string) string {
	if table == "" {
		table = "authgate_connections"
	}
	blob, integer := dialect.Types()
	return strings.Join([]string{
		"CREATE TABLE IF NOT EXISTS " + table + " (",
		"  subject    TEXT NOT NULL,",
		"  party      TEXT NOT NULL,",
		"  version    " + integer + " NOT NULL, -- grows with every write; sealed into data",
		"  data       " + blob + " NOT NULL,    -- the grant, AES-256-GCM: no token in the clear",
		"  lock_owner TEXT,                  -- the refresh holding the lease, if any",
		"  lock_until " + integer + ",                -- the lease's end, Unix milliseconds",
		"  updated_at " + integer + " NOT NULL, -- Unix milliseconds",
		"  PRIMARY KEY (subject, party)",
		")",
	}, "\n")
}

// Migrate creates the table if it does not exist.
func (s *SQLStore) Migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, Migration(s.dialect, s.table)); err != nil {
		return fmt.Errorf("connections: migrating: %w", err)
	}
	return nil
}

// OpenSQLite opens (creating it if needed) the SQLite database at path —
// a file path is all it needs — in WAL mode with a busy timeout, so that
// several processes can share it, and migrates it. Close closes it.
func OpenSQLite(ctx context.Context, path string, cfg SQLConfig) (*SQLStore, error) {
	return openOwned(ctx, SQLite, path, cfg)
}

// OpenPostgres opens the PostgreSQL database at dsn (a URL or key=value
// string, as pgx takes), checks that it answers, and migrates it. Close
// closes it.
func OpenPostgres(ctx context.Context, dsn string, cfg SQLConfig) (*SQLStore, error) {
	return openOwned(ctx, Postgres, dsn, cfg)
}

func openOwned(ctx context.Context, d Dialect, where string, cfg SQLConfig) (*SQLStore, error) {
	return sqldb.Open(ctx, "connections", d, where, func(db *sql.DB) (*SQLStore, error) {
		s, err := NewSQLStore(db, d, cfg)
		if err == nil {
			s.owned, err = true, s.Migrate(ctx)
		}
		return s, err
	})
}

// Close closes the database if OpenSQLite or OpenPostgres opened it.
func (s *SQLStore) Close() error {
	if s.owned {
		return s.db.Close()
	}
	return nil
}

// DB returns the store's database.
func (s *SQLStore) DB() *sql.DB { return s.db }

// Get implements Store.
func (s *SQLStore) Get(ctx context.Context, subject, party string) (Record, error) {
	var r Record
	err := s.db.QueryRowContext(ctx, s.q.get, subject, party).Scan(&r.Subject, &r.Party, &r.Version, &r.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, ErrNotFound
	}
	return r, err
}

// List implements Store.
func (s *SQLStore) List(ctx context.Context, subject string) ([]Record, error) {
	rows, err := s.db.QueryContext(ctx, s.q.list, subject)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		if err := rows.Scan(&r.Subject, &r.Party, &r.Version, &r.Data); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Put implements Store: an insert for version 1, else an update of the
// row still at the previous version.
func (s *SQLStore) Put(ctx context.Context, r Record) error {
	if r.Version < 1 {
		return errors.New("connections: record version must be at least 1")
	}
	now := s.now().UnixMilli()
	var res sql.Result
	var err error
	if r.Version == 1 {
		res, err = s.db.ExecContext(ctx, s.q.insert, r.Subject, r.Party, r.Version, r.Data, now)
	} else {
		res, err = s.db.ExecContext(ctx, s.q.update, r.Subject, r.Party, r.Version, r.Data, now, r.Version-1)
	}
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return ErrConflict
	}
	return nil
}

// Delete implements Store.
func (s *SQLStore) Delete(ctx context.Context, subject, party string) error {
	_, err := s.db.ExecContext(ctx, s.q.del, subject, party)
	return err
}

// Lock implements Locker with a lease on the row: set only when no
// unexpired lease holds it. A missing row cannot be locked (ErrNotFound).
func (s *SQLStore) Lock(ctx context.Context, subject, party string, ttl time.Duration) (func(), error) {
	owner := rand.Text()
	now := s.now()
	res, err := s.db.ExecContext(ctx, s.q.lock, subject, party, owner, now.Add(ttl).UnixMilli(), now.UnixMilli())
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n == 0 {
		if _, err := s.Get(ctx, subject, party); errors.Is(err, ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, ErrLocked
	}
	return func() {
		// The caller's context may be done by now; releasing is cleanup.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = s.db.ExecContext(ctx, s.q.unlock, subject, party, owner)
	}, nil
}
