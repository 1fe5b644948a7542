package web_test

import (
	"bytes"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// postCheck submits the regulations page's form.
func postCheck(t *testing.T, c *http.Client, base string, form url.Values) (int, string) {
	t.Helper()
	u := base
	if !strings.Contains(base, "/regulations/check") {
		u += "/regulations/check"
	}
	resp := postBody(t, c, u, form)
	return resp.code, resp.body
}

type answer struct {
	code int
	body string
}

func postBody(t *testing.T, c *http.Client, u string, form url.Values) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b)}
}

// TestValidateRegulations: a changed file with a bad SLA comes back with
// the problem on its line and key; the unchanged file is OK; a manager
// cannot use the form; the form needs its CSRF token.
func TestValidateRegulations(t *testing.T) {
	s := newDemoSite(t)
	c := browser(t)
	csrf := s.signIn(t, c, "sergey", "sergey-password")
	_, page := get(t, c, s.URL+"/regulations")
	if !strings.Contains(page, `id="check-form"`) || !strings.Contains(page, "sales_role") {
		t.Fatal("the head of sales' regulations page has no form with the running file in it")
	}
	lines := strings.Split(string(s.yaml), "\n")
	bad := -1
	for i, l := range lines {
		if strings.Contains(l, "sla:") {
			lines[i] = regexp.MustCompile(`sla: *[^,}]+`).ReplaceAllString(l, "sla: 7x")
			bad = i + 1
			break
		}
	}
	if bad < 0 {
		t.Fatal("no sla in the demo's regulations")
	}
	code, page := postCheck(t, c, s.URL, url.Values{"csrf": {csrf}, "do": {"validate"}, "yaml": {strings.Join(lines, "\n")}})
	if code != 200 {
		t.Fatalf("validate: %d", code)
	}
	parseError := regexp.MustCompile(`(?s)<tr class="parse-error" data-line="(\d+)"><td class="num">\d+</td><td><code>([^<]*)</code></td><td>([^<]*)</td>`)
	m := parseError.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no parse error shown:\n%.2000s", page[strings.Index(page, "regs-check"):])
	}
	if m[1] != itoa(bad) || !strings.HasSuffix(m[2], ".sla") || !strings.Contains(m[3], "7x") {
		t.Errorf("the error is line %s key %q %q, want line %d, a stage's sla, naming 7x", m[1], m[2], m[3], bad)
	}
	// The head of sales reads the problem in the page's language: Russian
	// by default, English with ?lang=en; keys and values stay as written.
	if got, want := html.UnescapeString(m[3]), `неверная длительность "7x" (пишите 90s, 15m, 2h, 1d, 7d)`; got != want {
		t.Errorf("the Russian page says %q, want %q", got, want)
	}
	if !strings.Contains(page, "sla: 7x") {
		t.Error("the changed text is not kept in the form")
	}
	_, page = postCheck(t, c, s.URL+"/regulations/check?lang=en", url.Values{"csrf": {csrf}, "do": {"validate"}, "yaml": {strings.Join(lines, "\n")}})
	if m := parseError.FindStringSubmatch(page); m == nil {
		t.Error("no parse error shown on the English page")
	} else if got, want := html.UnescapeString(m[3]), `bad duration "7x" (use 90s, 15m, 2h, 1d, 7d)`; got != want {
		t.Errorf("the English page says %q, want %q", got, want)
	}
	get(t, c, s.URL+"/regulations?lang=ru") // back to Russian for the rest

	code, page = postCheck(t, c, s.URL, url.Values{"csrf": {csrf}, "do": {"validate"}, "yaml": {string(s.yaml)}})
	if code != 200 || !strings.Contains(page, `id="check-ok"`) {
		t.Errorf("the running file does not validate: %d", code)
	}

	// Upload, as a browser's file input sends it.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", csrf)
	mw.WriteField("do", "validate")
	fw, _ := mw.CreateFormFile("file", "regulations.yaml")
	fw.Write([]byte("timezone: Nowhere/Atlantis\n"))
	mw.Close()
	req, _ := http.NewRequest("POST", s.URL+"/regulations/check", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `class="parse-error" data-line="1"`) {
		t.Errorf("an uploaded file with a bad timezone: no error on line 1")
	}

	if code, _ := postCheck(t, c, s.URL, url.Values{"do": {"validate"}, "yaml": {string(s.yaml)}}); code != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d, want 403", code)
	}
	roman := browser(t)
	rcsrf := s.signIn(t, roman, "roman", "roman-password")
	if _, page := get(t, roman, s.URL+"/regulations"); strings.Contains(page, `id="check-form"`) {
		t.Error("a manager is offered the check form")
	}
	if code, _ := postCheck(t, roman, s.URL, url.Values{"csrf": {rcsrf}, "do": {"backtest"}, "yaml": {string(s.yaml)}}); code != 404 {
		t.Errorf("a manager's backtest: %d, want 404", code)
	}
}

// TestBacktestRegulations: a file with a stage's SLA cut to an hour,
// backtested over the demo's log, raises more SLA findings than the
// running one, side by side.
func TestBacktestRegulations(t *testing.T) {
	s := newDemoSite(t)
	c := browser(t)
	csrf := s.signIn(t, c, "sergey", "sergey-password")
	changed := regexp.MustCompile(`sla: *[0-9]+[dh]`).ReplaceAllString(string(s.yaml), "sla: 1h")
	began := time.Now()
	code, page := postCheck(t, c, s.URL, url.Values{"csrf": {csrf}, "do": {"backtest"}, "yaml": {changed}})
	t.Logf("backtest page in %s", time.Since(began).Round(time.Millisecond))
	if code != 200 {
		t.Fatalf("backtest: %d", code)
	}
	if i := strings.Index(page, `id="backtest-failed"`); i >= 0 {
		t.Fatalf("the backtest failed: %.300s", page[i:])
	}
	if !strings.Contains(page, `id="backtest-result"`) || strings.Count(page, `class="bt-finding"`) == 0 {
		t.Fatalf("no backtest result:\n%.3000s", page[strings.Index(page, "regs-check"):])
	}
	m := regexp.MustCompile(`(?s)id="bt-by-rule".*?<tr data-key="stage_sla"[^>]*><td>[^<]*</td><td class="num">(\d+)</td><td class="num">(\d+)</td>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no stage_sla line in the counts by rule")
	}
	if atoi(m[1]) <= atoi(m[2]) {
		t.Errorf("SLAs of an hour: %s stage_sla findings, the running file %s; want more", m[1], m[2])
	}
	t.Logf("stage_sla: changed %s, running %s", m[1], m[2])

	// In English, every string of the result is translated.
	_, page = postCheck(t, c, s.URL+"/regulations/check?lang=en", url.Values{"csrf": {csrf}, "do": {"backtest"}, "yaml": {changed}})
	if i := strings.Index(page, "⟦"); i >= 0 || !strings.Contains(page, "What the changed file would have raised") {
		t.Errorf("the English result lacks a translation: %.80s", page[max(i, 0):])
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}
