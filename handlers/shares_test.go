package handlers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

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
