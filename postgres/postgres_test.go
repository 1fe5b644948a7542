package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/postgres"
	"github.com/funnelwatch/funnelwatch/sqlstore"
	"github.com/funnelwatch/funnelwatch/storetest"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// EnvURL names the variable that enables these tests: the URL of a
// PostgreSQL server where the tests may create a database, e.g.
// postgres://postgres@127.0.0.1:5432/postgres. .ci/run sets it.
const EnvURL = "FUNNELWATCH_TEST_POSTGRES"

var testStore *sqlstore.Store

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run creates a fresh database for this run, and drops it afterwards.
func run(m *testing.M) int {
	admin := os.Getenv(EnvURL)
	if admin == "" {
		fmt.Fprintf(os.Stderr, "postgres tests skipped: set %s to run them\n", EnvURL)
		return m.Run()
	}
	ctx := context.Background()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	name := fmt.Sprintf("funnelwatch_test_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		fmt.Fprintf(os.Stderr, "create test database: %v\n", err)
		return 1
	}
	defer db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	u, err := url.Parse(admin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	u.Path = "/" + name
	testStore, err = postgres.Open(ctx, u.String())
	if err != nil {
		fmt.Fprintf(os.Stderr, "open test database: %v\n", err)
		return 1
	}
	defer testStore.Close()
	return m.Run()
}

// MustOpen returns the run's store; the suite isolates tests by workspace.
func MustOpen(tb testing.TB) funnelwatch.Store {
	if testStore == nil {
		tb.Skipf("set %s to run the PostgreSQL conformance suite", EnvURL)
	}
	return testStore
}

func TestConformance(t *testing.T) { storetest.Run(t, MustOpen) }

func TestMigrationsAreIdempotent(t *testing.T) {
	if testStore == nil {
		t.Skipf("set %s", EnvURL)
	}
	ctx := context.Background()
	if err := sqlstore.Migrate(ctx, testStore.DB(), sqlstore.Postgres, postgres.Migrations, "migration"); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if err := testStore.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}
