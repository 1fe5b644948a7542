package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/demo"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/web"
)

// runDemo generates the demo company, loads it into a fresh embedded store
// and serves it.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	addr := fs.String("addr", env("ADDR", "localhost:8080"), "listen address")
	dir := fs.String("data", env("DATA", filepath.Join(dataDir(), "demo")), "directory for the demo's files")
	seed := fs.Int64("seed", 1, "seed of the generated company (the same seed started in the same minute gives the same company; the history ends at the start)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	a, co, err := loadDemo(ctx, *dir, *seed, start)
	if err != nil {
		return err
	}
	defer a.close()
	tokens := apiTokens()
	token := ""
	if len(tokens) == 0 {
		token = randomToken()
		tokens = []string{token}
	}
	a.setTokens(tokens)
	a.pages.Source = co.Regulations
	logins, err := demoLogins(ctx, a)
	if err != nil {
		return err
	}
	return a.serve(ctx, *addr, func(url string) {
		fmt.Fprintf(stdout, "funnelwatch demo: %s — %d events loaded in %s\n", a.regs.Company, len(co.Events), time.Since(start).Round(time.Millisecond))
		fmt.Fprintf(stdout, "  regulations: %s\n  events:      %s\n", filepath.Join(*dir, "regulations.yaml"), filepath.Join(*dir, "events.ndjson"))
		if token != "" {
			fmt.Fprintf(stdout, "  API token (this run): %s\n", token)
		} else {
			fmt.Fprintln(stdout, "  API token: FUNNELWATCH_API_TOKEN")
		}
		fmt.Fprintf(stdout, "  sign in as the head of sales: %s / %s (the team's logins are on the sign-in page)\n", logins[0].User.ID, logins[0].Password)
		fmt.Fprintf(stdout, "Open %s\n", url)
	})
}

// loadDemo writes the generated company's regulations and event log to dir
// and ingests the log into a fresh SQLite store there.
func loadDemo(ctx context.Context, dir string, seed int64, now time.Time) (*app, *demo.Company, error) {
	co, err := demo.Generate(demo.Options{Seed: seed, End: now.Truncate(time.Minute)})
	if err != nil {
		return nil, nil, fmt.Errorf("generate demo: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, err
	}
	regsPath := filepath.Join(dir, "regulations.yaml")
	if err := os.WriteFile(regsPath, co.Regulations, 0o640); err != nil {
		return nil, nil, err
	}
	if err := writeEvents(filepath.Join(dir, "events.ndjson"), co.Events); err != nil {
		return nil, nil, err
	}
	regs, err := regulations.Parse(co.Regulations)
	if err != nil {
		return nil, nil, fmt.Errorf("demo regulations: %w", err)
	}
	dbPath := filepath.Join(dir, "demo.db")
	// Another demo serving from this directory would lose its database.
	quick, cancel := context.WithTimeout(ctx, time.Second)
	release, err := sqlite.LeaseFile(dbPath)(quick, workspaceID)
	cancel()
	if err != nil {
		return nil, nil, fmt.Errorf("another funnelwatch demo is running on %s: stop it or pass --data", dir)
	}
	if err := release(); err != nil {
		return nil, nil, err
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(dbPath + suffix); err != nil && !os.IsNotExist(err) {
			return nil, nil, err
		}
	}
	a, err := openApp(ctx, "sqlite:"+dbPath, regs, nil, logger(io.Discard), false)
	if err != nil {
		return nil, nil, err
	}
	const batch = 5000
	for i := 0; i < len(co.Events); i += batch {
		part := co.Events[i:min(i+batch, len(co.Events))]
		res, err := a.ingestor.Ingest(ctx, part)
		if err != nil {
			a.close()
			return nil, nil, err
		}
		for j, reason := range res.Reasons {
			if reason != "" {
				a.close()
				return nil, nil, fmt.Errorf("demo event %s rejected: %s", part[j].ID, reason)
			}
		}
	}
	if err := a.ingestor.Sync(ctx); err != nil {
		a.close()
		return nil, nil, err
	}
	// The generated log is a recorded history with the CRM's robots'
	// work in it: the engine observes the automations up to its end.
	if err := recordHistory(ctx, a, now.Truncate(time.Minute)); err != nil {
		a.close()
		return nil, nil, err
	}
	return a, co, nil
}

// demoLogins gives every user of the demo company the password
// "<id>-demo" and lists them for the sign-in page, the head of sales
// first (the demo is theirs), then the managers, then the rest.
func demoLogins(ctx context.Context, a *app) ([]web.DemoLogin, error) {
	var logins []web.DemoLogin
	for _, role := range []funnelwatch.Role{funnelwatch.RoleSupervisor, funnelwatch.RoleManager, funnelwatch.RoleAdmin} {
		for _, u := range a.regs.Users {
			if u.Role != role {
				continue
			}
			pw := u.ID + "-demo"
			if err := a.sessions.SetPassword(ctx, u.ID, pw, time.Now()); err != nil {
				return nil, fmt.Errorf("demo password of %s: %w", u.ID, err)
			}
			logins = append(logins, web.DemoLogin{User: u, Password: pw})
		}
	}
	if len(logins) == 0 {
		return nil, fmt.Errorf("the demo company has no users")
	}
	a.pages.Demo = logins
	return logins, nil
}
