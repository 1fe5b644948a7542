package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch/demo"
	"github.com/funnelwatch/funnelwatch/telegram/telegramtest"
)

// TestReportCommand imports the demo company's history, then renders its
// weekly report to a directory and sends it to a Telegram chat — the
// rules engine catching up on the imported log first, as a server would.
func TestReportCommand(t *testing.T) {
	ctx := context.Background()
	end := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)
	co, err := demo.Generate(demo.Options{Seed: 1, End: end})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	regs, events := filepath.Join(dir, "regulations.yaml"), filepath.Join(dir, "events.ndjson")
	os.WriteFile(regs, co.Regulations, 0o600)
	var log bytes.Buffer
	if err := co.WriteNDJSON(&log); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(events, log.Bytes(), 0o600)
	db := "sqlite:" + filepath.Join(dir, "fw.db")
	var out, errs bytes.Buffer
	if code := Main(ctx, []string{"import", "events", "--regulations", regs, "--db", db, events}, &out, &errs); code != 0 {
		t.Fatalf("import exited %d: %s", code, errs.String())
	}
	outDir := filepath.Join(dir, "report")
	out.Reset()
	args := []string{"report", "--regulations", regs, "--db", db, "--period", "2026-11-16..2026-11-22", "--out", outDir}
	if code := Main(ctx, args, &out, &errs); code != 0 {
		t.Fatalf("report exited %d: %s", code, errs.String())
	}
	for _, f := range []string{"report.html", "telegram.html", "report.txt", "stages.png", "managers.png"} {
		if st, err := os.Stat(filepath.Join(outDir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	page, _ := os.ReadFile(filepath.Join(outDir, "report.html"))
	if !strings.Contains(string(page), "16.11–22.11.2026") || !strings.Contains(string(page), `<img src="stages.png"`) ||
		!strings.Contains(string(page), "Нарушения: ") {
		t.Errorf("report.html:\n%.600s", page)
	}

	tg, srv := telegramtest.Start(t)
	t.Setenv("FUNNELWATCH_TELEGRAM_TOKEN", tg.Token)
	t.Setenv("FUNNELWATCH_TELEGRAM_URL", srv.URL)
	out.Reset()
	args = []string{"report", "--regulations", regs, "--db", db, "--period", "2026-11-16..2026-11-22", "--send", "--to", "chat:-100777"}
	if code := Main(ctx, args, &out, &errs); code != 0 {
		t.Fatalf("report --send exited %d: %s", code, errs.String())
	}
	if got := tg.Got("-100777"); len(tg.Photos("-100777")) != 2 || len(got) < 3 || !strings.Contains(strings.Join(got, ""), "Контроль качества") {
		t.Fatalf("the chat got %d photos and %q", len(tg.Photos("-100777")), got)
	}
}
