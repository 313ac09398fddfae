package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/eval"
	"rustexpert/generation"
	"rustexpert/inference"
	"rustexpert/store"
)

// Answers of the badge tests: code that compiles, code whose first error holds markup, and prose.
const (
	answerCompiles = "Like this:\n\n```rust\nfn main() {\n    let v = vec![1, 2];\n    println!(\"{}\", v.len());\n}\n```\n"
	answerFails    = "```rust\nfn main() {\n    compile_error!(\"<script>alert(1)</script>\");\n}\n```\n"
	answerProse    = "Borrow it with `&v`; nothing else is needed."
	failsFirst     = "<script>alert(1)</script> (line 2)"
)

// paramRecorder keeps the sampling settings each model was last asked with.
type paramRecorder struct {
	mu  sync.Mutex
	got map[string]inference.Params
}

func (p *paramRecorder) of(model string) inference.Params {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got[model]
}

// byModelGenerator answers every question with its model's text and records the request's settings.
type byModelGenerator struct {
	model string
	text  string
	rec   *paramRecorder
}

func (g byModelGenerator) Chat(_ context.Context, req inference.Request, onDelta func(inference.Delta)) (inference.Result, error) {
	g.rec.mu.Lock()
	g.rec.got[g.model] = req.Params
	g.rec.mu.Unlock()
	onDelta(inference.Delta{Text: g.text})
	return inference.Result{Choices: []inference.Choice{{Text: g.text, FinishReason: "stop"}}, Usage: inference.Usage{CompletionTokens: 7}}, nil
}

// checkedApp serves model v1, and v2 and v3 when answers has theirs, answering with the given
// texts, with checker (nil: no compiler) as the handlers' Checker.
type checkedApp struct {
	*apiApp
	genFor generation.GeneratorFor
	rec    *paramRecorder
	models map[string]store.Model
}

func newCheckedApp(t *testing.T, checker *eval.Checker, answers map[string]string) *checkedApp {
	t.Helper()
	rec := &paramRecorder{got: map[string]inference.Params{}}
	genFor := func(m store.Model) (inference.Generator, error) {
		return byModelGenerator{model: m.Name, text: answers[m.Name], rec: rec}, nil
	}
	app := &checkedApp{apiApp: newAPIApp(t, genFor), genFor: genFor, rec: rec, models: map[string]store.Model{}}
	app.models["v1"], _ = app.store.ModelByName(t.Context(), "v1")
	for _, name := range []string{"v2", "v3"} {
		if _, ok := answers[name]; ok {
			app.models[name] = app.addModel(name, app.up.srv.URL+"/v1", "served-"+name)
		}
	}
	app.serveWith(checker)
	return app
}

// serveWith serves the same database with another Checker; clients made before keep working.
func (a *checkedApp) serveWith(checker *eval.Checker) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(New(log, a.store, a.runner, a.hub, a.md, Config{DataDir: a.dataDir, GeneratorFor: a.genFor, Checker: checker}))
	a.t.Cleanup(srv.Close)
	a.srv = srv
}

// newTestChecker is a compiler check, or a skip when rustc is not installed.
func newTestChecker(t *testing.T) *eval.Checker {
	t.Helper()
	c, err := eval.NewChecker(eval.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Skipf("no Rust toolchain: %v", err)
	}
	return c
}

// fragment GETs a badge fragment, expects 200 and parses it; it returns the raw body too.
func fragment(t *testing.T, c *client, path string) (*goquery.Document, string) {
	t.Helper()
	res := c.get(path)
	body := readAll(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, res.StatusCode, body)
	}
	return parseBody(t, body), body
}

// placeholderURL is the address a badge placeholder fetches, or "" when html holds none.
func placeholderURL(t *testing.T, html string) string {
	t.Helper()
	u, _ := parseBody(t, html).Find(`[data-testid="chat-check"][hx-trigger="load"]`).Attr("hx-get")
	return u
}

// badgeStates lists the states of the badges in a selection, in order.
func badgeStates(sel *goquery.Selection) []string {
	var out []string
	sel.Find(`[data-testid="check"]`).Each(func(_ int, s *goquery.Selection) {
		out = append(out, s.AttrOr("data-state", ""))
	})
	return out
}

func TestChatBadgesAreCheckedOnceStoredAndShared(t *testing.T) {
	checker := newTestChecker(t)
	answers := map[string]string{"v1": answerCompiles, "v2": answerFails, "v3": answerProse}
	app := newCheckedApp(t, checker, answers)
	ada := app.login("ada", store.RoleViewer)
	id := startChat(t, ada, "Show me.", 16, app.models["v1"], app.models["v2"], app.models["v3"])

	// The done event carries a placeholder that asks for the badge; nothing was compiled yet.
	var urls []string
	for col := range 3 {
		s := readColumnStream(t, ada.get(fmt.Sprintf("/chat/%d/stream/%d", id, col)))
		u := placeholderURL(t, s.done.Check)
		turns := columnOf(t, app.testApp, id, col)
		if want := chatCheckPath(id, turns[len(turns)-1].Seq); u != want {
			t.Fatalf("column %d: done check %q, want a placeholder for %s", col, s.done.Check, want)
		}
		urls = append(urls, u)
	}
	if n := checker.Runs(); n != 0 {
		t.Fatalf("%d compiler runs while streaming, want 0", n)
	}

	want := []string{"compiles", "fails", "no-code"}
	for col, u := range urls {
		doc, body := fragment(t, ada, u)
		if got := badgeStates(doc.Selection); len(got) != 1 || got[0] != want[col] {
			t.Fatalf("column %d badge %v, want %s: %s", col, got, want[col], body)
		}
		if col == 1 {
			if msg := testid(doc, "check-error").Text(); msg != failsFirst {
				t.Errorf("first error %q, want %q", msg, failsFirst)
			}
			if strings.Contains(body, "<script") || !strings.Contains(body, "&lt;script&gt;") {
				t.Errorf("the first error is not escaped: %s", body)
			}
		}
	}
	runs := checker.Runs()
	if runs == 0 {
		t.Fatal("the compiler never ran")
	}

	// Asked again, a stored badge is answered without compiling.
	for _, u := range urls {
		fragment(t, ada, u)
	}
	if n := checker.Runs(); n != runs {
		t.Fatalf("asking again compiled %d more times", n-runs)
	}
	// The reloaded page shows the stored badges and asks for none.
	page := ada.page(fmt.Sprintf("/chat/%d", id))
	if got := badgeStates(page.Selection); fmt.Sprint(got) != fmt.Sprint(want) || page.Find("[hx-get]").Length() != 0 {
		t.Fatalf("reloaded badges %v, placeholders %d", got, page.Find("[hx-get]").Length())
	}

	// Another server (a restart) reuses the stored verdicts: the same code in a new chat is not compiled.
	fresh := newTestChecker(t)
	app.serveWith(fresh)
	again := startChat(t, ada, "Once more.", 16, app.models["v1"])
	s := readColumnStream(t, ada.get(fmt.Sprintf("/chat/%d/stream/0", again)))
	if doc, _ := fragment(t, ada, placeholderURL(t, s.done.Check)); fmt.Sprint(badgeStates(doc.Selection)) != "[compiles]" {
		t.Fatalf("the same code in another chat: %s", doc.Text())
	}
	if n := fresh.Runs(); n != 0 {
		t.Fatalf("the same code was compiled again (%d runs)", n)
	}

	// The shared link shows the stored badges; it asks for none.
	if res := ada.postForm(fmt.Sprintf("/chat/%d/share", id), url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("share: status %d", res.StatusCode)
	}
	link, _ := testid(ada.page(fmt.Sprintf("/chat/%d", id)), "share-link").Attr("href")
	stranger := app.newClient()
	shared := stranger.page(link)
	if got := badgeStates(shared.Selection); fmt.Sprint(got) != fmt.Sprint(want) || shared.Find("[hx-get]").Length() != 0 {
		t.Fatalf("shared badges %v, placeholders %d", got, shared.Find("[hx-get]").Length())
	}
	if msg := testid(shared, "check-error").Text(); msg != failsFirst {
		t.Errorf("shared first error %q", msg)
	}
	// Neither a stranger nor another user checks anyone's chat.
	if res := stranger.get(urls[0]); res.StatusCode != http.StatusSeeOther {
		t.Errorf("check without login: status %d, want a redirect to log in", res.StatusCode)
	}
	bob := app.login("bob", store.RoleAdmin)
	for _, u := range urls {
		if res := bob.get(u); res.StatusCode != http.StatusNotFound {
			t.Errorf("another user GET %s: status %d, want 404", u, res.StatusCode)
		}
	}
	// A question is no answer to check.
	if res := ada.get(chatCheckPath(id, 1)); res.StatusCode != http.StatusNotFound {
		t.Errorf("check of a question: status %d, want 404", res.StatusCode)
	}
}

func TestChatUncheckedAnswerStaysUncheckedForOthers(t *testing.T) {
	checker := newTestChecker(t)
	app := newCheckedApp(t, checker, map[string]string{"v1": answerCompiles})
	ada := app.login("ada", store.RoleViewer)
	id := startChat(t, ada, "Show me.", 16, app.models["v1"])
	s := readColumnStream(t, ada.get(fmt.Sprintf("/chat/%d/stream/0", id)))
	u := placeholderURL(t, s.done.Check)
	if res := ada.postForm(fmt.Sprintf("/chat/%d/share", id), url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("share: status %d", res.StatusCode)
	}
	link, _ := testid(ada.page(fmt.Sprintf("/chat/%d", id)), "share-link").Attr("href")
	shared := app.newClient().page(link)
	if shared.Find(`[data-testid="chat-check"], [hx-get]`).Length() != 0 {
		t.Fatalf("the shared page of an unchecked answer shows or asks for a badge: %s", testid(shared, "chat-answer").Text())
	}
	bob := app.login("bob", store.RoleViewer)
	if res := bob.get(u); res.StatusCode != http.StatusNotFound {
		t.Fatalf("another user's check: status %d, want 404", res.StatusCode)
	}
	if n := checker.Runs(); n != 0 {
		t.Fatalf("%d compiler runs, want none", n)
	}
}

func TestChatSamplingIsStoredWithTheAnswer(t *testing.T) {
	app := newCheckedApp(t, nil, map[string]string{"v1": answerCompiles, "v2": answerProse})
	ada := app.login("ada", store.RoleViewer)
	id := startChat(t, ada, "Show me.", 16, app.models["v1"], app.models["v2"])
	s := readColumnStream(t, ada.get(fmt.Sprintf("/chat/%d/stream/0?temperature=0.2&top_p=0.9&max_tokens=64", id)))
	if s.done.Sampling != "t=0.2 · top-p 0.9 · 64 tokens" || s.done.Check != "" {
		t.Fatalf("done sampling %q, check %q (no compiler: no badge)", s.done.Sampling, s.done.Check)
	}
	if p := app.rec.of("v1"); p.Temperature != 0.2 || p.TopP != 0.9 || p.MaxTokens != 64 {
		t.Fatalf("the model was asked with %+v", p)
	}
	readColumnStream(t, ada.get(fmt.Sprintf("/chat/%d/stream/1", id)))
	if p := app.rec.of("v2"); p.Temperature != 0.7 || p.TopP != 0 || p.MaxTokens != 512 {
		t.Fatalf("defaults: the model was asked with %+v", p)
	}
	if res := ada.get(fmt.Sprintf("/chat/%d/stream/0?top_p=0", id)); res.StatusCode != http.StatusBadRequest {
		t.Errorf("top-p 0: status %d, want 400", res.StatusCode)
	}

	// After a reload each column says how its answer was sampled, and the inputs hold those settings.
	page := ada.page(fmt.Sprintf("/chat/%d", id))
	heads := testid(page, "chat-column")
	if got := heads.Eq(0).Find(`[data-testid="column-sampling"]`).Text(); got != "t=0.2 · top-p 0.9 · 64 tokens" {
		t.Errorf("column 1 sampling %q", got)
	}
	if got := heads.Eq(1).Find(`[data-testid="column-sampling"]`).Text(); got != "t=0.7 · 512 tokens" {
		t.Errorf("column 2 sampling %q", got)
	}
	if v, _ := heads.Eq(0).Find("[data-temperature]").Attr("value"); v != "0.2" {
		t.Errorf("column 1 temperature input %q", v)
	}
	if v, _ := heads.Eq(0).Find("[data-top-p]").Attr("value"); v != "0.9" {
		t.Errorf("column 1 top-p input %q", v)
	}
	if v, _ := heads.Eq(0).Find("[data-max-tokens]").Attr("value"); v != "64" {
		t.Errorf("column 1 max tokens input %q", v)
	}
	// Without a compiler there are no badges and nothing asks for one; the route answers with none.
	if page.Find(`[data-testid="chat-check"], [hx-get]`).Length() != 0 {
		t.Error("badges or placeholders without a compiler")
	}
	turns := columnOf(t, app.testApp, id, 0)
	if doc, _ := fragment(t, ada, chatCheckPath(id, turns[1].Seq)); doc.Find(`[data-testid="check"]`).Length() != 0 {
		t.Errorf("a badge without a compiler: %s", doc.Text())
	}

	// The shared view shows the settings too.
	if res := ada.postForm(fmt.Sprintf("/chat/%d/share", id), url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("share: status %d", res.StatusCode)
	}
	link, _ := testid(ada.page(fmt.Sprintf("/chat/%d", id)), "share-link").Attr("href")
	shared := app.newClient().page(link)
	if got := testid(shared, "column-sampling").First().Text(); got != "t=0.2 · top-p 0.9 · 64 tokens" {
		t.Errorf("shared column sampling %q", got)
	}

	// The new-chat form takes a top-p per column and refuses a bad one.
	form := url.Values{"question": {"q"}, "model_0": {fmt.Sprint(app.models["v1"].ID)}, "temperature_0": {"0.5"},
		"top_p_0": {"1.5"}, "max_tokens_0": {"32"}}
	if res := ada.postForm("/chat", form); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("top-p 1.5: status %d, want 422", res.StatusCode)
	}
	form.Set("top_p_0", "0.5")
	res := ada.postForm("/chat", form)
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "top_p_0=0.5") {
		t.Errorf("new chat: status %d, location %q", res.StatusCode, loc)
	}
}

func TestArenaBadgesOnlyAfterTheVote(t *testing.T) {
	checker := newTestChecker(t)
	app := newCheckedApp(t, checker, map[string]string{"v1": answerCompiles, "v2": answerFails})
	vic := app.login("vic", store.RoleViewer)
	id := startBattle(t, vic, url.Values{"question": {"Show me."}})
	b, err := app.store.UserArenaBattle(t.Context(), userID(t, app.apiApp, "vic"), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{"a", "b"} {
		readColumnStream(t, vic.get(fmt.Sprintf("/arena/%d/stream/%s", id, side)))
	}
	page := vic.page(fmt.Sprintf("/arena/%d", id))
	if page.Find(`[data-testid="chat-check"], [hx-get]`).Length() != 0 {
		t.Fatal("the battle shows or asks for badges before the vote")
	}
	if res := vic.get(arenaCheckPath(id, 0)); res.StatusCode != http.StatusConflict {
		t.Fatalf("check before the vote: status %d, want 409", res.StatusCode)
	}
	if n := checker.Runs(); n != 0 {
		t.Fatalf("%d compiler runs before the vote", n)
	}

	res := voteJSON(vic, id, "tie")
	got := decodeBody[arenaVoteJSON](t, res)
	want := map[string]string{"v1": "compiles", "v2": "fails"}
	for side := range 2 {
		u := placeholderURL(t, got.Checks[side])
		if u != arenaCheckPath(id, side) {
			t.Fatalf("side %d: vote answer's check %q", side, got.Checks[side])
		}
		doc, _ := fragment(t, vic, u)
		if s := badgeStates(doc.Selection); fmt.Sprint(s) != "["+want[b.Models[side]]+"]" {
			t.Fatalf("side %d (%s): badge %v", side, b.Models[side], s)
		}
	}
	runs := checker.Runs()
	page = vic.page(fmt.Sprintf("/arena/%d", id))
	for side, key := range []string{"a", "b"} {
		slot := testid(page, "arena-check-"+key)
		if s := badgeStates(slot); fmt.Sprint(s) != "["+want[b.Models[side]]+"]" || slot.Find("[hx-get]").Length() != 0 {
			t.Fatalf("side %s after reload: badges %v", key, s)
		}
	}
	if msg := testid(page, "check-error").Text(); msg != failsFirst {
		t.Errorf("first error %q", msg)
	}
	if n := checker.Runs(); n != runs {
		t.Errorf("the reload compiled %d more times", n-runs)
	}
	bob := app.login("bob", store.RoleViewer)
	if res := bob.get(arenaCheckPath(id, 0)); res.StatusCode != http.StatusNotFound {
		t.Errorf("another user's battle check: status %d, want 404", res.StatusCode)
	}
}
