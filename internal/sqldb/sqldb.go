// Package sqldb is what authgate's SQL stores share (connections'
// grants, integrations' records): the two dialects they speak through
// database/sql — PostgreSQL with pgx's driver, SQLite with the pure-Go
// modernc.org/sqlite — their placeholders and column types, and opening a
// database by file path or DSN.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver, pure Go
)

// Dialect is the SQL dialect of a store's database.
type Dialect int

// The dialects the stores speak.
const (
	// Postgres is PostgreSQL (through pgx's database/sql driver, "pgx").
	Postgres Dialect = iota + 1
	// SQLite is SQLite (through modernc.org/sqlite, "sqlite", pure Go).
	SQLite
)

// Valid reports whether d is one of the dialects.
func (d Dialect) Valid() bool { return d == Postgres || d == SQLite }

// Placeholder returns the n-th query parameter: $n, or ?n.
func (d Dialect) Placeholder(n int) string {
	if d == Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?" + strconv.Itoa(n)
}

// Types returns the column types for bytes and 64-bit integers.
func (d Dialect) Types() (blob, integer string) {
	if d == SQLite {
		return "BLOB", "INTEGER"
	}
	return "BYTEA", "BIGINT"
}

// tableName is what a table's name may be: it is written into statements.
var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// CheckTable refuses a table name that is not 1 to 63 of a-z, 0-9 and _,
// not starting with a digit.
func CheckTable(name string) error {
	if !tableName.MatchString(name) {
		return fmt.Errorf("table name %q: want a-z 0-9 _", name)
	}
	return nil
}

// Open opens the database of dialect d at where — a file path for SQLite
// (created if needed, in WAL mode with a busy timeout, so that several
// processes can share it), a DSN for PostgreSQL (a URL or key=value
// string, as pgx takes; it must answer) — and hands it to setUp, which
// builds the store on it and migrates it. When setUp fails the database is
// closed and its error returned as it is; a database that does not open is
// an error prefixed with owner, the calling package's name.
func Open[S any](ctx context.Context, owner string, d Dialect, where string, setUp func(*sql.DB) (S, error)) (S, error) {
	var zero S
	var db *sql.DB
	var err error
	switch d {
	case SQLite:
		escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(where)
		db, err = sql.Open("sqlite", "file:"+escaped+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	case Postgres:
		if db, err = sql.Open("pgx", where); err == nil {
			if err = db.PingContext(ctx); err != nil {
				db.Close()
			}
		}
	default:
		err = errors.New("unknown SQL dialect")
	}
	if err != nil {
		return zero, fmt.Errorf("%s: opening the database: %w", owner, err)
	}
	s, err := setUp(db)
	if err != nil {
		db.Close()
		return zero, err
	}
	return s, nil
}
