package handlers

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/eval"
	"rustexpert/store"
)

// xssAnswer is a Markdown answer carrying HTML and script payloads around a Rust block.
const xssAnswer = "Here it is:\n\n<script>alert('page')</script>\n<img src=x onerror=alert(1)>\n[click](javascript:alert(2))\n\n" +
	"```rust\nfn main() { let s = \"</div><script>alert(3)</script>\"; println!(\"{s}\"); }\n```\n"

// storeEvalRun stores a finished run with its results and the summary the harness would write.
func storeEvalRun(t *testing.T, app *testApp, model, bench string, n int, results []store.EvalResult) int64 {
	t.Helper()
	ctx := t.Context()
	run, err := app.store.CreateEvalRun(ctx, store.EvalRunInput{Model: model, Bench: bench, Format: "multipl-e", N: n})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if err := app.store.SaveEvalResult(ctx, run.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	summary, _ := json.Marshal(eval.Summarize(sampleResults(results)))
	if err := app.store.FinishEvalRun(ctx, run.ID, store.EvalDone, string(summary), ""); err != nil {
		t.Fatal(err)
	}
	return run.ID
}

// seedEvalRuns stores run A (v1: one pass, one compile error, one failed test with a hostile answer),
// run B (v2, two samples a problem, no answer to xss) and run C on another bench.
func seedEvalRuns(t *testing.T, app *testApp) (a, b, c int64) {
	t.Helper()
	a = storeEvalRun(t, app, "v1", "sample", 1, []store.EvalResult{
		{Problem: "add", Status: "ok", Compiled: true, Passed: true, Lints: 2, Completion: "    a + b\n}\n"},
		{Problem: "div", Status: "compile_error", Lints: -1, Detail: "error[E0308]: mismatched types <b>bold</b>", Completion: "    a / \"b\"\n}\n"},
		{Problem: "xss", Status: "test_failed", Compiled: true, Lints: 0, Completion: xssAnswer},
	})
	b = storeEvalRun(t, app, "v2", "sample", 2, []store.EvalResult{
		{Problem: "add", Sample: 0, Status: "ok", Compiled: true, Passed: true, Lints: 0, Completion: "    b + a\n}\n"},
		{Problem: "add", Sample: 1, Status: "compile_error", Lints: -1, Detail: "error: expected expression", Completion: "    +\n}\n"},
		{Problem: "div", Sample: 0, Status: "ok", Compiled: true, Passed: true, Lints: 1, Completion: "    a / b\n}\n"},
		{Problem: "div", Sample: 1, Status: "ok", Compiled: true, Passed: true, Lints: 3, Completion: "    a.div(b)\n}\n"},
	})
	c = storeEvalRun(t, app, "v1", "other", 1, []store.EvalResult{
		{Problem: "add", Status: "ok", Compiled: true, Passed: true, Lints: 0, Completion: "a + b"},
	})
	return a, b, c
}

// seedArena stores two counted votes for v1 over v2.
func seedArena(t *testing.T, app *testApp) { seedArenaVotes(t, app.store, 2) }

// seedArenaVotes stores n counted votes for v1 over v2.
func seedArenaVotes(t *testing.T, st *store.Store, n int) {
	t.Helper()
	ctx := t.Context()
	u, err := st.CreateUser(ctx, "voter", "password123", store.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		b, err := st.CreateArenaBattle(ctx, store.ArenaBattleInput{UserID: u.ID, Question: "What is a borrow?", Models: [2]string{"v1", "v2"}})
		if err != nil {
			t.Fatal(err)
		}
		for side := range 2 {
			if err := st.AnswerArena(ctx, b.ID, side, store.ArenaAnswer{Text: "answer", Finish: "stop", Tokens: 1}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.VoteArena(ctx, store.ArenaVoteInput{BattleID: b.ID, UserID: u.ID, Vote: store.ArenaVoteA}); err != nil {
			t.Fatal(err)
		}
	}
}

func cellTexts(s *goquery.Selection) []string {
	var out []string
	s.Find("td").Each(func(_ int, td *goquery.Selection) { out = append(out, strings.TrimSpace(td.Text())) })
	return out
}

func summaryRows(doc *goquery.Document) [][]string {
	var rows [][]string
	testid(doc, "eval-summary-row").Each(func(_ int, tr *goquery.Selection) { rows = append(rows, cellTexts(tr)) })
	return rows
}

// checkNoActiveContent fails when the page has a script other than the app's own files, an inline
// handler, a style attribute or a javascript: link.
func checkNoActiveContent(t *testing.T, doc *goquery.Document, allowScripts bool) {
	t.Helper()
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		src, ok := s.Attr("src")
		if !allowScripts || !ok || !strings.HasPrefix(src, "/static/") {
			t.Errorf("unexpected script: src %q, text %q", src, s.Text())
		}
	})
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, attr := range s.Nodes[0].Attr {
			if strings.HasPrefix(attr.Key, "on") || attr.Key == "style" || strings.Contains(strings.ToLower(attr.Val), "javascript:") {
				t.Errorf("unexpected attribute %s=%q on <%s>", attr.Key, attr.Val, s.Nodes[0].Data)
			}
		}
	})
	if n := doc.Find("img").Length(); n != 0 {
		t.Errorf("%d images from answers", n)
	}
}

func TestEvalPageComparesRuns(t *testing.T) {
	app := newTestApp(t)
	a, b, c := seedEvalRuns(t, app)
	seedArena(t, app)
	cl := app.login("ada", store.RoleViewer)

	doc := cl.page("/eval")
	if n := testid(doc, "eval-run").Length(); n != 3 {
		t.Fatalf("runs listed: %d, want 3", n)
	}
	row := doc.Find(fmt.Sprintf(`[data-testid="eval-run"][data-id="%d"]`, a))
	if got := strings.TrimSpace(testid(doc, "eval-run-pass1").Eq(2).Text()); got != "0.333" || !strings.Contains(row.Text(), "ok 1 · compile_error 1 · test_failed 1") {
		t.Errorf("run A in the list: pass@1 %q, row %q", got, row.Text())
	}
	if testid(doc, "eval-report").Length() != 0 {
		t.Error("a report without a choice")
	}

	query := fmt.Sprintf("run=%d&run=%d", a, b)
	doc = cl.page("/eval?" + query)
	if p := testid(doc, "eval-problem").Text(); p != "" {
		t.Fatalf("problem: %s", p)
	}
	rows := summaryRows(doc)
	if len(rows) != 2 {
		t.Fatalf("summary rows: %v", rows)
	}
	wantA := []string{fmt.Sprintf("#%d", a), "v1", "3", "3", "0.333", "0.667", "1.00", "ok 1 · compile_error 1 · test_failed 1"}
	wantB := []string{fmt.Sprintf("#%d", b), "v2", "2", "4", "0.750", "0.750", "1.33", "ok 3 · compile_error 1"}
	if !slices.Equal(rows[0][:8], wantA) || !slices.Equal(rows[1][:8], wantB) {
		t.Errorf("summary:\n got %v\n     %v\nwant %v\n     %v", rows[0], rows[1], wantA, wantB)
	}
	r1, err1 := strconv.Atoi(rows[0][8])
	r2, err2 := strconv.Atoi(rows[1][8])
	if err1 != nil || err2 != nil || r1 <= 1000 || r2 >= 1000 || math.Abs(float64(r1+r2-2000)) > 1 {
		t.Errorf("arena ratings v1 %q, v2 %q: want v1 above 1000, v2 below, mean 1000", rows[0][8], rows[1][8])
	}

	chart := testid(doc, "eval-chart")
	if bars := chart.Find("rect.bar"); bars.Length() != 6 { // 2 legend swatches + 2 runs × 2 series
		t.Errorf("chart bars: %d", bars.Length())
	}
	if w, _ := chart.Find("rect.bar").Eq(2).Attr("width"); w != "120.0" { // run A's pass@1, 1/3 of 360
		t.Errorf("run A's pass@1 bar width %q, want 120.0", w)
	}

	problems := testid(doc, "eval-row")
	var names []string
	problems.Each(func(_ int, s *goquery.Selection) { names = append(names, s.AttrOr("data-name", "")) })
	if !slices.Equal(names, []string{"add", "div", "xss"}) {
		t.Fatalf("rows %v", names)
	}
	states := func(i int) []string {
		var out []string
		problems.Eq(i).Find(`[data-testid="eval-badge"]`).Each(func(_ int, s *goquery.Selection) { out = append(out, s.AttrOr("data-state", "")) })
		return out
	}
	if got := states(0); !slices.Equal(got, []string{"ok", "ok"}) {
		t.Errorf("add badges %v", got)
	}
	if got := states(1); !slices.Equal(got, []string{"compile_error", "ok"}) {
		t.Errorf("div badges %v", got)
	}
	if got := states(2); !slices.Equal(got, []string{"test_failed", "missing"}) {
		t.Errorf("xss badges %v", got)
	}
	if got := strings.TrimSpace(problems.Eq(0).Find(`[data-testid="eval-badge"]`).First().Text()); got != "passed ✓ · 2 lints" {
		t.Errorf("add badge of A: %q", got)
	}
	detail := problems.Eq(1).Find(`[data-testid="eval-detail"]`)
	if detail.Text() != "error[E0308]: mismatched types <b>bold</b>" || detail.Find("b").Length() != 0 {
		t.Errorf("first error shown as %q (elements inside: %d)", detail.Text(), detail.Children().Length())
	}
	addCode := problems.Eq(0).Find(`[data-testid="eval-answer"]`).First()
	if addCode.Find(".chroma").Length() == 0 || !strings.Contains(addCode.Text(), "a + b") {
		t.Errorf("bare completion not shown as highlighted Rust: %q", addCode.Text())
	}
	xss := problems.Eq(2).Find(`[data-testid="eval-answer"]`)
	if !strings.Contains(xss.Text(), "Here it is:") || !strings.Contains(xss.Text(), `"</div><script>alert(3)</script>"`) {
		t.Errorf("hostile answer's text and code not shown: %q", xss.Text())
	}
	checkNoActiveContent(t, doc, true)

	if href, _ := testid(doc, "eval-export-md").Attr("href"); href != "/eval/report.md?"+query {
		t.Errorf("markdown export link %q", href)
	}

	doc = cl.page(fmt.Sprintf("/eval?run=%d&run=%d", a, c))
	if p := testid(doc, "eval-problem").Text(); !strings.Contains(p, "same bench") || testid(doc, "eval-report").Length() != 0 {
		t.Errorf("runs of two benches: problem %q", p)
	}
	doc = cl.page(fmt.Sprintf("/eval?run=%d", a))
	if p := testid(doc, "eval-problem").Text(); !strings.Contains(p, "choose 2 to 4 eval runs") {
		t.Errorf("one run: problem %q", p)
	}
	doc = cl.page("/eval?run=x")
	if p := testid(doc, "eval-problem").Text(); !strings.Contains(p, `run id "x"`) {
		t.Errorf("bad id: problem %q", p)
	}
}

func download(t *testing.T, cl *client, path, wantType string) string {
	t.Helper()
	res := cl.get(path)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
		t.Errorf("GET %s: content type %q", path, ct)
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("GET %s: content disposition %q", path, cd)
	}
	return string(body)
}

func TestEvalReportExports(t *testing.T) {
	app := newTestApp(t)
	a, b, _ := seedEvalRuns(t, app)
	cl := app.login("ada", store.RoleViewer)
	query := fmt.Sprintf("run=%d&run=%d", a, b)

	md := download(t, cl, "/eval/report.md?"+query, "text/markdown")
	for _, want := range []string{
		"# Bench sample (multipl-e)\n",
		"| Run | Model | Problems | Samples | pass@1 | Compile rate | Lints/answer | Statuses | Arena rating |\n",
		fmt.Sprintf("| #%d | v1 | 3 | 3 | 0.333 | 0.667 | 1.00 | ok 1 · compile\\_error 1 · test\\_failed 1 | — |\n", a),
		fmt.Sprintf("| #%d | v2 | 2 | 4 | 0.750 | 0.750 | 1.33 | ok 3 · compile\\_error 1 | — |\n", b),
		fmt.Sprintf("| #%d v1 | ███████░░░░░░░░░░░░░ 0.333 | █████████████░░░░░░░ 0.667 |\n", a),
		"### add\n",
		fmt.Sprintf("**#%d v1**: passed ✓ · 2 lints\n\n```rust\n    a + b\n}\n```\n", a),
		"```text\nerror[E0308]: mismatched types <b>bold</b>\n```\n",
		"````markdown\n" + xssAnswer + "````\n", // the answer's own fence needs a longer one around it
		fmt.Sprintf("**#%d v2**: no answer\n", b),
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	if outside := outsideFences(md); strings.Contains(outside, "<script") || strings.Contains(outside, "<b>") {
		t.Errorf("HTML outside code fences:\n%s", outside)
	}

	page := download(t, cl, "/eval/report.html?"+query, "text/html")
	doc := parseBody(t, page)
	if style := doc.Find("head style").Text(); !strings.Contains(style, ".eval-chart .bar.s0") || !strings.Contains(style, ".chroma") {
		t.Error("report.html does not carry the stylesheets inline")
	}
	if doc.Find(`link, script, form, nav`).Length() != 0 || strings.Contains(page, "/static/") {
		t.Error("report.html is not standalone: it links assets, runs scripts or has forms")
	}
	rows := summaryRows(doc)
	if len(rows) != 2 || rows[0][4] != "0.333" || rows[1][5] != "0.750" || testid(doc, "eval-row").Length() != 3 {
		t.Errorf("report.html summary %v, rows %d", rows, testid(doc, "eval-row").Length())
	}
	checkNoActiveContent(t, doc, false)

	if res := cl.get(fmt.Sprintf("/eval/report.md?run=%d", a)); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("export of one run: status %d", res.StatusCode)
	}
	if res := cl.get("/eval/report.html?run=999&run=998"); res.StatusCode != http.StatusNotFound {
		t.Errorf("export of unknown runs: status %d", res.StatusCode)
	}
}

// outsideFences drops the fenced blocks of a Markdown text (fences of 3 or more backticks, closed by
// one at least as long).
func outsideFences(md string) string {
	var b strings.Builder
	fence := ""
	for line := range strings.Lines(md) {
		ticks := len(line) - len(strings.TrimLeft(line, "`"))
		switch {
		case fence == "" && ticks >= 3:
			fence = line[:ticks]
		case fence != "" && ticks >= len(fence) && strings.TrimSpace(line[ticks:]) == "":
			fence = ""
		case fence == "":
			b.WriteString(line)
		}
	}
	return b.String()
}

// seedJobs stores two jobs (v1, v2) that answered the same two prompts, one held out, with checks.
func seedJobs(t *testing.T, app *testApp) (j1, j2 int64) {
	t.Helper()
	ctx := t.Context()
	train, err := app.store.CreatePrompt(ctx, store.PromptInput{Text: "Why does `v` move here?", Category: "ownership"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	held, err := app.store.CreatePrompt(ctx, store.PromptInput{Text: "Write fn add <script>x</script>", Category: "basics", Split: store.SplitHeldout}, 0)
	if err != nil {
		t.Fatal(err)
	}
	params := []store.Sampling{{Temperature: 0.2, TopP: 0.95, MaxTokens: 100}}
	texts := map[string][2]string{
		"v1": {"```rust\nfn main() { let v = vec![1]; let w = v; println!(\"{v:?}\"); }\n```", "```rust\nfn add(a: i32, b: i32) -> i32 { a + b }\n```"},
		"v2": {"It moves because Vec is not Copy.", "```rust\nfn add(a: i32, b: i32) -> i32 { return a + b; }\n```"},
	}
	var ids []int64
	for _, name := range []string{"v1", "v2"} {
		m, err := app.store.CreateModel(ctx, store.ModelInput{Name: name, Endpoint: "http://127.0.0.1:1/v1"})
		if err != nil {
			t.Fatal(err)
		}
		job, err := app.store.CreateJob(ctx, store.NewJob{ModelID: m.ID, Filter: store.PromptFilter{}, Params: params})
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range []store.Prompt{train, held} {
			if err := app.store.SaveResponse(ctx, store.Response{PromptID: p.ID, ModelID: m.ID, JobID: job.ID, Params: params[0], Text: texts[name][i]}); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, job.ID)
	}
	checks := map[int64][2]store.Check{
		ids[0]: {{HasCode: true, FirstError: "E0382: borrow of moved value: `v`", Lints: -1}, {HasCode: true, Compiles: true, Lints: 0}},
		ids[1]: {{Lints: -1}, {HasCode: true, Compiles: true, Lints: 1}},
	}
	for _, id := range ids {
		for i, p := range []store.Prompt{train, held} {
			rs, err := app.store.ItemResponses(ctx, id, p.ID)
			if err != nil || len(rs) != 1 {
				t.Fatalf("answers of job %d to prompt %d: %v, %v", id, p.ID, rs, err)
			}
			c := checks[id][i]
			c.ResponseID = rs[0].ID
			if err := app.store.SaveCheck(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ids[0], ids[1]
}

func TestEvalPageComparesJobs(t *testing.T) {
	app := newTestApp(t)
	j1, j2 := seedJobs(t, app)
	cl := app.login("ada", store.RoleViewer)

	doc := cl.page("/eval?mode=jobs")
	if n := testid(doc, "eval-job").Length(); n != 2 {
		t.Fatalf("jobs listed: %d", n)
	}
	query := fmt.Sprintf("mode=jobs&job=%d&job=%d", j1, j2)
	doc = cl.page("/eval?" + query)
	if p := testid(doc, "eval-problem").Text(); p != "" {
		t.Fatalf("problem: %s", p)
	}
	rows := summaryRows(doc)
	want := [][]string{
		{fmt.Sprintf("#%d", j1), "v1", "2", "2", "2", "1.000", "0.500", "0.00", "—"},
		{fmt.Sprintf("#%d", j2), "v2", "2", "2", "2", "0.500", "1.000", "1.00", "—"},
	}
	if len(rows) != 2 || !slices.Equal(rows[0], want[0]) || !slices.Equal(rows[1], want[1]) {
		t.Errorf("summary:\n got %v\nwant %v", rows, want)
	}
	prompts := testid(doc, "eval-row")
	if prompts.Length() != 2 {
		t.Fatalf("prompt rows: %d", prompts.Length())
	}
	var states []string
	testid(doc, "eval-badge").Each(func(_ int, s *goquery.Selection) { states = append(states, s.AttrOr("data-state", "")) })
	if !slices.Equal(states, []string{"fails", "no-code", "compiles", "compiles"}) {
		t.Errorf("badges %v", states)
	}
	if got := prompts.Eq(1).Find("pre.eval-prompt").Text(); got != "Write fn add <script>x</script>" {
		t.Errorf("held-out prompt shown as %q", got)
	}
	if !strings.Contains(prompts.Eq(1).Find("h3").Text(), "held-out") || strings.Contains(prompts.Eq(0).Find("h3").Text(), "held-out") {
		t.Error("held-out mark on the wrong prompt")
	}
	checkNoActiveContent(t, doc, true)

	doc = cl.page("/eval?" + query + "&heldout=1")
	if n := testid(doc, "eval-row").Length(); n != 1 || !strings.Contains(testid(doc, "eval-report").Find("h2").First().Text(), "1 shared held-out prompts") {
		t.Errorf("held-out only: %d rows, title %q", n, testid(doc, "eval-report").Find("h2").First().Text())
	}
	md := download(t, cl, "/eval/report.md?"+query+"&heldout=1", "text/markdown")
	if !strings.Contains(md, "```text\nWrite fn add <script>x</script>\n```") || !strings.Contains(md, fmt.Sprintf("**#%d v2**: compiles ✓ · 1 lint\n", j2)) {
		t.Errorf("jobs report.md:\n%s", md)
	}
	doc = cl.page(fmt.Sprintf("/eval?mode=jobs&job=%d&job=%d&job=%d&job=%d", j1, j2, j1+10, j1+11))
	if p := testid(doc, "eval-problem").Text(); !strings.Contains(p, "choose 2 to 3 generation jobs") {
		t.Errorf("four jobs: problem %q", p)
	}
}
