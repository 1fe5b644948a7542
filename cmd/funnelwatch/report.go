package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/notify"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/reporting"
)

// runReport renders the quality report of a period, and writes it to a
// directory or sends it through the configured channels.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	regsPath := fs.String("regulations", env("REGULATIONS", ""), "regulations file (YAML)")
	db := fs.String("db", env("DB", ""), "store: sqlite:PATH or postgres://… (default: sqlite in the data directory)")
	period := fs.String("period", "last-week", "last-week, this-week, yesterday, today, last-7-days or 2026-11-16..2026-11-22")
	out := fs.String("out", "", "write the report to this directory (report.html, telegram.html, report.txt, the charts)")
	send := fs.Bool("send", false, "send it through Telegram / e-mail (FUNNELWATCH_TELEGRAM_TOKEN, FUNNELWATCH_SMTP_URL)")
	to := fs.String("to", "", "recipients, comma-separated: user ids, chat:ID, email:ADDRESS (default: the scheduled report's)")
	baseURL := fs.String("base-url", env("BASE_URL", ""), "the web address of funnelwatch, to link deals")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *regsPath == "" {
		return fmt.Errorf("%w: --regulations is required", errUsage)
	}
	regs, err := regulations.ParseFile(*regsPath)
	if err != nil {
		return err
	}
	now := time.Now()
	kind, from, to2, err := reporting.ParsePeriod(*period, now, regs.Location)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	*db = storeURL(*db)
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// With no server running, the rules engine catches up on the log
	// first, as the server would have; a running server's engine is.
	quick, cancel := context.WithTimeout(ctx, time.Second)
	release, err := store.Lease(quick, workspaceID)
	cancel()
	if err == nil {
		in := &engine.Ingestor{Store: store, Workspace: workspaceID, Funnel: &regs.Funnel}
		live := &engine.Live{Store: store, Workspace: workspaceID, Regs: regs, Ingestor: in, Logger: log}
		err = live.StepAndSnapshot(ctx)
		if err == nil {
			err = in.Flush(ctx)
		}
		release()
		if err != nil {
			return err
		}
	}
	var rep *reporting.Report
	err = store.View(ctx, workspaceID, func(tx funnelwatch.ReadTx) error {
		var err error
		rep, err = reporting.Build(ctx, tx, regs, kind, from, to2, now)
		return err
	})
	if err != nil {
		return err
	}
	msg, err := rep.Message(*baseURL)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := writeReport(*out, msg); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report written to %s\n", *out)
	}
	if *send {
		n := notifier(store, regs, log)
		if n == nil {
			return errors.New("no channel to send through: set FUNNELWATCH_TELEGRAM_TOKEN or FUNNELWATCH_SMTP_URL")
		}
		var recipients []string
		if *to != "" {
			recipients = strings.Split(*to, ",")
		} else if reps := regs.ScheduledReports(); len(reps) > 0 {
			recipients = reporting.Recipients(regs, reps[0].To)
		}
		if len(recipients) == 0 {
			return fmt.Errorf("%w: nobody to send to: give --to", errUsage)
		}
		if err := n.SendNow(ctx, recipients, msg); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report sent to %s\n", strings.Join(recipients, ", "))
	}
	if *out == "" && !*send {
		fmt.Fprint(stdout, msg.Text)
	}
	return nil
}

// writeReport writes the e-mail's HTML (its images as files beside it),
// the Telegram text, the plain text and the charts.
func writeReport(dir string, m notify.Message) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	page := strings.ReplaceAll(m.EmailHTML, `src="cid:`, `src="`)
	files := map[string][]byte{"report.html": []byte(page), "telegram.html": []byte(m.HTML), "report.txt": []byte(m.Text)}
	for _, img := range m.Images {
		files[img.Name] = img.PNG
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o640); err != nil {
			return err
		}
	}
	return nil
}
