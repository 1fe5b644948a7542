package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/funnelwatch/funnelwatch/report"
)

// The browser tests drive the demo's pages in a real Chromium (Debian's
// chromium package) through the DevTools protocol: sign in as the head of
// sales, open each page, follow the dashboard's numbers, complete a task
// on a deal card, switch the language, and check a manager's scope.
// Screenshots go to $FUNNELWATCH_ARTEFACTS, or testdata/artifacts/
// screenshots at the repository's root (ignored by git).

// chromiumPath finds the browser; under CI its absence fails the test
// instead of skipping it, so the browser tests never silently vanish.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("FUNNELWATCH_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found (install Debian's chromium: apt-get install -y chromium, or set FUNNELWATCH_CHROMIUM)"
	if os.Getenv("CI") != "" {
		t.Fatal("browser tests cannot run: " + msg)
	}
	t.Skip(msg)
	return ""
}

func artefactDir(t *testing.T) string {
	dir := os.Getenv("FUNNELWATCH_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "testdata", "artifacts")
	}
	dir = filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserTab is one Chromium tab with what the test needs of it.
type browserTab struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
}

func newBrowser(t *testing.T, base string) *browserTab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // the CI container runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browserTab{t: t, ctx: ctx, base: base, dir: artefactDir(t)}
}

// step runs one action with a time limit, failing the test (with a
// screenshot) when it fails.
func step[T any](b *browserTab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// load runs actions that navigate and returns the HTTP status of the
// document they load.
func (b *browserTab) load(what string, actions ...chromedp.Action[chromedp.Void]) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
	return int(resp.Status)
}

// open loads a page and returns its HTTP status.
func (b *browserTab) open(path string) int {
	b.t.Helper()
	return b.load("open "+path, chromedp.Navigate(b.base+path))
}

// click clicks what leads to another page and waits for it.
func (b *browserTab) click(sel string) int {
	b.t.Helper()
	return b.load("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

func (b *browserTab) shot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	name = regexp.MustCompile(`[^\pL\d-]+`).ReplaceAllString(b.t.Name()+"-"+name, "_")
	path := filepath.Join(b.dir, name[:min(len(name), 90)]+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

func (b *browserTab) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(step(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel))))
}

func (b *browserTab) attr(sel, name string) string {
	b.t.Helper()
	r := step(b, "attribute "+name+" of "+sel, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if !r.Exists {
		b.t.Fatalf("%s has no %s", sel, name)
	}
	return r.Value
}

func eval[T any](b *browserTab, js string) T {
	b.t.Helper()
	return step(b, "evaluate "+js, chromedp.Evaluate[T](js))
}

func (b *browserTab) path() string {
	return strings.TrimPrefix(step(b, "location", chromedp.Location()), b.base)
}

func (b *browserTab) signIn(user string) {
	b.t.Helper()
	b.open("/signin")
	if code := b.click("#as-" + user); code != 200 {
		b.t.Fatalf("sign in as %s: %d", user, code)
	}
}

func (b *browserTab) signOut() {
	b.t.Helper()
	b.click("#signout")
}

// TestBrowser runs the demo and walks its pages in Chromium.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests take a few seconds")
	}
	t.Setenv("FUNNELWATCH_API_TOKEN", "")
	base, out := start(t, "demo", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	b := newBrowser(t, base)
	token := regexp.MustCompile(`API token \(this run\): (\S+)`).FindStringSubmatch(out.String())
	if token == nil {
		t.Fatalf("the demo printed no API token: %s", out.String())
	}

	t.Run("SignInAsHeadOfSales", func(t *testing.T) {
		b.t = t
		if code := b.open("/"); code != 200 || !strings.HasPrefix(b.path(), "/signin") {
			t.Fatalf("a page without a session: %d at %s, want the sign-in page", code, b.path())
		}
		if got := b.attr("#user", "value"); got != "sergey" {
			t.Errorf("the demo's sign-in form is for %q, want the head of sales", got)
		}
		if txt := b.text("#demo-logins"); !strings.Contains(txt, "roman-demo") || !strings.Contains(txt, "Роман Белов") {
			t.Errorf("the managers' logins are not listed:\n%s", txt)
		}
		b.shot("signin")
		b.signIn("sergey")
		if who := b.text("#who"); !strings.Contains(who, "Сергей Генералов") {
			t.Errorf("signed in as %q", who)
		}
	})

	t.Run("EveryPage", func(t *testing.T) {
		b.t = t
		for _, p := range []struct{ path, sel, want string }{
			{"/", "#tile-violations", "Нарушения за неделю"},
			{"/funnel", "main", "Основная воронка"},
			{"/managers", "#scorecard", "Медиана команды"},
			{"/violations", "#total", ""},
			{"/deals", "#board", ""},
			{"/tasks?who=team", "#overdue", "Просроченные"},
			{"/regulations", "#regs-rules", "Правила качества"},
		} {
			began := time.Now()
			if code := b.open(p.path); code != 200 {
				t.Errorf("GET %s = %d", p.path, code)
				continue
			}
			t.Logf("%s in %s", p.path, time.Since(began).Round(time.Millisecond))
			if txt := b.text(p.sel); !strings.Contains(txt, p.want) {
				t.Errorf("%s: %s lacks %q", p.path, p.sel, p.want)
			}
			b.shot(strings.Trim(strings.NewReplacer("?", "-", "=", "-").Replace(p.path), "/") + "page")
		}
	})

	t.Run("DashboardNumbersLeadToTheirRows", func(t *testing.T) {
		b.t = t
		b.open("/")
		want := b.attr("#tile-violations .big", "data-value")
		b.click("#tile-violations")
		if !strings.HasPrefix(b.path(), "/violations?") {
			t.Fatalf("the tile leads to %s", b.path())
		}
		if got := b.attr("#total", "data-value"); got != want {
			t.Errorf("the dashboard says %s violations this week, the list behind it %s", want, got)
		}
		b.shot("violations-of-the-week")

		// The first bar of «by stage»: its number is the list's total.
		b.open("/")
		title := eval[string](b, `document.querySelector("#by-stage svg a title").textContent`)
		want = title[strings.LastIndex(title, " ")+1:]
		b.click("#by-stage svg a rect")
		if !strings.Contains(b.path(), "stage=") {
			t.Errorf("the bar leads to %s, not a stage's list", b.path())
		}
		if got := b.attr("#total", "data-value"); got != want {
			t.Errorf("bar %q, the list behind it %s", title, got)
		}

		// Deals without a next task: the board shows them, marked.
		b.open("/")
		noTask, _ := strconv.Atoi(b.attr("#tile-notask .big", "data-value"))
		b.click("#tile-notask")
		cards := eval[int](b, `document.querySelectorAll("#board .dealcard").length`)
		marked := eval[int](b, `document.querySelectorAll("#board .dealcard.notask").length`)
		if noTask > 0 && (cards == 0 || cards != marked) {
			t.Errorf("%d deals without a task on the dashboard; the board shows %d cards, %d marked", noTask, cards, marked)
		}
		b.shot("deals-without-task")
	})

	t.Run("CompleteTaskResolvesOverdue", func(t *testing.T) {
		b.t = t
		b.open("/violations?rule=task_overdue&open=true")
		deal := eval[string](b, `(() => {
			for (const a of document.querySelectorAll("article.finding.open")) {
				const link = a.querySelector("a.deal-link");
				if (link) return link.getAttribute("href");
			}
			return "";
		})()`)
		if deal == "" {
			b.shot("no-overdue")
			t.Fatal("the demo has no open overdue-task finding to resolve")
		}
		b.open(deal)
		task := eval[string](b, `(document.querySelector("#deal-violations article.finding.open[data-rule=task_overdue]") || {dataset: {}}).dataset.task || ""`)
		if task == "" {
			t.Fatalf("%s shows no open overdue finding with a task", deal)
		}
		b.shot("deal-before")
		sel := fmt.Sprintf(`button.complete[data-task=%q]`, task)
		step(b, "write the result", chromedp.SetValue(chromedp.CSS(fmt.Sprintf(`li[data-task=%q] input[name=result]`, task)), "Дозвонился, договорились о встрече"))
		if code := b.click(sel); code != 200 {
			t.Fatalf("complete the task: %d", code)
		}
		open := eval[string](b, fmt.Sprintf(`document.querySelector('#deal-violations article.finding[data-rule=task_overdue][data-task=%q]').dataset.open`, task))
		if open != "false" {
			t.Errorf("after completing task %s its overdue finding is open=%s, want resolved", task, open)
		}
		if li := b.text(fmt.Sprintf(`li[data-task=%q]`, task)); !strings.Contains(li, "выполнена") {
			t.Errorf("the task is not shown done: %q", li)
		}
		if tl := b.text("#timeline"); !strings.Contains(tl, "Задача выполнена: Дозвонился, договорились о встрече") {
			t.Errorf("the timeline lacks the completion:\n%.400s", tl)
		}
		b.shot("deal-after")
	})

	t.Run("SwitchLanguage", func(t *testing.T) {
		b.t = t
		b.open("/")
		b.click("#lang-switch")
		lang := b.attr("html", "lang")
		if lang != "en" || b.text("#nav-dashboard") != "Dashboard" || !strings.Contains(b.text("#tile-violations"), "Violations this week") {
			t.Errorf("after the switch: lang=%s nav=%q", lang, b.text("#nav-dashboard"))
		}
		// The choice is kept: the next page is in English too.
		b.open("/violations")
		if b.text("#nav-violations") != "Violations" {
			t.Errorf("the next page is not in English")
		}
		b.shot("english")
		b.click("#lang-switch")
		if b.text("#nav-violations") != "Нарушения" {
			t.Errorf("not back in Russian")
		}
	})

	t.Run("FunnelIsTheAPIsReport", func(t *testing.T) {
		b.t = t
		b.open("/funnel")
		pipeline := b.attr("#period input[name=pipeline]", "value")
		msk, err := time.LoadLocation("Europe/Moscow")
		if err != nil {
			t.Fatal(err)
		}
		from, _ := time.ParseInLocation(time.DateOnly, b.attr("#period input[name=from]", "value"), msk)
		to, _ := time.ParseInLocation(time.DateOnly, b.attr("#period input[name=to]", "value"), msk)
		q := url.Values{"pipeline": {pipeline}, "from": {from.Format(time.RFC3339)}, "to": {to.AddDate(0, 0, 1).Format(time.RFC3339)}}
		code, body := get(t, base+"/api/v1/reports/funnel?"+q.Encode(), token[1])
		if code != 200 {
			t.Fatalf("the API's funnel report: %d %s", code, body)
		}
		var rep report.FunnelReport
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatal(err)
		}
		worst, worstAt := 0.0, ""
		for _, st := range rep.Stages {
			if st.Bottleneck != nil && *st.Bottleneck > worst {
				worst, worstAt = *st.Bottleneck, st.Stage
			}
		}
		var flagged int
		for _, st := range rep.Stages {
			row := fmt.Sprintf(`#stages tr[data-stage=%q]`, st.Stage)
			if got := b.attr(row+" td.now", "data-value"); got != strconv.Itoa(st.DealsNow) {
				t.Errorf("%s: %s deals now on the page, %d in the API", st.Stage, got, st.DealsNow)
			}
			if got := b.attr(row, "data-ladder"); got != strconv.FormatBool(st.Ladder) {
				t.Errorf("%s: broken ladder %s on the page, %v in the API", st.Stage, got, st.Ladder)
			}
			if got := b.attr(row, "data-worst"); got != strconv.FormatBool(st.Stage == worstAt) {
				t.Errorf("%s: worst %s on the page; the API's worst bottleneck is %q", st.Stage, got, worstAt)
			}
			if st.Ladder {
				flagged++
				if txt := b.text(row + " td"); !strings.Contains(txt, "лестница нарушена") {
					t.Errorf("%s: the broken ladder is not written: %q", st.Stage, txt)
				}
			}
		}
		if worstAt != "" {
			flagged++
			if bg := eval[string](b, fmt.Sprintf(`getComputedStyle(document.querySelector('#stages tr[data-stage=%q] td')).backgroundColor`, worstAt)); bg == "rgba(0, 0, 0, 0)" {
				t.Errorf("the worst bottleneck %s is not highlighted", worstAt)
			}
		}
		if flagged == 0 {
			t.Errorf("the API's report of %s has neither a broken ladder nor a bottleneck: nothing checked", pipeline)
		}
		b.shot("funnel")

		// A stage's "deals now" leads to the board of that stage, with
		// as many deals.
		stage := eval[string](b, `(() => {
			for (const a of document.querySelectorAll("#stages a.now-link"))
				if (a.textContent.trim() !== "0") return a.closest("tr").dataset.stage;
			return "";
		})()`)
		if stage == "" {
			t.Fatal("no stage with deals on the funnel page")
		}
		want := b.attr(fmt.Sprintf(`#stages tr[data-stage=%q] td.now`, stage), "data-value")
		b.click(fmt.Sprintf(`#stages tr[data-stage=%q] a.now-link`, stage))
		if !strings.HasPrefix(b.path(), "/deals?") || !strings.Contains(b.path(), "stage="+stage) {
			t.Fatalf("deals now leads to %s", b.path())
		}
		if cols := eval[int](b, `document.querySelectorAll("#board section.column").length`); cols != 1 {
			t.Errorf("the board of one stage shows %d columns", cols)
		}
		if got := b.attr("#board section.column", "data-count"); got != want {
			t.Errorf("%s: %s deals now on the funnel page, %s on the board", stage, want, got)
		}
		b.shot("funnel-stage-board")
	})

	t.Run("ManagersScorecards", func(t *testing.T) {
		b.t = t
		b.open("/")
		b.click("#nav-managers")
		cols := eval[int](b, `document.querySelectorAll("#scorecard th[data-user]").length`)
		if cols < 10 {
			t.Errorf("the head of sales sees %d managers' columns", cols)
		}
		if n := eval[int](b, `document.querySelectorAll("#scorecard td.worst").length`); n == 0 {
			t.Error("no figure is marked the worst against the median")
		}
		b.shot("managers")
		b.click(`#scorecard th[data-user=roman] a`)
		if b.path() != "/managers/roman?"+strings.SplitN(b.path(), "?", 2)[1] || !strings.Contains(b.text("h1"), "Роман Белов") {
			t.Errorf("the column's link leads to %s (%q)", b.path(), b.text("h1"))
		}
		b.shot("manager-card")
	})

	t.Run("RegulationsValidateAndBacktest", func(t *testing.T) {
		b.t = t
		b.open("/regulations")
		src := eval[string](b, `document.querySelector("#yaml").value`)
		lines := strings.Split(src, "\n")
		bad := -1
		for i, l := range lines {
			if strings.Contains(l, "sla:") {
				lines[i] = regexp.MustCompile(`sla: *[^,}]+`).ReplaceAllString(l, "sla: 7x")
				bad = i + 1
				break
			}
		}
		if bad < 0 {
			t.Fatal("the running file in the form has no sla")
		}
		step(b, "paste a bad file", chromedp.SetValue(chromedp.CSS("#yaml"), strings.Join(lines, "\n")))
		b.click("#validate")
		if got := b.attr("#check-errors tr.parse-error", "data-line"); got != strconv.Itoa(bad) {
			t.Errorf("the error is on line %s, the bad sla on line %d", got, bad)
		}
		if txt := b.text("#check-errors"); !strings.Contains(txt, "7x") {
			t.Errorf("the error does not name the bad value: %q", txt)
		}
		b.shot("regulations-invalid")

		changed := regexp.MustCompile(`sla: *[0-9]+[dh]`).ReplaceAllString(src, "sla: 1h")
		step(b, "paste a changed file", chromedp.SetValue(chromedp.CSS("#yaml"), changed))
		b.click("#backtest")
		if n := eval[int](b, `document.querySelectorAll("#backtest-result #bt-first tr.bt-finding").length`); n == 0 {
			t.Fatalf("no findings in the backtest's result")
		}
		if txt := b.text("#bt-by-rule"); !strings.Contains(txt, "stage_sla") {
			t.Errorf("the counts by rule lack stage_sla: %q", txt)
		}
		b.shot("regulations-backtest")
	})

	t.Run("ManagerGets404OnAnothersDeal", func(t *testing.T) {
		b.t = t
		// A deal of each, as the head of sales' board shows them.
		b.open("/deals?user=anna")
		anna := b.attr("#board a.dealcard", "href")
		b.open("/deals?user=roman")
		roman := b.attr("#board a.dealcard", "href")
		b.signOut()
		b.signIn("roman")
		if code := b.open(roman); code != 200 {
			t.Errorf("roman opens his own deal %s: %d", roman, code)
		}
		if code := b.open(anna); code != 404 || b.text("#not-found") == "" {
			t.Errorf("roman opens Anna's deal %s: %d, want 404", anna, code)
		}
		b.shot("manager-404")
		// His dashboard and lists are his own.
		b.open("/violations")
		others := eval[int](b, `[...document.querySelectorAll("article.finding")].filter(a => !a.textContent.includes("Роман Белов")).length`)
		if others != 0 {
			t.Errorf("roman's violations list shows %d findings of others", others)
		}
	})

	t.Run("ManagerSeesOnlyTheirScorecard", func(t *testing.T) {
		b.t = t
		// Still signed in as roman.
		b.open("/managers")
		users := eval[[]string](b, `[...document.querySelectorAll("#scorecard th[data-user]")].map(th => th.dataset.user)`)
		if len(users) != 1 || users[0] != "roman" {
			t.Errorf("roman's /managers shows the columns of %v, want his own", users)
		}
		if txt := b.text("#scorecard"); !strings.Contains(txt, "Медиана команды") || strings.Contains(txt, "Анна") {
			t.Errorf("roman's scorecard: the median beside it, no one else's name")
		}
		b.shot("manager-scorecard")
		if code := b.open("/managers/anna"); code != 404 {
			t.Errorf("roman opens Anna's scorecard: %d, want 404", code)
		}
	})

	t.Run("AdminIssuesAnAPIToken", func(t *testing.T) {
		b.t = t
		// Still roman: no admin page for a manager.
		if code := b.open("/admin"); code != 404 {
			t.Errorf("roman opens /admin: %d, want 404", code)
		}
		b.signOut()
		b.signIn("admin")
		if code := b.click("#nav-admin"); code != 200 {
			t.Fatalf("the admin's /admin: %d", code)
		}
		if n := eval[int](b, `document.querySelectorAll("#admin-users tr.admin-user").length`); n < 10 {
			t.Errorf("the admin page lists %d users, want the demo's team", n)
		}
		step(b, "name the token", chromedp.SetValue(chromedp.CSS(`#issue-token input[name="name"]`), "Скрипт отчётов"))
		if code := b.click(`#issue-token button[type="submit"]`); code != 200 {
			t.Fatalf("issue a token: %d", code)
		}
		token := b.text("#issued-token")
		b.shot("admin-token")
		apiGet := func(tok string) int {
			req, _ := http.NewRequest("GET", b.base+"/api/v1/reports/quality", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if code := apiGet(token); code != 200 {
			t.Fatalf("the API with the issued token %.10s…: %d", token, code)
		}
		b.open("/admin")
		if code := b.click(`#admin-tokens tr.api-token form button[type="submit"]`); code != 200 {
			t.Fatalf("revoke: %d", code)
		}
		if state := b.text("#admin-tokens tr.api-token .token-state"); !strings.Contains(state, "отозван") {
			t.Errorf("the token's state after revoking: %q", state)
		}
		if code := apiGet(token); code != 401 {
			t.Errorf("the API with the revoked token: %d, want 401", code)
		}
	})
}
