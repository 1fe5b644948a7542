package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/funnelwatch/funnelwatch/api"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/storetest"
)

const token = "test-token"

// newServer runs the API on a fresh SQLite store.
func newServer(t *testing.T, maxBody int64) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.EnsureWorkspace(ctx, "w", "Test"); err != nil {
		t.Fatal(err)
	}
	in := &engine.Ingestor{Store: store, Workspace: "w", Funnel: storetest.Funnel()}
	mux := http.NewServeMux()
	(&api.Server{Store: store, Workspace: "w", Ingestor: in, Tokens: []string{token}, MaxBody: maxBody}).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, srv *httptest.Server, method, path, contentType, body, tok string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func post(t *testing.T, srv *httptest.Server, contentType, body string) api.IngestResponse {
	t.Helper()
	code, b := do(t, srv, "POST", "/api/v1/events", contentType, body, token)
	if code != http.StatusOK {
		t.Fatalf("POST events: %d %s", code, b)
	}
	var r api.IngestResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

const batch = `[
 {"id":"e1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","stage":"target","responsible":"roman","amount":15000,"contact":{"name":"Иван","phone":"+79123456789"}}},
 {"id":"e2","type":"task.created","at":"2026-11-02T10:01:00+03:00","task":{"id":"T1","deal_id":"D1","due":"2026-11-02T10:15:00+03:00","text":"Получить контакт клиента","kind":"call"}},
 {"id":"e3","type":"task.created","at":"2026-11-02T10:02:00+03:00","task":{"id":"T2","deal_id":"D1","assignee":"sergey","text":"Проверить"}},
 {"id":"e4","type":"call","at":"2026-11-02T10:05:00+03:00","call":{"id":"C1","user":"roman","direction":"out","phone":"8 912 345-67-89","duration_s":95,"answered":true,"deal_id":"D1"}},
 {"id":"e5","type":"note.added","at":"2026-11-02T10:07:00+03:00","note":{"id":"N1","deal_id":"D1","author":"roman","text":"Клиенту нужна пневмостойка BMW X5, перезвонить после 15:00"}},
 {"id":"e6","type":"task.completed","at":"2026-11-02T10:08:00+03:00","task_id":"T1","result":"Контакт получен"}
]`

func TestAuth(t *testing.T) {
	srv := newServer(t, 0)
	for _, tok := range []string{"", "wrong"} {
		code, body := do(t, srv, "POST", "/api/v1/events", "", batch, tok)
		if code != http.StatusUnauthorized || !strings.Contains(string(body), "token") {
			t.Errorf("token %q: %d %s, want 401", tok, code, body)
		}
		if code, _ := do(t, srv, "GET", "/api/v1/deals/D1", "", "", tok); code != http.StatusUnauthorized {
			t.Errorf("GET with token %q: %d, want 401", tok, code)
		}
	}
}

func TestIngestIdempotent(t *testing.T) {
	srv := newServer(t, 0)
	r := post(t, srv, "application/json", batch)
	if r.Accepted != 6 || r.Duplicates != 0 || r.Rejected != 0 {
		t.Fatalf("first post = %+v", r)
	}
	r = post(t, srv, "application/json", batch)
	if r.Accepted != 0 || r.Duplicates != 6 || r.Duplicate != 6 || r.Rejected != 0 {
		t.Fatalf("second post = %+v, want 6 duplicates", r)
	}
	code, body := do(t, srv, "GET", "/api/v1/deals/D1", "", "", token)
	if code != http.StatusOK {
		t.Fatalf("GET deal: %d %s", code, body)
	}
	var d api.DealView
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Stage != "target" || d.Responsible != "roman" || d.Amount != 15000 || len(d.Tasks) != 2 || len(d.Calls) != 1 ||
		len(d.Notes) != 1 || d.Contact == nil || d.Contact.Phones[0] != "+79123456789" || d.Calls[0].Phone != "+79123456789" {
		t.Errorf("deal view = %s", body)
	}
}

func TestIngestNDJSONKeepsValidLines(t *testing.T) {
	srv := newServer(t, 0)
	nd := strings.Join([]string{
		`{"id":"n1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales"}}`,
		`{"id":"n2","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D2","pipeline":"sales"`, // cut off
		``,
		`{"id":"n3","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D3","pipeline":"sales","amount":"дорого"}}`,
		`{"id":"n4","type":"deal.stage_changed","at":"2026-11-02T11:00:00+03:00","deal_id":"D1","to_stage":"warmup/new"}`,
	}, "\n")
	r := post(t, srv, "application/x-ndjson", nd)
	if r.Accepted != 2 || r.Rejected != 2 {
		t.Fatalf("response = %+v, want 2 accepted and 2 rejected", r)
	}
	if r.Errors[0].Index != 1 || r.Errors[0].ID != "n2" || !strings.Contains(r.Errors[0].Reason, "malformed JSON") {
		t.Errorf("first rejection = %+v", r.Errors[0])
	}
	if r.Errors[1].Index != 2 || r.Errors[1].ID != "n3" || !strings.Contains(r.Errors[1].Reason, "wrong type: deal.amount") {
		t.Errorf("second rejection = %+v", r.Errors[1])
	}
	code, body := do(t, srv, "GET", "/api/v1/deals/D1", "", "", token)
	if code != http.StatusOK || !strings.Contains(string(body), `"pipeline":"warmup"`) {
		t.Errorf("D1 after a move across pipelines: %d %s", code, body)
	}
}

func TestIngestBadBodies(t *testing.T) {
	srv := newServer(t, 4096)
	cases := []struct {
		name, ct, body string
		code           int
		want           string
	}{
		{"broken array", "application/json", `[{"id":"x"},`, 400, "malformed JSON array"},
		{"not JSON", "application/json", `hello`, 400, "JSON array"},
		{"empty", "application/json", ``, 400, "empty body"},
		{"empty array", "application/json", `[]`, 400, "empty batch"},
		{"too large", "application/json", "[" + strings.Repeat(`{"id":"x","type":"deal.deleted"},`, 200) + "{}]", 413, "smaller batches"},
	}
	for _, c := range cases {
		code, body := do(t, srv, "POST", "/api/v1/events", c.ct, c.body, token)
		if code != c.code || !strings.Contains(string(body), c.want) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, code, body, c.code, c.want)
		}
	}
	// A single object is a batch of one.
	r := post(t, srv, "application/json", `{"id":"s1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales"}}`)
	if r.Accepted != 1 {
		t.Errorf("single object: %+v", r)
	}
}

func TestReadTasksAndPages(t *testing.T) {
	srv := newServer(t, 0)
	post(t, srv, "application/json", batch)
	var lines []string
	for i := range 5 {
		lines = append(lines, fmt.Sprintf(`{"id":"t%d","type":"task.created","at":"2026-11-02T11:0%d:00+03:00","task":{"id":"X%d","deal_id":"D1","assignee":"olga","due":"2026-11-03T1%d:00:00+03:00"}}`, i, i, i, i))
	}
	post(t, srv, "application/x-ndjson", strings.Join(lines, "\n"))

	get := func(path string) api.Page[map[string]any] {
		t.Helper()
		code, body := do(t, srv, "GET", path, "", "", token)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		var p api.Page[map[string]any]
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := get("/api/v1/tasks?assignee=olga&limit=2")
	if len(p.Items) != 2 || p.Items[0]["id"] != "X0" || p.NextOffset == nil || *p.NextOffset != 2 {
		t.Fatalf("first page = %+v", p)
	}
	p = get("/api/v1/tasks?assignee=olga&limit=2&offset=4")
	if len(p.Items) != 1 || p.Items[0]["id"] != "X4" || p.NextOffset != nil {
		t.Errorf("last page = %+v", p)
	}
	open := get("/api/v1/tasks?deal_id=D1&open=true&limit=100")
	if len(open.Items) != 6 { // T2 and X0..X4; T1 is completed
		t.Errorf("open tasks of D1 = %d, want 6", len(open.Items))
	}
	done := get("/api/v1/tasks?deal_id=D1&open=false")
	if len(done.Items) != 1 || done.Items[0]["id"] != "T1" || done.Items[0]["result"] != "Контакт получен" {
		t.Errorf("completed tasks = %+v", done.Items)
	}
	deals := get("/api/v1/deals?pipeline=sales&status=open")
	if len(deals.Items) != 1 || deals.Items[0]["id"] != "D1" {
		t.Errorf("open deals = %+v", deals.Items)
	}
	for path, want := range map[string]int{
		"/api/v1/deals/NOPE":         404,
		"/api/v1/tasks?open=perhaps": 400,
		"/api/v1/tasks?limit=0":      400,
		"/api/v1/tasks?limit=100000": 400,
	} {
		if code, body := do(t, srv, "GET", path, "", "", token); code != want {
			t.Errorf("GET %s = %d %s, want %d", path, code, body, want)
		}
	}
}

func FuzzSplitBatch(f *testing.F) {
	f.Add([]byte(batch), "application/json")
	f.Add([]byte("{\"id\":\"a\"}\n{\"id\":\"b\"}\n"), "application/x-ndjson")
	f.Add([]byte(`{"id":"a"} {"id":"b"}`), "")
	f.Add([]byte(`[`), "application/json")
	for _, body := range arraysToSplit {
		f.Add([]byte(body), "application/json")
	}
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		raws, err := api.SplitBatch(body, ct)
		if err == nil && len(raws) == 0 {
			t.Fatal("no error and no events")
		}
		checkSplitAsUnmarshal(t, body, ct, raws, err)
	})
}

// arraysToSplit are JSON arrays whose elements hide brackets, commas and
// quotes in strings, nest, and sit in white space.
var arraysToSplit = []string{
	`[{"id":"a"},{"id":"b"}]`,
	" \n[ {\"id\" : \"a,]}\" } ,\t{\"id\":\"b\\\"],[{\"}\r\n, 7 ,\"x\", null ,[1,[2,{}]], true ,{} ]\n",
	`[{"id":"\\","deal":{"fields":{"a":[1,2,{"b":"]"}],"c":"\\\"{"}}}}]`,
	`[{"id":"ü€😀","text":"\u0022]"}]`,
	`[ ]`,
	`[1]`,
	`["a"]`,
}

// checkSplitAsUnmarshal holds SplitBatch on a JSON array to what
// json.Unmarshal into []json.RawMessage gives.
func checkSplitAsUnmarshal(t *testing.T, body []byte, ct string, raws []json.RawMessage, err error) {
	t.Helper()
	trimmed := bytes.TrimSpace(body)
	if strings.Contains(strings.ToLower(ct), "json-seq") || strings.Contains(strings.ToLower(ct), "ndjson") ||
		strings.Contains(strings.ToLower(ct), "jsonlines") || len(trimmed) == 0 || trimmed[0] != '[' {
		return
	}
	var want []json.RawMessage
	werr := json.Unmarshal(trimmed, &want)
	if (werr == nil && len(want) > 0) != (err == nil) {
		t.Fatalf("%q: split error %v, unmarshal %d elements, error %v", body, err, len(want), werr)
	}
	if err != nil {
		return
	}
	if len(raws) != len(want) {
		t.Fatalf("%q: split %d elements, unmarshal %d", body, len(raws), len(want))
	}
	for i := range raws {
		if !bytes.Equal(raws[i], want[i]) {
			t.Errorf("%q: element %d split %q, unmarshal %q", body, i, raws[i], want[i])
		}
	}
}

// A JSON array is split into exactly the elements json.Unmarshal finds.
func TestSplitBatchAsUnmarshal(t *testing.T) {
	for _, body := range arraysToSplit {
		raws, err := api.SplitBatch([]byte(body), "application/json")
		checkSplitAsUnmarshal(t, []byte(body), "application/json", raws, err)
	}
}

// BenchmarkSplitBatch splits a request of 1,000 events, the size the
// ingest benchmarks post.
func BenchmarkSplitBatch(b *testing.B) {
	var body bytes.Buffer
	body.WriteString("[")
	for i := range 1000 {
		if i > 0 {
			body.WriteString(",")
		}
		fmt.Fprintf(&body, `{"id":"e%d","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D%d","pipeline":"sales","stage":"target","responsible":"roman","amount":1500,"source":"avito","contact":{"name":"Иван","phone":"+79031234567"},"fields":{"city":"Казань"}}}`, i, i)
	}
	body.WriteString("]")
	b.SetBytes(int64(body.Len()))
	for b.Loop() {
		if _, err := api.SplitBatch(body.Bytes(), "application/json"); err != nil {
			b.Fatal(err)
		}
	}
}
