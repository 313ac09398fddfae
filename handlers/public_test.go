package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rustexpert/generation"
	"rustexpert/inference"
	"rustexpert/store"
)

// newPublicApp serves models v1 and v2 through genFor with cfg (public mode or not, limits).
func newPublicApp(t *testing.T, cfg Config, genFor generation.GeneratorFor) *apiApp {
	t.Helper()
	a := newAPIApp(t, genFor)
	a.addModel("v2", a.up.srv.URL+"/v1", "served-v2")
	cfg.DataDir, cfg.GeneratorFor = a.dataDir, genFor
	srv := httptest.NewServer(New(slog.New(slog.NewTextHandler(io.Discard, nil)), a.store, a.runner, a.hub, a.md, cfg))
	t.Cleanup(srv.Close)
	a.srv = srv
	return a
}

// answering answers every model with its name's text from answers.
func answering(answers map[string]string) generation.GeneratorFor {
	return func(m store.Model) (inference.Generator, error) {
		text, ok := answers[m.Name]
		if !ok {
			return nil, fmt.Errorf("no answer for %s", m.Name)
		}
		return arenaGenerator{text: text}, nil
	}
}

// visit returns an anonymous browser that has opened /chat: it holds a visitor cookie and the
// page's CSRF token.
func (a *testApp) visit() *client {
	a.t.Helper()
	c := a.newClient()
	doc := c.page("/chat")
	c.csrf, _ = doc.Find("body").Attr("data-csrf")
	if c.csrf == "" {
		a.t.Fatal("no CSRF token on a visitor's page")
	}
	return c
}

// readBusyEvent reads a stream that must be one "busy" event and nothing else.
func readBusyEvent(t *testing.T, res *http.Response) streamRefusal {
	t.Helper()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("refused stream: status %d, %s: %s", res.StatusCode, res.Header.Get("Content-Type"), readAll(t, res))
	}
	br := bufio.NewReader(res.Body)
	ev, err := nextChatEvent(br)
	if err != nil || ev.name != "busy" {
		t.Fatalf("refused stream: first event %+v, %v; want busy", ev, err)
	}
	if next, err := nextChatEvent(br); err != io.EOF {
		t.Fatalf("refused stream went on with %+v, %v", next, err)
	}
	var out streamRefusal
	if err := json.Unmarshal([]byte(ev.data), &out); err != nil {
		t.Fatalf("busy event %q: %v", ev.data, err)
	}
	if res.Header.Get("Retry-After") != fmt.Sprint(out.RetryAfter) {
		t.Fatalf("Retry-After %q, event says %d", res.Header.Get("Retry-After"), out.RetryAfter)
	}
	return out
}

// Pages only people with a login see, whatever the mode.
var privatePages = []string{"/prompts", "/prompts/export", "/generate", "/generate/jobs/1", "/annotate", "/review",
	"/datasets", "/runs", "/runs/1", "/models", "/users", "/audit", "/rag", "/eval", "/eval/report.md", "/guidelines",
	"/account", "/settings/keys"}

// Pages anonymous visitors see in public mode.
var publicPages = []string{"/chat", "/arena", "/arena/leaderboard", "/models/v1/card"}

func wantLoginRedirect(t *testing.T, c *client, path string) {
	t.Helper()
	res := c.get(path)
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
		t.Errorf("anonymous GET %s: status %d, Location %q; want a redirect to /login", path, res.StatusCode, loc)
	}
}

func TestPublicModeGatesRoutes(t *testing.T) {
	gen := answering(map[string]string{"v1": "one", "v2": "two"})
	t.Run("without --public", func(t *testing.T) {
		a := newPublicApp(t, Config{}, gen)
		a.login("ada", store.RoleAdmin)
		anon := a.newClient()
		for _, path := range append(append([]string{"/"}, privatePages...), publicPages...) {
			wantLoginRedirect(t, anon, path)
		}
		if res := anon.postForm("/chat", url.Values{"question": {"hi"}, "model_0": {"1"}}); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous POST /chat: status %d, want 401", res.StatusCode)
		}
		if cookies := anon.http.Jar.Cookies(mustURL(t, a.srv.URL)); len(cookies) != 0 {
			t.Errorf("without --public an anonymous browser got cookies %v", cookies)
		}
	})
	t.Run("with --public", func(t *testing.T) {
		a := newPublicApp(t, Config{Public: true}, gen)
		ada := a.login("ada", store.RoleAdmin)
		anon := a.visit()
		for _, path := range publicPages {
			if res := anon.get(path); res.StatusCode != http.StatusOK {
				t.Errorf("visitor GET %s: status %d, want 200", path, res.StatusCode)
			}
		}
		if res := anon.get("/"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/chat" {
			t.Errorf("visitor GET /: status %d, Location %q; want /chat", res.StatusCode, res.Header.Get("Location"))
		}
		for _, path := range privatePages {
			wantLoginRedirect(t, anon, path)
		}
		v1, _ := a.store.ModelByName(t.Context(), "v1")
		id := startChat(t, anon, "hello?", 16, v1)
		if res := anon.postForm(fmt.Sprintf("/chat/%d/share", id), url.Values{}); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("visitor sharing a chat: status %d, want 401", res.StatusCode)
		}
		if res := anon.postForm("/prompts", url.Values{"text": {"x"}}); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("visitor POST /prompts: status %d, want 401", res.StatusCode)
		}
		// People who log in keep every page.
		for _, path := range append([]string{"/prompts", "/models", "/users"}, publicPages...) {
			if res := ada.get(path); res.StatusCode != http.StatusOK {
				t.Errorf("admin GET %s in public mode: status %d", path, res.StatusCode)
			}
		}
		if res := ada.get("/"); res.Header.Get("Location") != "/prompts" {
			t.Errorf("admin GET /: Location %q, want /prompts", res.Header.Get("Location"))
		}
	})
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestVisitorsSeeOnlyTheirOwnChats(t *testing.T) {
	a := newPublicApp(t, Config{Public: true}, answering(map[string]string{"v1": "one answer", "v2": "two"}))
	alice, bob := a.visit(), a.visit()
	v1, _ := a.store.ModelByName(t.Context(), "v1")
	id := startChat(t, alice, "alice's secret question", 16, v1)
	if s := readColumnStream(t, alice.get(fmt.Sprintf("/chat/%d/stream/0", id))); s.text() != "one answer" {
		t.Fatalf("alice's column answered %q", s.text())
	}
	if doc := alice.page(fmt.Sprintf("/chat/%d", id)); testid(doc, "chat-question").Text() != "alice's secret question" {
		t.Fatalf("alice does not see her chat: %q", testid(doc, "chat-question").Text())
	}
	if list := testid(alice.page("/chat"), "chat-list").Text(); !strings.Contains(list, "alice's secret question") {
		t.Errorf("alice's chat list %q lacks her chat", list)
	}
	ada := a.login("ada", store.RoleAdmin)
	for name, c := range map[string]*client{"bob": bob, "ada": ada} {
		for _, path := range []string{fmt.Sprintf("/chat/%d", id), fmt.Sprintf("/chat/%d/stream/0", id)} {
			if res := c.get(path); res.StatusCode != http.StatusNotFound {
				t.Errorf("%s GET %s: status %d, want 404", name, path, res.StatusCode)
			}
		}
		res := c.do(http.MethodPost, fmt.Sprintf("/chat/%d/columns/0/regenerate", id), nil, http.Header{"X-Csrf-Token": {c.csrf}})
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s regenerating alice's column: status %d, want 404", name, res.StatusCode)
		}
		if res := c.htmx(http.MethodPost, fmt.Sprintf("/chat/%d/turns", id), url.Values{"question": {"mine now?"}}); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s asking in alice's chat: status %d, want 404", name, res.StatusCode)
		}
		if strings.Contains(testid(c.page("/chat"), "chat-list").Text(), "secret") {
			t.Errorf("%s's chat list shows alice's chat", name)
		}
	}
	if turns := columnOf(t, a.testApp, id, 0); len(turns) != 2 {
		t.Errorf("alice's column has %d turns after the others tried, want 2", len(turns))
	}
	// A visitor's own row keeps the first-run check and the user list to people.
	if n, _ := a.store.CountUsers(t.Context()); n != 1 {
		t.Errorf("CountUsers = %d with one person and two visitors, want 1", n)
	}
}

func TestVisitorCSRF(t *testing.T) {
	a := newPublicApp(t, Config{Public: true}, answering(map[string]string{"v1": "one"}))
	res := a.newClient().get("/chat")
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == visitorCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure || cookie.Path != "/" ||
		cookie.MaxAge != int(store.VisitorTTL.Seconds()) || !validVisitorToken(cookie.Value) {
		t.Fatalf("visitor cookie %+v", cookie)
	}

	v := a.visit()
	form := func(csrf string) url.Values {
		return url.Values{"question": {"hi"}, "model_0": {"1"}, "temperature_0": {"0"}, "max_tokens_0": {"8"}, "csrf": {csrf}}
	}
	post := func(c *client, form url.Values, h http.Header) *http.Response {
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		return c.do(http.MethodPost, "/chat", strings.NewReader(form.Encode()), h)
	}
	cases := []struct {
		name string
		c    *client
		form url.Values
		h    http.Header
	}{
		{"no token", v, form(""), http.Header{}},
		{"wrong token", v, form("x" + v.csrf), http.Header{}},
		{"another visitor's token", a.visit(), form(v.csrf), http.Header{}},
		{"no cookie", a.newClient(), form(v.csrf), http.Header{}},
		{"cross-origin", v, form(v.csrf), http.Header{"Sec-Fetch-Site": {"cross-site"}}},
	}
	for _, tc := range cases {
		if res := post(tc.c, tc.form, tc.h); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, res.StatusCode)
		}
	}
	if _, err := a.store.VisitorUser(t.Context(), visitorToken(t, a, v)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused posts gave the visitor a row: err = %v", err)
	}
	if res := post(v, form(v.csrf), http.Header{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the visitor's own token: status %d: %s", res.StatusCode, readAll(t, res))
	}
	// The header form (HTMX, fetch) works too, and a logged-in user's token is no visitor's.
	if res := v.do(http.MethodPost, "/chat", strings.NewReader(form("").Encode()), http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"}, "X-Csrf-Token": {v.csrf}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("token in the header: status %d", res.StatusCode)
	}
	ada := a.login("ada", store.RoleAdmin)
	if res := post(v, form(ada.csrf), http.Header{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("a user's token from a visitor: status %d, want 403", res.StatusCode)
	}

	// Behind TLS the cookie is Secure.
	secure := newPublicApp(t, Config{Public: true, SecureCookies: true}, answering(nil))
	for _, c := range secure.newClient().get("/chat").Cookies() {
		if c.Name == visitorCookie && !c.Secure {
			t.Error("with --secure-cookies the visitor cookie is not Secure")
		}
	}
}

func TestBusyReachesTheStream(t *testing.T) {
	gen := heldGenerator{started: make(chan struct{}, 4), release: make(chan struct{})}
	a := newPublicApp(t, Config{Public: true, Limits: Limits{Generations: 1}},
		func(store.Model) (inference.Generator, error) { return gen, nil })
	v := a.visit()
	v1, _ := a.store.ModelByName(t.Context(), "v1")
	v2, _ := a.store.ModelByName(t.Context(), "v2")
	id := startChat(t, v, "hello?", 16, v1, v2)
	held := make(chan columnStream, 1)
	go func() {
		res := v.do(http.MethodGet, fmt.Sprintf("/chat/%d/stream/0", id), nil, http.Header{"Accept": {"text/event-stream"}})
		held <- readColumnStream(t, res)
	}()
	<-gen.started

	stream := func(path string) *http.Response {
		return v.do(http.MethodGet, path, nil, http.Header{"Accept": {"text/event-stream"}})
	}
	busy := readBusyEvent(t, stream(fmt.Sprintf("/chat/%d/stream/1", id)))
	want := streamRefusal{Status: http.StatusServiceUnavailable, Message: "The server is busy; try again in 5 s.", RetryAfter: 5}
	if busy != want {
		t.Fatalf("busy chat column: %+v, want %+v", busy, want)
	}
	if turns := columnOf(t, a.testApp, id, 1); len(turns) != 1 {
		t.Fatalf("a busy column stored %d turns, want the question only", len(turns))
	}
	battle := startBattle(t, v, url.Values{"question": {"which?"}})
	if busy := readBusyEvent(t, stream(fmt.Sprintf("/arena/%d/stream/a", battle))); busy != want {
		t.Fatalf("busy arena side: %+v, want %+v", busy, want)
	}
	if b, _ := a.store.UserArenaBattle(t.Context(), userIDOfVisitor(t, a, v), battle); b.Done[0] {
		t.Fatal("a busy arena side was stored")
	}
	// The API keeps OpenAI's error JSON.
	wantAPIError(t, a.call(http.MethodPost, "/v1/chat/completions", a.key, `{"model":"v1","messages":[{"role":"user","content":"hi"}]}`),
		http.StatusServiceUnavailable, "server_busy")

	close(gen.release)
	if s := <-held; s.text() != "done" {
		t.Fatalf("the column holding the slot answered %q", s.text())
	}
	if s := readColumnStream(t, stream(fmt.Sprintf("/chat/%d/stream/1", id))); s.text() != "done" {
		t.Fatalf("retried column answered %q", s.text())
	}
}

func TestTooManyRequestsReachesTheStream(t *testing.T) {
	clock := newFakeClock()
	a := newPublicApp(t, Config{Public: true, Limits: Limits{RequestsPerMinute: 3, Clock: clock.now}}, answering(map[string]string{"v1": "one"}))
	v := a.visit() // 1
	v1, _ := a.store.ModelByName(t.Context(), "v1")
	id := startChat(t, v, "hello?", 16, v1)                                                       // 2
	if s := readColumnStream(t, v.get(fmt.Sprintf("/chat/%d/stream/0", id))); s.text() != "one" { // 3
		t.Fatalf("answer %q", s.text())
	}
	res := v.do(http.MethodGet, fmt.Sprintf("/chat/%d/stream/0", id), nil, http.Header{"Accept": {"text/event-stream"}})
	want := streamRefusal{Status: http.StatusTooManyRequests, Message: "Too many requests; try again in 20 seconds.", RetryAfter: 20}
	if got := readBusyEvent(t, res); got != want {
		t.Fatalf("over the rate: %+v, want %+v", got, want)
	}
	// Visitors are counted by address: a new cookie from the same address shares the bucket.
	if res := a.newClient().get("/chat"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a fresh visitor of the same address: status %d, want 429", res.StatusCode)
	}
	clock.add(20 * time.Second)
	if res := a.newClient().get("/chat"); res.StatusCode != http.StatusOK {
		t.Fatalf("after the wait: status %d", res.StatusCode)
	}
}

// visitorToken is the token of a visitor's cookie.
func visitorToken(t *testing.T, a *apiApp, c *client) string {
	t.Helper()
	for _, ck := range c.http.Jar.Cookies(mustURL(t, a.srv.URL)) {
		if ck.Name == visitorCookie {
			return ck.Value
		}
	}
	t.Fatal("the browser holds no visitor cookie")
	return ""
}

// userIDOfVisitor is the users row of a visitor's browser.
func userIDOfVisitor(t *testing.T, a *apiApp, c *client) int64 {
	t.Helper()
	id, err := a.store.VisitorUser(t.Context(), visitorToken(t, a, c))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestVisitorArenaCapCountsTheAddress(t *testing.T) {
	a := newPublicApp(t, Config{Public: true}, answering(map[string]string{"v1": "answer one", "v2": "answer two"}))
	if err := a.store.SetSetting(t.Context(), store.SettingArenaDailyCap, "1"); err != nil {
		t.Fatal(err)
	}
	first := a.visit()
	id := startBattle(t, first, url.Values{"question": {"which is better?"}})
	for _, side := range []string{"a", "b"} {
		readColumnStream(t, first.get(fmt.Sprintf("/arena/%d/stream/%s", id, side)))
	}
	if res := voteJSON(first, id, "tie"); res.StatusCode != http.StatusOK {
		t.Fatalf("vote: status %d: %s", res.StatusCode, readAll(t, res))
	}
	// Clearing cookies does not reset the cap: a new visitor of the same address is at it too.
	second := a.visit()
	if text := testid(second.page("/arena"), "arena-page").Text(); !strings.Contains(text, "voted 1 of 1 times") {
		t.Errorf("a new visitor's arena page does not count the address's vote: %q", text)
	}
	res := second.postForm("/arena", url.Values{"question": {"again?"}})
	if body := readAll(t, res); res.StatusCode != http.StatusConflict || !strings.Contains(body, "daily cap") {
		t.Fatalf("new visitor at the address's cap: status %d: %s", res.StatusCode, body)
	}
	// People with a login have caps of their own.
	ada := a.login("ada", store.RoleAnnotator)
	startBattle(t, ada, url.Values{"question": {"mine?"}})
}

func TestModelCardAndBanner(t *testing.T) {
	a := newPublicApp(t, Config{}, answering(map[string]string{"v1": "one"}))
	ctx := t.Context()
	adapter := t.TempDir()
	card := "# The carded model\n\nTrained **carefully**.\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[click](javascript:alert(3))\n"
	if err := os.WriteFile(filepath.Join(adapter, "README.md"), []byte(card), 0o644); err != nil {
		t.Fatal(err)
	}
	v1, _ := a.store.ModelByName(ctx, "v1")
	ds, err := a.store.CreateDataset(ctx, store.Dataset{Kind: "sft", OptionsJSON: "{}", StatsJSON: "{}", SHA256: "ab", Rows: 3, Path: "d.jsonl"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	run, err := a.store.CreateRun(ctx, store.RunInput{Kind: store.RunSFT, ParentID: v1.ID, DatasetID: ds.ID},
		func(int64) (string, string, error) { return "{}", adapter, nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.store.ClaimRun(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	in := store.ModelInput{Name: "carded", Provider: store.ProviderBuiltin, Base: "/models/base.gguf", Adapter: adapter,
		ParentID: v1.ID, DatasetID: ds.ID, Notes: "<b>bold notes</b>"}
	if err := a.store.FinishRun(ctx, run.ID, store.RunEnd{Status: store.RunDone, Model: &in}); err != nil {
		t.Fatal(err)
	}

	ada := a.login("ada", store.RoleViewer)
	doc := ada.page("/models/carded/card")
	body := testid(doc, "model-card-body")
	if html, _ := body.Html(); !strings.Contains(html, "<strong>carefully</strong>") || !strings.Contains(body.Find("h1").Text(), "The carded model") {
		t.Fatalf("card not rendered: %s", html)
	}
	if page, _ := doc.Html(); strings.Contains(page, "alert(1)</script>") || strings.Contains(page, "<script>alert") ||
		strings.Contains(page, "onerror") || strings.Contains(page, "javascript:") {
		t.Fatalf("the card page kept dangerous markup:\n%s", page)
	}
	wantLineage := fmt.Sprintf("SFT run %d from v1 on dataset %d (3 sft rows)", run.ID, ds.ID)
	if got := testid(doc, "model-card-lineage").Text(); got != wantLineage {
		t.Errorf("card lineage %q, want %q", got, wantLineage)
	}
	if notes := testid(doc, "model-card-notes"); notes.Text() != "<b>bold notes</b>" || notes.Find("b").Length() != 0 {
		t.Errorf("notes not escaped: %q", notes.Text())
	}
	if testid(ada.page("/models/v1/card"), "no-model-card").Length() != 1 {
		t.Error("a model without a README does not say it has no card")
	}
	if res := ada.get("/models/nope/card"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown model's card: status %d, want 404", res.StatusCode)
	}

	// Logged-in users see the banner because a model on the page has a card.
	doc = ada.page("/chat")
	banner := testid(doc, "model-banner")
	if banner.Length() != 1 || testid(doc, "banner-columns").Text() != "v1 | v2 | carded" {
		t.Fatalf("chat banner columns %q", testid(doc, "banner-columns").Text())
	}
	carded := banner.Find(`[data-model="carded"]`)
	if text := carded.Text(); !strings.Contains(text, wantLineage) || !strings.Contains(text, "<b>bold notes</b>") || carded.Find("b").Length() != 0 {
		t.Errorf("banner line of carded: %q", text)
	}
	if href, _ := carded.Find(`[data-testid="model-card-link"]`).Attr("href"); href != "/models/carded/card" {
		t.Errorf("card link %q", href)
	}
	if testid(doc, "visitor-note").Length() != 0 {
		t.Error("a logged-in user is told they are a guest")
	}
	if testid(ada.page("/arena"), "model-banner").Find(`[data-testid="banner-model"]`).Length() != 3 {
		t.Error("the arena banner does not list the three models")
	}

	// Without cards and outside public mode there is no banner; in public mode there always is.
	plain := newPublicApp(t, Config{}, answering(nil))
	if testid(plain.login("bo", store.RoleViewer).page("/chat"), "model-banner").Length() != 0 {
		t.Error("banner shown to a logged-in user though no model has a card")
	}
	public := newPublicApp(t, Config{Public: true}, answering(nil))
	doc = public.visit().page("/chat")
	if testid(doc, "banner-columns").Text() != "v1 | v2" || testid(doc, "visitor-note").Length() != 1 {
		t.Errorf("visitor's banner: columns %q, guest note %d", testid(doc, "banner-columns").Text(), testid(doc, "visitor-note").Length())
	}
	if testid(doc, "whoami").Length() != 0 || testid(doc, "share-form").Length() != 0 {
		t.Error("a visitor's page offers an account or sharing")
	}
}

func TestClientAddressBehindProxies(t *testing.T) {
	addr := func(cfg Config, peer string, h http.Header) string {
		s := &Server{cfg: cfg}
		var got string
		handler := s.clientAddress(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = clientIP(r) }))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = peer
		for k, v := range h {
			r.Header[k] = v
		}
		handler.ServeHTTP(httptest.NewRecorder(), r)
		return got
	}
	spoof := http.Header{"X-Forwarded-For": {"6.6.6.6, 203.0.113.9"}, "True-Client-Ip": {"7.7.7.7"}}
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name string
		cfg  Config
		peer string
		h    http.Header
		want string
	}{
		{"team mode believes headers as before", Config{}, "192.0.2.1:5000", http.Header{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"public: a direct client's headers are ignored", Config{Public: true}, "192.0.2.1:5000", spoof, "192.0.2.1"},
		{"public: a loopback proxy's rightmost hop", Config{Public: true}, "127.0.0.1:5000", spoof, "203.0.113.9"},
		{"public: two headers, last hop wins", Config{Public: true}, "[::1]:5000",
			http.Header{"X-Forwarded-For": {"6.6.6.6", "203.0.113.9"}}, "203.0.113.9"},
		{"public: X-Real-IP of a trusted proxy", Config{Public: true}, "127.0.0.1:5000", http.Header{"X-Real-Ip": {"203.0.113.9"}}, "203.0.113.9"},
		{"public: garbage stops the walk", Config{Public: true}, "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"203.0.113.9, junk"}}, "127.0.0.1"},
		{"named proxies skip their own hops", Config{TrustedProxies: proxies}, "10.1.1.1:80",
			http.Header{"X-Forwarded-For": {"203.0.113.9, 10.2.2.2"}}, "203.0.113.9"},
		{"named proxies: loopback is not one", Config{Public: true, TrustedProxies: proxies}, "127.0.0.1:80", spoof, "127.0.0.1"},
		{"mapped IPv4 proxy", Config{TrustedProxies: proxies}, "[::ffff:10.0.0.5]:80", http.Header{"X-Forwarded-For": {"::ffff:203.0.113.9"}}, "203.0.113.9"},
	}
	for _, tc := range cases {
		if got := addr(tc.cfg, tc.peer, tc.h); got != tc.want {
			t.Errorf("%s: client %q, want %q", tc.name, got, tc.want)
		}
	}
}

// logLines is a log destination that hands each record to the test.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	select {
	case l <- string(p):
	default:
	}
	return len(p), nil
}

func TestVisitorPrunerRunsAtStart(t *testing.T) {
	a := newPublicApp(t, Config{Public: true}, answering(map[string]string{"v1": "one answer", "v2": "two"}))
	alice := a.visit()
	v1, _ := a.store.ModelByName(t.Context(), "v1")
	chat := startChat(t, alice, "a question to forget", 16, v1)
	first := userIDOfVisitor(t, a, alice)

	// Nothing has expired yet: nothing is pruned, nothing logged.
	quiet := logLines(make(chan string, 8))
	(&VisitorPruner{Store: a.store, Log: slog.New(slog.NewTextHandler(quiet, nil))}).prune(t.Context())
	if len(quiet) != 0 {
		t.Fatalf("a prune with nothing expired logged %q", <-quiet)
	}
	if res := alice.get(fmt.Sprintf("/chat/%d", chat)); res.StatusCode != http.StatusOK {
		t.Fatalf("alice's chat before it expired: status %d", res.StatusCode)
	}

	// A server started after alice's cookie expired prunes her at once, long before its interval.
	lines := logLines(make(chan string, 8))
	ctx, cancel := context.WithCancel(t.Context())
	p := &VisitorPruner{Store: a.store, Log: slog.New(slog.NewTextHandler(lines, nil)), Interval: time.Hour,
		Now: func() time.Time { return time.Now().Add(store.VisitorTTL + time.Minute) }}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatal("the pruner logged nothing after it started")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v after its context ended", err)
	}
	if !strings.Contains(line, "pruned expired visitors") || !strings.Contains(line, "visitors=1") || !strings.Contains(line, "chats=1") {
		t.Errorf("log line %q, want one visitor and one chat pruned", line)
	}
	if res := alice.get(fmt.Sprintf("/chat/%d", chat)); res.StatusCode != http.StatusNotFound {
		t.Errorf("alice's pruned chat: status %d, want 404", res.StatusCode)
	}
	// Her token, presented again, is a new visitor's: its next change makes a new users row.
	if _, err := a.store.VisitorUser(t.Context(), visitorToken(t, a, alice)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pruned visitor's token: err = %v, want ErrNotFound", err)
	}
	startChat(t, alice, "a new question", 16, v1)
	if again := userIDOfVisitor(t, a, alice); again == first {
		t.Errorf("the pruned token got its old users row %d back", first)
	}
}
