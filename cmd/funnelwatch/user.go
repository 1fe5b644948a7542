package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/auth"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// runUser manages the sign-in of the regulations file's users:
//
//	funnelwatch user password USER_ID --regulations FILE [--db URL] < password
//
// sets the user's password, read from the first line of stdin (so it
// stays out of the shell's history and the process list), and signs the
// user's browsers out.
func runUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[0] != "password" {
		return usageErr("usage: funnelwatch user password USER_ID --regulations FILE [--db URL] < password")
	}
	userID := args[1]
	fs := newFlags("user password", stderr)
	regsPath := fs.String("regulations", env("REGULATIONS", ""), "regulations file (YAML)")
	db := fs.String("db", env("DB", ""), "store: sqlite:PATH or postgres://… (default: sqlite in the data directory)")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	if *regsPath == "" {
		return usageErr("--regulations FILE is required")
	}
	*db = storeURL(*db)
	regs, err := regulations.ParseFile(*regsPath)
	if err != nil {
		return fmt.Errorf("regulations %s: %w", *regsPath, err)
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return usageErr("give the password on stdin")
	}
	password := strings.TrimRight(line, "\r\n")
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.EnsureWorkspace(ctx, workspaceID, regs.Company); err != nil {
		return err
	}
	m := &auth.Sessions{Store: store, Workspace: workspaceID, Funnel: &regs.Funnel}
	if err := m.SetPassword(ctx, userID, password, time.Now()); err != nil {
		return err
	}
	u, _ := regs.User(userID)
	fmt.Fprintf(stdout, "password set for %s (%s, %s)\n", u.ID, u.Name, u.Role)
	return nil
}

// firstAdmin gives the file's first admin the password of
// FUNNELWATCH_ADMIN_PASSWORD when they have none yet: the first sign-in
// of a fresh install. A password already set is left alone, so the
// variable can stay in the service's environment.
func firstAdmin(ctx context.Context, a *app, password string, stderr io.Writer) error {
	var admin *funnelwatch.User
	for i := range a.regs.Users {
		if a.regs.Users[i].Role == funnelwatch.RoleAdmin {
			admin = &a.regs.Users[i]
			break
		}
	}
	if admin == nil {
		if password != "" {
			fmt.Fprintln(stderr, "warning: FUNNELWATCH_ADMIN_PASSWORD is set but the regulations file has no user with role admin")
		}
		return nil
	}
	has, err := a.sessions.HasPassword(ctx, admin.ID)
	if err != nil || has {
		return err
	}
	if password == "" {
		fmt.Fprintf(stderr, "warning: admin %q has no password: set FUNNELWATCH_ADMIN_PASSWORD, or run funnelwatch user password %s\n", admin.ID, admin.ID)
		return nil
	}
	if err := a.sessions.SetPassword(ctx, admin.ID, password, time.Now()); err != nil {
		return fmt.Errorf("FUNNELWATCH_ADMIN_PASSWORD: %w", err)
	}
	a.log.Info("admin password set from FUNNELWATCH_ADMIN_PASSWORD", "user", admin.ID)
	return nil
}
