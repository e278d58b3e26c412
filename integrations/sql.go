package integrations

import (
	"context"
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
	// Table is the table's name. Default "authgate_integrations".
	Table string
}

// SQLStore is a Store in one SQL table through database/sql, tested on
// PostgreSQL and SQLite; it can share a database with connections'
// SQLStore. It is safe for concurrent use.
type SQLStore struct {
	db      *sql.DB
	dialect Dialect
	table   string
	owned   bool // Close closes db
	q       struct{ enable, disable, enabled, list string }
}

// NewSQLStore returns a Store on db, whose table must exist: apply
// Migration (or call Migrate) first.
func NewSQLStore(db *sql.DB, dialect Dialect, cfg SQLConfig) (*SQLStore, error) {
	if !dialect.Valid() {
		return nil, errors.New("integrations: unknown SQL dialect")
	}
	if cfg.Table == "" {
		cfg.Table = "authgate_integrations"
	}
	if err := sqldb.CheckTable(cfg.Table); err != nil {
		return nil, fmt.Errorf("integrations: %w", err)
	}
	s := &SQLStore{db: db, dialect: dialect, table: cfg.Table}
	t, p := cfg.Table, dialect.Placeholder
	match := " WHERE subject = " + p(1) + " AND client_id = " + p(2) + " AND org_id = " + p(3)
	s.q.enable = "INSERT INTO " + t + " (subject, client_id, org_id, enabled_at) VALUES (" + p(1) + ", " + p(2) + ", " + p(3) + ", " + p(4) +
		") ON CONFLICT (subject, client_id, org_id) DO NOTHING"
	s.q.disable = "DELETE FROM " + t + match
	s.q.enabled = "SELECT 1 FROM " + t + match
	s.q.list = "SELECT client_id, org_id, enabled_at FROM " + t + " WHERE subject = " + p(1) + " ORDER BY client_id, org_id"
	return s, nil
}

// Migration returns the statement that creates the store's table in
// dialect (default name when table is ""), for a migration tool; it is
// idempotent. Migrate applies it.
func Migration(dialect Dialect, table string) string {
	if table == "" {
		table = "authgate_integrations"
	}
	_, integer := dialect.Types()
	return strings.Join([]string{
		"CREATE TABLE IF NOT EXISTS " + table + " (",
		"  subject    TEXT NOT NULL,          -- the user (sub)",
		"  client_id  TEXT NOT NULL,          -- the partner app (azp)",
		"  org_id     TEXT NOT NULL DEFAULT '', -- the user's organization, '' for none",
		"  enabled_at " + integer + " NOT NULL, -- Unix milliseconds",
		"  PRIMARY KEY (subject, client_id, org_id)",
		")",
	}, "\n")
}

// Migrate creates the table if it does not exist.
func (s *SQLStore) Migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, Migration(s.dialect, s.table)); err != nil {
		return fmt.Errorf("integrations: migrating: %w", err)
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
	return sqldb.Open(ctx, "integrations", d, where, func(db *sql.DB) (*SQLStore, error) {
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

// Enable implements Store.
func (s *SQLStore) Enable(ctx context.Context, in Integration) error {
	_, err := s.db.ExecContext(ctx, s.q.enable, in.Subject, in.ClientID, in.OrgID, in.EnabledAt.UnixMilli())
	return wrap(err)
}

// Disable implements Store.
func (s *SQLStore) Disable(ctx context.Context, subject, clientID, orgID string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q.disable, subject, clientID, orgID)
	if err != nil {
		return false, wrap(err)
	}
	n, err := res.RowsAffected()
	return n > 0, wrap(err)
}

// Enabled implements Store.
func (s *SQLStore) Enabled(ctx context.Context, subject, clientID, orgID string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, s.q.enabled, subject, clientID, orgID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, wrap(err)
}

// List implements Store.
func (s *SQLStore) List(ctx context.Context, subject string) ([]Integration, error) {
	rows, err := s.db.QueryContext(ctx, s.q.list, subject)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []Integration
	for rows.Next() {
		in := Integration{Subject: subject}
		var at int64
		if err := rows.Scan(&in.ClientID, &in.OrgID, &at); err != nil {
			return nil, wrap(err)
		}
		in.EnabledAt = time.UnixMilli(at)
		out = append(out, in)
	}
	return out, wrap(rows.Err())
}

func wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("integrations: store: %w", err)
}
