package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/generation"
	"rustexpert/inference"
	"rustexpert/live"
	"rustexpert/render"
	"rustexpert/store"
)

// testApp is the whole HTTP app on a real SQLite file behind a real HTTP server.
type testApp struct {
	t       *testing.T
	srv     *httptest.Server
	store   *store.Store
	hub     *live.Hub
	runner  *generation.Runner
	md      *render.Renderer
	dataDir string
}

// testParts is what every test app starts from: a store in a new temporary directory (closed when
// the test ends), a logger that discards and a hub.
func testParts(t *testing.T) (dir string, st *store.Store, log *slog.Logger, hub *live.Hub) {
	t.Helper()
	dir = t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return dir, st, slog.New(slog.NewTextHandler(io.Discard, nil)), live.NewHub(64)
}

func newTestApp(t *testing.T) *testApp {
	t.Helper()
	dir, st, log, hub := testParts(t)
	genFor := func(m store.Model) (inference.Generator, error) {
		return inference.NewOpenAI(inference.OpenAIConfig{BaseURL: m.Endpoint}), nil
	}
	runner := generation.New(st, genFor, hub, log, 2)
	md := render.New()
	srv := httptest.NewServer(New(log, st, runner, hub, md, Config{DataDir: dir}))
	t.Cleanup(srv.Close)
	return &testApp{t: t, srv: srv, store: st, hub: hub, runner: runner, md: md, dataDir: dir}
}

// client is one browser: a cookie jar and the CSRF token of its session.
type client struct {
	app  *testApp
	http *http.Client
	csrf string
}

// newClient returns a browser that does not follow redirects (tests look at them).
func (a *testApp) newClient() *client {
	jar, _ := cookiejar.New(nil)
	return &client{app: a, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// login creates a user with the role and returns a browser logged in as that user.
func (a *testApp) login(name, role string) *client {
	a.t.Helper()
	if _, err := a.store.CreateUser(context.Background(), name, "password123", role); err != nil {
		a.t.Fatal(err)
	}
	c := a.newClient()
	res := c.postForm("/login", url.Values{"name": {name}, "password": {"password123"}})
	if res.StatusCode != http.StatusSeeOther {
		a.t.Fatalf("login %s: status %d", name, res.StatusCode)
	}
	doc := c.page("/prompts")
	c.csrf, _ = doc.Find("body").Attr("data-csrf")
	if c.csrf == "" {
		a.t.Fatal("no CSRF token on the page")
	}
	return c
}

func (c *client) do(method, path string, body io.Reader, header http.Header) *http.Response {
	c.app.t.Helper()
	req, err := http.NewRequest(method, c.app.srv.URL+path, body)
	if err != nil {
		c.app.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.app.t.Fatal(err)
	}
	c.app.t.Cleanup(func() { res.Body.Close() })
	return res
}

func (c *client) get(path string) *http.Response { return c.do(http.MethodGet, path, nil, nil) }

// postForm posts a form with the session's CSRF token as a form field.
func (c *client) postForm(path string, form url.Values) *http.Response {
	if c.csrf != "" && form.Get("csrf") == "" {
		form.Set("csrf", c.csrf)
	}
	return c.do(http.MethodPost, path, strings.NewReader(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
}

// htmx sends a request as HTMX does: HX-Request and the CSRF header.
func (c *client) htmx(method, path string, form url.Values) *http.Response {
	h := http.Header{"Hx-Request": {"true"}, "X-Csrf-Token": {c.csrf}, "Content-Type": {"application/x-www-form-urlencoded"}}
	return c.do(method, path, strings.NewReader(form.Encode()), h)
}

// page GETs a page, expects 200 and parses it.
func (c *client) page(path string) *goquery.Document {
	c.app.t.Helper()
	res := c.get(path)
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		c.app.t.Fatalf("GET %s: status %d: %s", path, res.StatusCode, b)
	}
	return parse(c.app.t, res)
}

func parse(t *testing.T, res *http.Response) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func testid(doc *goquery.Document, id string) *goquery.Selection {
	return doc.Find(`[data-testid="` + id + `"]`)
}
