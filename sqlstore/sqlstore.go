// Package sqlstore implements funnelwatch.Store over database/sql for the
// two dialects we ship, SQLite and PostgreSQL. The SQL is written once with
// "?" placeholders and rebound for PostgreSQL; packages sqlite and postgres
// open the connections, tune them and apply their own migrations.
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// Dialect is the SQL flavour of a connection.
type Dialect int

// Dialects.
const (
	SQLite Dialect = iota
	Postgres
)

// Store is a funnelwatch.Store on a database/sql connection pool.
type Store struct {
	write   *sql.DB // the pool read-write transactions use
	read    *sql.DB // the pool read-only transactions use (may equal write)
	dialect Dialect
	now     func() time.Time

	mu      sync.Mutex
	rebound map[string]string
}

var _ funnelwatch.Store = (*Store)(nil)

// New returns a store on the given pools. SQLite wants a single-connection
// write pool (one writer at a time, without lock upgrades) and a separate
// read pool; PostgreSQL can pass the same pool twice.
func New(write, read *sql.DB, d Dialect) *Store {
	return &Store{write: write, read: read, dialect: d, now: time.Now, rebound: map[string]string{}}
}

// DB returns the read-write pool, for migrations and maintenance.
func (s *Store) DB() *sql.DB { return s.write }

// Close closes both pools.
func (s *Store) Close() error {
	err := s.write.Close()
	if s.read != s.write {
		if rerr := s.read.Close(); err == nil {
			err = rerr
		}
	}
	return err
}

// q returns the query in the store's dialect, rebinding "?" to "$n" for
// PostgreSQL once per distinct query.
func (s *Store) q(query string) string {
	if s.dialect != Postgres {
		return query
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.rebound[query]; ok {
		return r
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	s.rebound[query] = b.String()
	return s.rebound[query]
}

// EnsureWorkspace creates or renames the workspace.
func (s *Store) EnsureWorkspace(ctx context.Context, id, name string) error {
	_, err := s.write.ExecContext(ctx, s.q(`INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name`), id, name, s.now().UnixMicro())
	if err != nil {
		return fmt.Errorf("ensure workspace %s: %w", id, err)
	}
	return nil
}

// Update runs fn in a read-write transaction.
func (s *Store) Update(ctx context.Context, workspace string, fn func(funnelwatch.Tx) error) error {
	sqltx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{s: s, tx: sqltx, ws: workspace, stmts: map[string]*sql.Stmt{}}
	defer tx.closeStmts()
	if err := fn(tx); err != nil {
		_ = sqltx.Rollback()
		return err
	}
	tx.closeStmts()
	if err := sqltx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, workspace string, fn func(funnelwatch.ReadTx) error) error {
	sqltx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: s.dialect == Postgres})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = sqltx.Rollback() }()
	tx := &Tx{s: s, tx: sqltx, ws: workspace, stmts: map[string]*sql.Stmt{}}
	defer tx.closeStmts()
	return fn(tx)
}

// Tx is one transaction on one workspace. Statements are prepared once per
// transaction, so a batch of a thousand events parses each query once.
type Tx struct {
	s     *Store
	tx    *sql.Tx
	ws    string
	stmts map[string]*sql.Stmt
}

func (tx *Tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := tx.stmts[query]; ok {
		return st, nil
	}
	st, err := tx.tx.PrepareContext(ctx, tx.s.q(query))
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	tx.stmts[query] = st
	return st, nil
}

func (tx *Tx) closeStmts() {
	for q, st := range tx.stmts {
		_ = st.Close()
		delete(tx.stmts, q)
	}
}

func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := tx.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (tx *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := tx.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	st, err := tx.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

// Times are stored as Unix microseconds in UTC.

func micros(t time.Time) int64 { return t.UnixMicro() }

func microsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
