package handlers

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/generation"
	"rustexpert/live"
	"rustexpert/render"
	"rustexpert/store"
)

// Hostile text that the shared pages must show as text.
const (
	shareHostileQuestion = `Why <img src=x onerror=alert(1)> and <script>alert(2)</script>?`
	shareHostileAnswer   = "Use `Rc<RefCell<T>>`.\n\n<script>alert(3)</script><img src=x onerror=alert(4)>"
	shareHostileError    = `worker failed: <b>boom</b><script>alert(5)</script>`
)

// seedRun stores a finished (failed) run with two metrics; its run.json names a private path.
func seedRun(t *testing.T, app *testApp) store.Run {
	t.Helper()
	ctx := t.Context()
	run, err := app.store.CreateRun(ctx, store.RunInput{Kind: store.RunSFT, Name: "v1"}, func(id int64) (string, string, error) {
		return `{"model": "/srv/private/base.gguf"}`, "/srv/private/runs/" + strconv.FormatInt(id, 10), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := app.store.ClaimRun(ctx, run.ID); err != nil || !ok {
		t.Fatalf("claim run: %v, %v", ok, err)
	}
	if err := app.store.AddRunMetrics(ctx, run.ID, []store.MetricPoint{{Name: "loss", Step: 1, Value: 0.69}, {Name: "loss", Step: 2, Value: 0.5},
		{Name: "loss", Step: 3, Value: 0.41}, {Name: "grad_norm", Step: 1, Value: 1.5}, {Name: "grad_norm", Step: 3, Value: 1.2}}); err != nil {
		t.Fatal(err)
	}
	if err := app.store.FinishRun(ctx, run.ID, store.RunEnd{Status: store.RunFailed, Error: shareHostileError, Step: 3}); err != nil {
		t.Fatal(err)
	}
	return run
}

// shareApp is an app with a chat of ada (admin), two eval runs of one bench, two arena votes and a
// failed run, each with hostile text.
type shareApp struct {
	*apiApp
	ada        *client
	chatID     int64
	evalQuery  string
	run        store.Run
	leaderCats []string
}

func newShareApp(t *testing.T) *shareApp {
	t.Helper()
	app, v1 := newScriptedChatApp(t, shareHostileAnswer)
	a := &shareApp{apiApp: app, ada: app.login("ada", store.RoleAdmin)}
	a.chatID = startChat(t, a.ada, shareHostileQuestion, 16, v1, v1)
	for col := range 2 {
		readColumnStream(t, a.ada.get(fmt.Sprintf("/chat/%d/stream/%d", a.chatID, col)))
	}
	runA, runB, _ := seedEvalRuns(t, app.testApp)
	a.evalQuery = fmt.Sprintf("run=%d&run=%d", runA, runB)
	seedArena(t, app.testApp)
	a.run = seedRun(t, app.testApp)
	return a
}

// share makes a link the way the page's share box does (HTMX) and returns its address.
func (a *shareApp) share(c *client, kind, target, expires string) string {
	a.t.Helper()
	res := c.htmx(http.MethodPost, "/shares", url.Values{"kind": {kind}, "target": {target}, "expires": {expires}})
	if res.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(res.Body)
		a.t.Fatalf("share %s %q: status %d: %s", kind, target, res.StatusCode, b)
	}
	doc := parse(a.t, res)
	links := testid(doc, "share-link")
	if links.Length() == 0 {
		a.t.Fatalf("share %s %q: the answer lists no link: %s", kind, target, doc.Text())
	}
	href, _ := links.First().Attr("href")
	return href
}

// checkReadOnly fails when a shared page has a form or a control, a script other than the app's
// static files (or the run page's live updates), a link into the app, or the nav of a session.
func checkReadOnly(t *testing.T, doc *goquery.Document, where string) {
	t.Helper()
	if n := doc.Find("form, input, textarea, select, button, [hx-post], [hx-get], [hx-put], [hx-delete], [hx-patch]").Length(); n != 0 {
		html, _ := doc.Find("main").Html()
		t.Errorf("%s: %d forms or controls on a read-only page: %s", where, n, html)
	}
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if src, _ := s.Attr("src"); strings.Contains(src, "runs.js") || strings.Contains(src, "uPlot") {
			t.Errorf("%s: the live run script %q on a shared page", where, src)
		}
	})
	doc.Find("a[href]").Each(func(_ int, s *goquery.Selection) {
		href, _ := s.Attr("href")
		if strings.HasPrefix(href, "/") && href != "/" {
			t.Errorf("%s: link into the app %q (%s)", where, href, s.Text())
		}
	})
	if doc.Find("header nav, [data-testid=whoami]").Length() != 0 {
		t.Errorf("%s: a session's nav on a shared page", where)
	}
	checkNoActiveContent(t, doc, true)
}

func TestShareLinksOfEveryKindShowReadOnlyPages(t *testing.T) {
	a := newShareApp(t)
	stranger := a.newClient()
	cases := []struct {
		kind, target, expires string
		check                 func(t *testing.T, doc *goquery.Document)
	}{
		{store.ShareChat, strconv.FormatInt(a.chatID, 10), "30d", func(t *testing.T, doc *goquery.Document) {
			if q := testid(doc, "chat-question").Text(); q != shareHostileQuestion {
				t.Errorf("question %q, want the text as typed", q)
			}
			if n := testid(doc, "chat-answer").Length(); n != 2 {
				t.Errorf("%d answers, want 2", n)
			}
			if code := testid(doc, "chat-answer").First().Find("code").Text(); code != "Rc<RefCell<T>>" {
				t.Errorf("answer code %q", code)
			}
		}},
		{store.ShareRun, strconv.FormatInt(a.run.ID, 10), "1d", func(t *testing.T, doc *goquery.Document) {
			if e := testid(doc, "run-error").Text(); e != shareHostileError {
				t.Errorf("run error %q, want the text as stored", e)
			}
			var metrics []string
			testid(doc, "run-static-chart").Each(func(_ int, s *goquery.Selection) {
				name, _ := s.Attr("data-metric")
				points, _ := s.Find("polyline").Attr("points")
				metrics = append(metrics, fmt.Sprintf("%s:%d", name, len(strings.Fields(points))))
			})
			if got := strings.Join(metrics, " "); got != "grad_norm:2 loss:3" {
				t.Errorf("static charts %q, want grad_norm with 2 points and loss with 3", got)
			}
			html, _ := doc.Html()
			if strings.Contains(html, "/srv/private") || testid(doc, "run-log").Length() != 0 || strings.Contains(html, "/ws/runs/") {
				t.Errorf("the shared run page shows its run.json, log or websocket")
			}
			if testid(doc, "run-status").Text() != store.RunFailed {
				t.Errorf("status %q", testid(doc, "run-status").Text())
			}
		}},
		{store.ShareLeaderboard, "", "7d", func(t *testing.T, doc *goquery.Document) {
			var models []string
			testid(doc, "arena-row-model").Each(func(_ int, s *goquery.Selection) { models = append(models, s.Text()) })
			if strings.Join(models, ",") != "v1,v2" || testid(doc, "arena-win-matrix").Length() != 1 {
				t.Errorf("leaderboard rows %v", models)
			}
			if !strings.Contains(testid(doc, "read-only").Text(), "Category: all") {
				t.Errorf("read-only note %q", testid(doc, "read-only").Text())
			}
		}},
		{store.ShareEvalReport, a.evalQuery, "never", func(t *testing.T, doc *goquery.Document) {
			if rows := summaryRows(doc); len(rows) != 2 || rows[0][1] != "v1" || rows[1][1] != "v2" {
				t.Errorf("summary rows %v", rows)
			}
			if n := testid(doc, "eval-row").Length(); n != 3 {
				t.Errorf("%d problem rows, want 3", n)
			}
			if testid(doc, "eval-chart").Length() != 1 {
				t.Errorf("no chart")
			}
		}},
	}
	pages := map[string]string{store.ShareChat: fmt.Sprintf("/chat/%d", a.chatID), store.ShareRun: fmt.Sprintf("/runs/%d", a.run.ID),
		store.ShareLeaderboard: "/arena/leaderboard", store.ShareEvalReport: "/eval?" + a.evalQuery}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			// The page itself has the share box for its target.
			box := testid(a.ada.page(pages[c.kind]), "share-box")
			kind, _ := box.Attr("data-kind")
			target, _ := box.Find(`input[name="target"]`).Attr("value")
			if box.Length() != 1 || kind != c.kind || target != c.target || box.Find(`select[name="expires"] option`).Length() != 4 {
				t.Fatalf("share box of %s: %d boxes, kind %q, target %q", pages[c.kind], box.Length(), kind, target)
			}
			link := a.share(a.ada, c.kind, c.target, c.expires)
			wantPrefix := "/s/"
			if c.kind == store.ShareChat {
				wantPrefix = "/share/chat/"
			}
			if !strings.HasPrefix(link, wantPrefix) {
				t.Fatalf("link %q, want %s…", link, wantPrefix)
			}
			res := stranger.get(link)
			if res.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(res.Body)
				t.Fatalf("GET %s without login: status %d: %s", link, res.StatusCode, b)
			}
			if !strings.Contains(res.Header.Get("X-Robots-Tag"), "noindex") || res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("headers: X-Robots-Tag %q, Cache-Control %q", res.Header.Get("X-Robots-Tag"), res.Header.Get("Cache-Control"))
			}
			doc := parse(t, res)
			checkReadOnly(t, doc, link)
			c.check(t, doc)
			token := link[strings.LastIndex(link, "/")+1:]
			sh, err := a.store.ShareByToken(t.Context(), token)
			if err != nil || sh.Views != 1 || sh.Kind != c.kind || sh.CreatedByName != "ada" {
				t.Errorf("after one view: %+v, %v", sh, err)
			}
			if c.expires != "never" && (sh.ExpiresAt.Before(time.Now().Add(23*time.Hour)) || sh.ExpiresAt.After(time.Now().Add(31*24*time.Hour))) {
				t.Errorf("expiry %v for %s", sh.ExpiresAt, c.expires)
			}
		})
	}
	// Both address forms serve a chat; other kinds only under /s/.
	list, err := a.store.ListShares(t.Context(), store.ShareFilter{})
	if err != nil || len(list) != 4 {
		t.Fatalf("%d links, %v", len(list), err)
	}
	for _, sh := range list {
		other := "/s/" + sh.Token
		want := http.StatusOK
		if sh.Kind != store.ShareChat {
			other, want = "/share/chat/"+sh.Token, http.StatusNotFound
		}
		if res := stranger.get(other); res.StatusCode != want {
			t.Errorf("%s link at %s: status %d, want %d", sh.Kind, other, res.StatusCode, want)
		}
	}
	// The chat page keeps showing the chat's current link.
	if href, _ := testid(a.ada.page(fmt.Sprintf("/chat/%d", a.chatID)), "share-link").Attr("href"); !strings.HasPrefix(href, "/share/chat/") {
		t.Errorf("chat page link %q", href)
	}
}

func TestShareLinksExpireAndAreRevoked(t *testing.T) {
	a := newShareApp(t)
	ctx := t.Context()
	stranger := a.newClient()
	expiredAt := time.Now().Add(-time.Hour)
	expired, err := a.store.CreateShare(ctx, store.ShareInput{Kind: store.ShareLeaderboard, Title: "secret title",
		CreatedBy: userID(t, a.apiApp, "ada"), ExpiresAt: expiredAt})
	if err != nil {
		t.Fatal(err)
	}
	res := stranger.get("/s/" + expired.Token)
	if res.StatusCode != http.StatusGone {
		t.Fatalf("expired link: status %d, want 410", res.StatusCode)
	}
	doc := parse(t, res)
	gone := testid(doc, "share-gone")
	if state, _ := gone.Attr("data-state"); state != store.ShareExpired || !strings.Contains(gone.Text(), "expired on "+formatJobTime(expiredAt)) {
		t.Errorf("expired page: state %q, text %q", state, gone.Text())
	}
	if strings.Contains(doc.Text(), "secret title") {
		t.Errorf("the 410 page names what the link showed")
	}

	// A plain form makes the link and goes to the link page, which lists it with a revoke button.
	res = a.ada.postForm("/shares", url.Values{"kind": {store.ShareRun}, "target": {strconv.FormatInt(a.run.ID, 10)}, "expires": {"7d"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/shares" {
		t.Fatalf("plain share form: status %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	page := a.ada.page("/shares")
	row := testid(page, "share-row").First()
	link, _ := row.Find(`[data-testid="share-row-link"]`).Attr("href")
	if kind, _ := row.Attr("data-kind"); kind != store.ShareRun || !strings.HasPrefix(link, "/s/") || row.Find(`[data-testid="share-revoke"]`).Length() != 1 {
		t.Fatalf("newest row: kind %q, link %q: %s", kind, link, row.Text())
	}
	if what := strings.TrimSpace(row.Find(`[data-testid="share-what"]`).Text()); what != fmt.Sprintf("Run %d · sft · v1", a.run.ID) {
		t.Errorf("what %q", what)
	}
	if res := stranger.get(link); res.StatusCode != http.StatusOK {
		t.Fatalf("live link: status %d", res.StatusCode)
	}
	id, _ := row.Attr("data-id")
	before := time.Now().Add(-time.Minute)
	if res := a.ada.postForm("/shares/"+id+"/revoke", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: status %d", res.StatusCode)
	}
	res = stranger.get(link)
	if res.StatusCode != http.StatusGone {
		t.Fatalf("revoked link: status %d, want 410", res.StatusCode)
	}
	gone = testid(parse(t, res), "share-gone")
	if state, _ := gone.Attr("data-state"); state != store.ShareRevoked || !strings.Contains(gone.Text(), "revoked on") {
		t.Errorf("revoked page: state %q, text %q", state, gone.Text())
	}
	sh, err := a.store.ShareByToken(ctx, link[len("/s/"):])
	if sh.RevokedAt.Before(before) || sh.RevokedByName != "ada" || sh.Views != 1 {
		t.Errorf("revoked link %+v (%v): one view before, revoked by ada now", sh, err)
	}
	// Revoking again is fine; the row says revoked, with no button.
	if res := a.ada.postForm("/shares/"+id+"/revoke", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("revoke again: status %d", res.StatusCode)
	}
	row = testid(a.ada.page("/shares"), "share-row").First()
	if state, _ := row.Attr("data-state"); state != store.ShareRevoked || row.Find(`[data-testid="share-revoke"]`).Length() != 0 {
		t.Errorf("revoked row: state %q: %s", state, row.Text())
	}

	for _, path := range []string{"/s/nosuchtoken0000000000000000000", "/s/", "/share/chat/" + expired.Token + "x"} {
		if res := stranger.get(path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, res.StatusCode)
		}
	}
}

func TestShareNeedsSightOfTheTargetAndOwnership(t *testing.T) {
	a := newShareApp(t)
	ctx := t.Context()
	bob := a.login("bob", store.RoleViewer)
	chat := strconv.FormatInt(a.chatID, 10)
	for _, c := range []struct {
		form url.Values
		want int
	}{
		{url.Values{"kind": {store.ShareChat}, "target": {chat}}, http.StatusNotFound}, // ada's chat
		{url.Values{"kind": {store.ShareRun}, "target": {"999"}}, http.StatusNotFound},
		{url.Values{"kind": {store.ShareRun}, "target": {"x"}}, http.StatusNotFound},
		{url.Values{"kind": {store.ShareLeaderboard}, "target": {"no-such-category"}}, http.StatusNotFound},
		{url.Values{"kind": {store.ShareEvalReport}, "target": {"run=1"}}, http.StatusUnprocessableEntity},
		{url.Values{"kind": {store.ShareEvalReport}, "target": {"run=x&run=2"}}, http.StatusUnprocessableEntity},
		{url.Values{"kind": {"prompt"}, "target": {"1"}}, http.StatusUnprocessableEntity},
		{url.Values{"kind": {store.ShareLeaderboard}, "expires": {"forever"}}, http.StatusUnprocessableEntity},
	} {
		if res := bob.postForm("/shares", c.form); res.StatusCode != c.want {
			t.Errorf("bob shares %v: status %d, want %d", c.form, res.StatusCode, c.want)
		}
	}
	if res := bob.postForm("/chat/"+chat+"/share", url.Values{}); res.StatusCode != http.StatusNotFound {
		t.Errorf("bob saves ada's chat: status %d, want 404", res.StatusCode)
	}
	if list, _ := a.store.ListShares(ctx, store.ShareFilter{}); len(list) != 0 {
		t.Fatalf("%d links after refused requests", len(list))
	}

	// A viewer shares what a viewer sees, and manages only their own links.
	bobs := a.share(bob, store.ShareLeaderboard, "open", "1d")
	adas := a.share(a.ada, store.ShareRun, strconv.FormatInt(a.run.ID, 10), "never")
	rows := testid(bob.page("/shares"), "share-row")
	if rows.Length() != 1 || !strings.Contains(rows.Text(), bobs) {
		t.Errorf("bob's link page lists %d rows: %s", rows.Length(), rows.Text())
	}
	if rows := testid(a.ada.page("/shares"), "share-row"); rows.Length() != 2 || rows.Find(`[data-testid="share-revoke"]`).Length() != 2 {
		t.Errorf("ada's (admin) link page: %d rows", rows.Length())
	}
	adaLink, err := a.store.ShareByToken(ctx, adas[len("/s/"):])
	if err != nil {
		t.Fatal(err)
	}
	if res := bob.postForm(fmt.Sprintf("/shares/%d/revoke", adaLink.ID), url.Values{}); res.StatusCode != http.StatusNotFound {
		t.Errorf("bob revokes ada's link: status %d, want 404", res.StatusCode)
	}
	if _, err := a.store.ShareByToken(ctx, adaLink.Token); err != nil {
		t.Errorf("ada's link after bob's refused revoke: %v", err)
	}
	// The admin revokes bob's link.
	bobLink, _ := a.store.ShareByToken(ctx, bobs[len("/s/"):])
	if res := a.ada.postForm(fmt.Sprintf("/shares/%d/revoke", bobLink.ID), url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("admin revokes bob's link: status %d", res.StatusCode)
	}
	if res := a.newClient().get(bobs); res.StatusCode != http.StatusGone {
		t.Errorf("bob's link after the admin revoked it: status %d", res.StatusCode)
	}
	// Without login there is no link page and no sharing.
	anon := a.newClient()
	if res := anon.get("/shares"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("link page without login: status %d, want a redirect to log in", res.StatusCode)
	}
	if res := anon.postForm("/shares", url.Values{"kind": {store.ShareLeaderboard}}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("share without login: status %d, want 401", res.StatusCode)
	}
}

func TestSharePostsNeedTheCSRFToken(t *testing.T) {
	a := newShareApp(t)
	ctx := t.Context()
	link := a.share(a.ada, store.ShareLeaderboard, "", "never")
	sh, err := a.store.ShareByToken(ctx, link[len("/s/"):])
	if err != nil {
		t.Fatal(err)
	}
	noToken := &client{app: a.ada.app, http: a.ada.http}
	if res := noToken.postForm("/shares", url.Values{"kind": {store.ShareLeaderboard}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("share without CSRF token: status %d, want 403", res.StatusCode)
	}
	if res := noToken.postForm(fmt.Sprintf("/shares/%d/revoke", sh.ID), url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("revoke without CSRF token: status %d, want 403", res.StatusCode)
	}
	wrong := &client{app: a.ada.app, http: a.ada.http, csrf: "not-the-token"}
	if res := wrong.postForm(fmt.Sprintf("/shares/%d/revoke", sh.ID), url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("revoke with a wrong CSRF token: status %d, want 403", res.StatusCode)
	}
	if list, _ := a.store.ListShares(ctx, store.ShareFilter{}); len(list) != 1 {
		t.Errorf("%d links after refused posts, want 1", len(list))
	}
	if _, err := a.store.ShareByToken(ctx, sh.Token); err != nil {
		t.Errorf("the link after refused revokes: %v", err)
	}
	rows, err := a.store.ListAudit(context.Background(), store.AuditFilter{Action: "share."})
	if err != nil || len(rows) != 1 || rows[0].Action != "share.create" || rows[0].Actor != "ada" {
		t.Errorf("audit rows %+v, %v", rows, err)
	}
}

// benchRustAnswer is a bare Rust answer of about 40 lines, different for every problem and run.
func benchRustAnswer(problem string, run int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "/// Solves %s (attempt of run %d).\npub fn %s(items: &[i64], limit: usize) -> Vec<i64> {\n", problem, run, problem)
	b.WriteString("    let mut seen = std::collections::HashSet::new();\n    let mut out = Vec::with_capacity(items.len());\n")
	for i := range 16 {
		fmt.Fprintf(&b, "    if let Some(&x) = items.get(%d) {\n        if seen.insert(x * %d) && out.len() < limit { out.push(x + %d); }\n", i, run+i, i)
		if i%4 == 3 {
			b.WriteString("    }\n    // keep the order stable: \"sorted\" by insertion\n")
			continue
		}
		b.WriteString("    }\n")
	}
	b.WriteString("    out.sort_unstable();\n    out\n}\n")
	return b.String()
}

// benchCompilerOutput is rustc's output for a failed answer.
func benchCompilerOutput(problem string) string {
	return fmt.Sprintf("error[E0308]: mismatched types\n --> src/lib.rs:7:31\n  |\n7 |         if seen.insert(x * 3) && out.len() < limit { out.push(x + \"1\"); }\n"+
		"  |                                                         ^^^ expected `i64`, found `&str`\n  |\n"+
		"error: aborting due to 1 previous error in %s\n\nFor more information about this error, try `rustc --explain E0308`.\n", problem)
}

// seedBenchEvalRuns stores two finished eval runs over the same problems, each answer passing,
// failing its tests or failing to compile with the compiler's output.
func seedBenchEvalRuns(tb testing.TB, st *store.Store, problems int) (a, b int64) {
	tb.Helper()
	ctx := context.Background()
	var ids [2]int64
	for i, model := range []string{"v1", "v2"} {
		run, err := st.CreateEvalRun(ctx, store.EvalRunInput{Model: model, Bench: "humaneval-rs", Format: "multipl-e", N: 1})
		if err != nil {
			tb.Fatal(err)
		}
		for p := range problems {
			name := fmt.Sprintf("problem_%03d", p)
			r := store.EvalResult{Problem: name, Category: "lists", Status: "ok", Compiled: true, Passed: true, Lints: p % 3,
				Seconds: 0.4, Completion: benchRustAnswer(name, i)}
			switch (p + i) % 5 {
			case 1:
				r.Status, r.Compiled, r.Passed, r.Lints, r.Detail = "compile_error", false, false, -1, benchCompilerOutput(name)
			case 2:
				r.Status, r.Passed, r.Detail = "test_failed", false, "thread 'main' panicked at src/main.rs:12:5:\nassertion `left == right` failed\n  left: [1, 2]\n right: [2, 1]\n"
			}
			if err := st.SaveEvalResult(ctx, run.ID, r); err != nil {
				tb.Fatal(err)
			}
		}
		if err := st.FinishEvalRun(ctx, run.ID, store.EvalDone, "{}", ""); err != nil {
			tb.Fatal(err)
		}
		ids[i] = run.ID
	}
	return ids[0], ids[1]
}

// BenchmarkSharedEvalReport times GET /s/{token} of a shared report of two eval runs over 500
// problems (answers of ~40 lines of Rust), through the router as a visitor's browser opens it
// (accepting compressed pages), and reports the server time's p50 and p99 and the bytes sent (run
// with -benchtime=200x or more).
func BenchmarkSharedEvalReport(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	runA, runB := seedBenchEvalRuns(b, st, 500)
	u, err := st.CreateUser(ctx, "ada", "password123", store.RoleAdmin)
	if err != nil {
		b.Fatal(err)
	}
	sh, err := st.CreateShare(ctx, store.ShareInput{Kind: store.ShareEvalReport, Target: fmt.Sprintf("run=%d&run=%d", runA, runB), CreatedBy: u.ID})
	if err != nil {
		b.Fatal(err)
	}
	md := render.New()
	for _, cached := range []bool{false, true} {
		b.Run(map[bool]string{false: "uncached", true: "cached"}[cached], func(b *testing.B) {
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			hub := live.NewHub(16)
			s := newServer(log, st, generation.New(st, nil, hub, log, 1), hub, md, Config{DataDir: dir})
			if !cached {
				s.reports = nil
			}
			app := s.routes()
			get := func() (time.Duration, int) {
				w := &countingWriter{header: http.Header{}}
				req := httptest.NewRequest(http.MethodGet, "/s/"+sh.Token, nil)
				req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd") // as browsers send it
				start := time.Now()
				app.ServeHTTP(w, req)
				took := time.Since(start)
				if w.status != http.StatusOK {
					b.Fatalf("GET /s/%s: status %d", sh.Token, w.status)
				}
				return took, w.n
			}
			_, size := get() // the first view renders every answer once (the renderer's cache)
			var times []time.Duration
			for b.Loop() {
				took, _ := get()
				times = append(times, took)
			}
			slices.Sort(times)
			q := func(p float64) float64 {
				return float64(times[min(len(times)-1, int(p*float64(len(times))))].Microseconds()) / 1000
			}
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(float64(size), "page-bytes")
		})
	}
}

// countingWriter is a response writer that counts the body's bytes and keeps none, so a benchmark
// times the server and not a buffer growing to the page's size.
type countingWriter struct {
	header http.Header
	status int
	n      int
}

func (w *countingWriter) Header() http.Header { return w.header }

func (w *countingWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}

// newReportApp is the app with its Server at hand, so tests can look into the report cache.
func newReportApp(t *testing.T) (*testApp, *Server) {
	t.Helper()
	dir, st, log, hub := testParts(t)
	runner := generation.New(st, nil, hub, log, 1)
	md := render.New()
	s := newServer(log, st, runner, hub, md, Config{DataDir: dir})
	srv := httptest.NewServer(s.routes())
	t.Cleanup(srv.Close)
	return &testApp{t: t, srv: srv, store: st, hub: hub, runner: runner, md: md, dataDir: dir}, s
}

// shareEvals makes a never-expiring link of each eval report query and returns their paths.
func shareEvals(t *testing.T, app *testApp, queries ...string) []string {
	t.Helper()
	ctx := t.Context()
	u, err := app.store.CreateUser(ctx, "maker", "password123", store.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	var links []string
	for _, q := range queries {
		sh, err := app.store.CreateShare(ctx, store.ShareInput{Kind: store.ShareEvalReport, Target: q, CreatedBy: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, "/s/"+sh.Token)
	}
	return links
}

// body GETs a page as an anonymous visitor and returns it, failing on any status but 200.
func body(t *testing.T, app *testApp, path string) string {
	t.Helper()
	res := app.newClient().get(path)
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, res.StatusCode, b)
	}
	return string(b)
}

func parseBody(t *testing.T, page string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// cachedReports is the number of pages in the server's report cache.
func cachedReports(s *Server) int { return s.reports.pages.Len() }

var generatedStamp = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d UTC`)

func TestSharedEvalReportCacheServesTheSamePage(t *testing.T) {
	app, s := newReportApp(t)
	a, b, _ := seedEvalRuns(t, app)
	query := fmt.Sprintf("run=%d&run=%d", a, b)
	link := shareEvals(t, app, query)[0]

	first := body(t, app, link)
	if n := cachedReports(s); n != 1 {
		t.Fatalf("after the first view the cache holds %d pages, want 1", n)
	}
	again := body(t, app, link)
	if again != first {
		t.Errorf("the second view differs from the first (%d and %d bytes)", len(again), len(first))
	}
	q, _ := url.ParseQuery(query)
	choice, err := parseEvalChoice(q)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := s.sharedEvalPage(t.Context(), choice)
	if err != nil {
		t.Fatal(err)
	}
	// The uncached page may have been generated in a later minute; everything else must be equal.
	if got, want := generatedStamp.ReplaceAllString(first, "T"), generatedStamp.ReplaceAllString(string(gunzip(t, fresh)), "T"); got != want {
		t.Errorf("the cached page differs from a fresh one:\ncached %.400s\nfresh  %.400s", got, want)
	}
	if n := testid(parseBody(t, first), "eval-row").Length(); n != 3 {
		t.Errorf("the cached report shows %d problems, want 3", n)
	}

	// The second view came from the cache: a page put there is what visitors get.
	kept, _ := s.reports.pages.Get(choice.query())
	kept.page = gzipBytes(t, "kept page")
	s.reports.pages.Put(choice.query(), kept)
	if got := body(t, app, link); got != "kept page" {
		t.Errorf("a view with unchanged data was not served from the cache: %.200s", got)
	}
	// It is kept compressed and sent as it is to a browser that takes gzip; others get it decompressed.
	res, sent := getEncoded(t, app, link, "gzip, deflate, br, zstd")
	if res.Header.Get("Content-Encoding") != "gzip" || string(sent) != string(kept.page) {
		t.Errorf("to a gzip client: Content-Encoding %q, %d bytes sent, %d kept", res.Header.Get("Content-Encoding"), len(sent), len(kept.page))
	}
	res, sent = getEncoded(t, app, link, "gzip;q=0, identity")
	if res.Header.Get("Content-Encoding") != "" || string(sent) != "kept page" {
		t.Errorf("to a client refusing gzip: Content-Encoding %q, body %.100q", res.Header.Get("Content-Encoding"), sent)
	}
}

func gzipBytes(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil || zw.Close() != nil {
		t.Fatal("gzip", err)
	}
	return b.Bytes()
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"gzip": true, "gzip, deflate, br, zstd": true, "br;q=1.0, GZIP;q=0.5": true, "*": true,
		"": false, "identity": false, "gzip;q=0": false, "gzip; q=0.0, br": false, "br, zstd": false, "x-gzip": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

func TestSharedEvalReportFollowsArenaVotes(t *testing.T) {
	app, s := newReportApp(t)
	a, b, _ := seedEvalRuns(t, app)
	link := shareEvals(t, app, fmt.Sprintf("run=%d&run=%d", a, b))[0]
	before := summaryRows(parseBody(t, body(t, app, link)))
	if before[0][8] != "—" {
		t.Fatalf("arena rating of v1 before any vote: %q, want —", before[0][8])
	}
	seedArena(t, app)
	after := summaryRows(parseBody(t, body(t, app, link)))
	if after[0][8] == "—" || after[1][8] == "—" {
		t.Errorf("after the votes the shared report still shows no ratings: %q", after)
	}
	if n := cachedReports(s); n != 1 {
		t.Errorf("the cache holds %d pages of one link, want 1", n)
	}
}

func TestSharedEvalReportOfARunningRunIsNeverStale(t *testing.T) {
	app, s := newReportApp(t)
	ctx := t.Context()
	a, _, _ := seedEvalRuns(t, app)
	running, err := app.store.CreateEvalRun(ctx, store.EvalRunInput{Model: "v3", Bench: "sample", Format: "multipl-e", N: 1})
	if err != nil {
		t.Fatal(err)
	}
	add := store.EvalResult{Problem: "add", Status: "ok", Compiled: true, Passed: true, Lints: 0, Completion: "    a + b + 0\n}\n"}
	if err := app.store.SaveEvalResult(ctx, running.ID, add); err != nil {
		t.Fatal(err)
	}
	link := shareEvals(t, app, fmt.Sprintf("run=%d&run=%d", a, running.ID))[0]
	problems := func() string {
		t.Helper()
		rows := summaryRows(parseBody(t, body(t, app, link)))
		return rows[1][2]
	}
	if got := problems(); got != "1" {
		t.Fatalf("the running run's problems: %s, want 1", got)
	}
	div := store.EvalResult{Problem: "div", Status: "compile_error", Lints: -1, Detail: "error[E0369]: cannot divide", Completion: "    a / \"2\"\n}\n"}
	if err := app.store.SaveEvalResult(ctx, running.ID, div); err != nil {
		t.Fatal(err)
	}
	doc := parseBody(t, body(t, app, link))
	if got := summaryRows(doc)[1][2]; got != "2" {
		t.Errorf("after a new result the shared report shows %s problems of the running run, want 2", got)
	}
	if !strings.Contains(doc.Text(), "cannot divide") {
		t.Errorf("the new result's compiler output is not on the page")
	}
	if n := cachedReports(s); n != 0 {
		t.Errorf("a report of a running run was kept (%d pages)", n)
	}
	if err := app.store.FinishEvalRun(ctx, running.ID, store.EvalDone, "{}", ""); err != nil {
		t.Fatal(err)
	}
	if got := problems(); got != "2" {
		t.Errorf("the finished run's problems: %s, want 2", got)
	}
	if got := problems(); got != "2" || cachedReports(s) != 1 {
		t.Errorf("the finished report again: %s problems, %d pages kept; want 2 and 1", got, cachedReports(s))
	}
}

func TestSharedEvalReportLinksDoNotShareEntries(t *testing.T) {
	app, s := newReportApp(t)
	a, b, _ := seedEvalRuns(t, app)
	d := storeEvalRun(t, app, "v3", "sample", 1, []store.EvalResult{
		{Problem: "add", Status: "ok", Compiled: true, Passed: true, Lints: 0, Completion: "    a.add(b)\n}\n"},
	})
	cases := []struct {
		query string
		runs  []string
	}{
		{fmt.Sprintf("run=%d&run=%d", a, b), []string{fmt.Sprintf("#%d", a), fmt.Sprintf("#%d", b)}},
		{fmt.Sprintf("run=%d&run=%d", a, d), []string{fmt.Sprintf("#%d", a), fmt.Sprintf("#%d", d)}},
		{fmt.Sprintf("run=%d&run=%d", b, a), []string{fmt.Sprintf("#%d", b), fmt.Sprintf("#%d", a)}},
	}
	var queries []string
	for _, c := range cases {
		queries = append(queries, c.query)
	}
	links := shareEvals(t, app, queries...)
	for round := range 2 {
		for i, c := range cases {
			rows := summaryRows(parseBody(t, body(t, app, links[i])))
			var got []string
			for _, r := range rows {
				got = append(got, r[0])
			}
			if !slices.Equal(got, c.runs) {
				t.Errorf("view %d of %s: runs %q, want %q", round+1, c.query, got, c.runs)
			}
		}
	}
	if n := cachedReports(s); n != len(cases) {
		t.Errorf("the cache holds %d pages for %d links, want one each", n, len(cases))
	}
}

func TestReportCacheKeepsPagesByVersion(t *testing.T) {
	c := newReportCache(10)
	builds := 0
	get := func(key, version, page string) string {
		t.Helper()
		got, err := c.page(t.Context(), key, version, func(context.Context) ([]byte, error) {
			builds++
			return []byte(page), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return string(got)
	}
	get("a", "1", "aaa")
	get("b", "1", "bbb")
	if got := get("a", "1", "new"); got != "aaa" || builds != 2 {
		t.Errorf("a at the same version: %q after %d builds, want the kept aaa after 2", got, builds)
	}
	if got := get("b", "2", "b2"); got != "b2" || c.pages.Len() != 2 {
		t.Errorf("b at a new version: %q with %d pages, want b2 in place of the old page", got, c.pages.Len())
	}
	get("e", "1", "eeeeeeeeeeee") // larger than the bound: served, not kept
	if c.pages.Has("e") {
		t.Errorf("a page over the byte bound was kept")
	}
}

func TestReportCacheKeepsNoFailedBuild(t *testing.T) {
	c := newReportCache(1 << 20)
	_, err := c.page(t.Context(), "k", "v", func(context.Context) ([]byte, error) {
		return nil, fmt.Errorf("eval run 9: %w", store.ErrNotFound)
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("error %v, want the build's", err)
	}
	if c.pages.Len() != 0 {
		t.Errorf("after a failed build: %d pages kept, want none", c.pages.Len())
	}
}
