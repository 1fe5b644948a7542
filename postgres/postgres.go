// Package postgres opens the PostgreSQL store (pgx) for installs that
// outgrow one machine.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/funnelwatch/funnelwatch/sqlstore"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Migrations are the numbered PostgreSQL migrations, under migration/.
//
//go:embed migration/*.sql
var Migrations embed.FS

// Open connects to the database at url (postgres://…) and applies the
// migrations.
func Open(ctx context.Context, url string) (*sqlstore.Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	if err := sqlstore.Migrate(ctx, db, sqlstore.Postgres, Migrations, "migration"); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := sqlstore.New(db, db, sqlstore.Postgres)
	s.SetLeaser(leaseAdvisory(db))
	return s, nil
}
