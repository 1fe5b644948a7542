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

	// SQLite writes go through one dedicated connection whose statements
	// are prepared once and kept: SQLite has one writer anyway, and
	// preparing the same multi-row statements for every batch costs more
	// than running them. PostgreSQL uses pool transactions; pgx caches
	// prepared statements per connection by itself.
	leaser  Leaser
	writeMu sync.Mutex
	writer  *sql.Conn
	stmts   map[string]*sql.Stmt // prepared on writer
	ckpt    *checkpointer        // WAL checkpoints behind the writer, when started
}

var _ funnelwatch.Store = (*Store)(nil)

// New returns a store on the given pools. SQLite wants a write pool of at
// least two connections (one is kept for the writer, one serves DB) and a
// separate read pool; PostgreSQL can pass the same pool twice.
func New(write, read *sql.DB, d Dialect) *Store {
	return &Store{write: write, read: read, dialect: d, now: time.Now, rebound: map[string]string{}}
}

// Leaser takes a workspace's ingest lease for a store (see
// funnelwatch.Store.Lease); each dialect brings its own.
type Leaser func(ctx context.Context, workspace string) (release func() error, err error)

// SetLeaser sets how the store takes leases.
func (s *Store) SetLeaser(l Leaser) { s.leaser = l }

// Lease takes the workspace's ingest lease.
func (s *Store) Lease(ctx context.Context, workspace string) (func() error, error) {
	if s.leaser == nil {
		return nil, fmt.Errorf("lease: the store has no leaser")
	}
	return s.leaser(ctx, workspace)
}

// DB returns the read-write pool, for migrations and maintenance.
func (s *Store) DB() *sql.DB { return s.write }

// Close closes both pools.
func (s *Store) Close() error {
	s.writeMu.Lock()
	s.stopCheckpoints() // under writeMu: commits tell the checkpointer
	for _, st := range s.stmts {
		_ = st.Close()
	}
	s.stmts = nil
	if s.writer != nil {
		_ = s.writer.Close()
		s.writer = nil
	}
	s.writeMu.Unlock()
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
	return s.Update(ctx, id, func(tx funnelwatch.Tx) error {
		_, err := tx.(*Tx).exec(ctx, `INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name`, id, name, s.now().UnixMicro())
		if err != nil {
			return fmt.Errorf("ensure workspace %s: %w", id, err)
		}
		return nil
	})
}

// sqlRunner is what a transaction runs statements on: a *sql.Tx, or the
// SQLite writer *sql.Conn inside BEGIN … COMMIT.
type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Update runs fn in a read-write transaction.
func (s *Store) Update(ctx context.Context, workspace string, fn func(funnelwatch.Tx) error) error {
	if s.dialect == SQLite {
		return s.updateSQLite(ctx, workspace, fn)
	}
	sqltx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{s: s, run: sqltx, ws: workspace, stmts: map[string]*sql.Stmt{}, prepare: sqltx.PrepareContext}
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

// updateSQLite runs fn between BEGIN IMMEDIATE and COMMIT on the writer
// connection; IMMEDIATE takes the write lock at once, so writers from other
// processes queue on the busy timeout instead of failing on an upgrade.
func (s *Store) updateSQLite(ctx context.Context, workspace string, fn func(funnelwatch.Tx) error) (err error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.writer == nil {
		if s.writer, err = s.write.Conn(ctx); err != nil {
			return fmt.Errorf("writer connection: %w", err)
		}
		s.stmts = map[string]*sql.Stmt{}
	}
	conn := s.writer
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// A cancelled ctx must not keep the rollback from running.
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil && err == nil {
				err = fmt.Errorf("rollback: %w", rerr)
			}
		}
	}()
	tx := &Tx{s: s, run: conn, ws: workspace, shared: s.stmts, prepare: conn.PrepareContext}
	if err := fn(tx); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	s.committed()
	return nil
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, workspace string, fn func(funnelwatch.ReadTx) error) error {
	sqltx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: s.dialect == Postgres})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = sqltx.Rollback() }()
	tx := &Tx{s: s, run: sqltx, ws: workspace, stmts: map[string]*sql.Stmt{}, prepare: sqltx.PrepareContext}
	defer tx.closeStmts()
	return fn(tx)
}

// Tx is one transaction on one workspace.
type Tx struct {
	s   *Store
	run sqlRunner
	ws  string
	// Prepared statements: shared ones live as long as the SQLite writer
	// connection; the others are closed with the transaction.
	shared  map[string]*sql.Stmt
	stmts   map[string]*sql.Stmt
	prepare func(ctx context.Context, query string) (*sql.Stmt, error)
}

func (tx *Tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	cache := tx.stmts
	if tx.shared != nil {
		cache = tx.shared
	}
	if st, ok := cache[query]; ok {
		return st, nil
	}
	st, err := tx.prepare(ctx, tx.s.q(query))
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	cache[query] = st
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

// Times that are plain time.Time in the domain, zero for none (an action's
// next attempt, the engine's clock), are stored as 0 in NOT NULL columns
// and read back as the zero time. The Unix epoch itself reads as none; no
// time the product records is that old.

func microsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicrosOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// conds builds a WHERE condition: conditions joined by AND, the
// workspace's first, and their arguments in order.
type conds struct {
	where []string
	args  []any
}

// conds starts a WHERE condition with the transaction's workspace.
func (tx *Tx) conds() *conds {
	return &conds{where: []string{"workspace_id = ?"}, args: []any{tx.ws}}
}

func (c *conds) add(cond string, vs ...any) {
	c.where = append(c.where, cond)
	c.args = append(c.args, vs...)
}

// in adds "col IN (…)" over the values.
func (c *conds) in(col string, vs []string) {
	c.add(col+" IN "+placeholders(1, len(vs)), anys(vs)...)
}

func (c *conds) sql() string { return strings.Join(c.where, " AND ") }
