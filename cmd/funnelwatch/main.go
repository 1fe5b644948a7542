// Command funnelwatch is the sales-funnel quality-control service: it keeps
// the funnel, runs the regulations and shows the head of sales where deals
// and money get stuck.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `funnelwatch — контроль качества воронки продаж / sales-funnel quality control

Usage:
  funnelwatch demo     [--addr HOST:PORT] [--data DIR] [--seed N]
  funnelwatch serve    --regulations FILE [--db sqlite:PATH|postgres://…] [--addr HOST:PORT]
  funnelwatch check    FILE
  funnelwatch user     password USER_ID --regulations FILE [--db URL]   (the password on stdin)
  funnelwatch import   events --regulations FILE [--db URL] FILE.ndjson
  funnelwatch import   deals  --regulations FILE [--db URL] --map … FILE.csv
  funnelwatch backtest --regulations FILE --events FILE.ndjson [--until RFC3339] [--format json] [--mode simulate|observe] [--compare OLD.yaml]
  funnelwatch report   --regulations FILE [--db URL] [--period last-week] [--out DIR] [--send] [--to R1,R2]
  funnelwatch backup   --out FILE [--db sqlite:PATH]
  funnelwatch bench    ingest [--events N] [--batch N] [--clients N] [--rules]
  funnelwatch bench    latency [--rate N] [--seconds N] [--history N]
  funnelwatch bench    memory [--deals N]

Environment: FUNNELWATCH_API_TOKEN (admin API token), FUNNELWATCH_ADMIN_PASSWORD
(the first admin's password, set at serve start if they have none), FUNNELWATCH_DB,
FUNNELWATCH_ADDR, FUNNELWATCH_REGULATIONS, FUNNELWATCH_DATA,
FUNNELWATCH_WEBHOOK_SECRET, FUNNELWATCH_TELEGRAM_TOKEN, FUNNELWATCH_TELEGRAM_URL,
FUNNELWATCH_SMTP_URL, FUNNELWATCH_MESSENGER_URL, FUNNELWATCH_MESSENGER_TOKEN,
FUNNELWATCH_BASE_URL.
`

// stdin is where "user password" reads the password; tests replace it.
var stdin io.Reader = os.Stdin

// errUsage marks errors that are the caller's mistake; Main prints usage.
var errUsage = errors.New("usage")

// Main runs the command line and returns the exit code. Tests call it.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr)
	case "serve":
		err = runServe(ctx, args[1:], stdout, stderr)
	case "check":
		err = runCheck(args[1:], stdout)
	case "import":
		err = runImport(ctx, args[1:], stdout, stderr)
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "user":
		err = runUser(ctx, args[1:], stdin, stdout, stderr)
	case "backtest":
		err = runBacktest(ctx, args[1:], stdout, stderr)
	case "report":
		err = runReport(ctx, args[1:], stdout, stderr)
	case "backup":
		err = runBackup(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "funnelwatch: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "funnelwatch %s: %v\n", args[0], err)
		return 2
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintf(stderr, "funnelwatch %s: %v\n", args[0], err)
	return 1
}

// env returns the FUNNELWATCH_ variable or the default.
func env(name, def string) string {
	if v := os.Getenv("FUNNELWATCH_" + name); v != "" {
		return v
	}
	return def
}

// dataDir is where funnelwatch keeps its files by default: the user's data
// directory ($XDG_DATA_HOME or ~/.local/share) plus "funnelwatch".
func dataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "funnelwatch")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "funnelwatch")
	}
	return filepath.Join(os.TempDir(), "funnelwatch")
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("funnelwatch "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// storeURL is the --db a command was given, or the default store: a
// SQLite file in the data directory.
func storeURL(db string) string {
	if db == "" {
		return "sqlite:" + filepath.Join(dataDir(), "funnelwatch.db")
	}
	return db
}

func trimSQLitePrefix(db string) (string, bool) {
	if p, ok := strings.CutPrefix(db, "sqlite:"); ok {
		return p, true
	}
	return "", false
}
