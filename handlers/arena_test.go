package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"rustexpert/generation"
	"rustexpert/inference"
	"rustexpert/render"
	"rustexpert/store"
)

// arenaGenerator answers every question with a text chosen by the model's name: the arena's
// stand-in contestants.
type arenaGenerator struct{ text string }

func (g arenaGenerator) Chat(_ context.Context, _ inference.Request, onDelta func(inference.Delta)) (inference.Result, error) {
	for piece := range strings.SplitAfterSeq(g.text, " ") {
		onDelta(inference.Delta{Text: piece})
	}
	return inference.Result{Choices: []inference.Choice{{Text: g.text, FinishReason: "stop"}}, Usage: inference.Usage{CompletionTokens: 3}}, nil
}

// newArenaApp serves models v1 (already registered by newAPIApp) and v2 with the given answers.
func newArenaApp(t *testing.T, answers map[string]string) *apiApp {
	t.Helper()
	app := newAPIApp(t, func(m store.Model) (inference.Generator, error) {
		text, ok := answers[m.Name]
		if !ok {
			return nil, fmt.Errorf("no answer for %s", m.Name)
		}
		return arenaGenerator{text: text}, nil
	})
	app.addModel("v2", app.up.srv.URL+"/v1", "served-v2")
	return app
}

// startBattle posts the form and returns the new battle's id.
func startBattle(t *testing.T, c *client, form url.Values) int64 {
	t.Helper()
	res := c.postForm("/arena", form)
	m := regexp.MustCompile(`^/arena/(\d+)$`).FindStringSubmatch(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("start battle: status %d, location %q", res.StatusCode, res.Header.Get("Location"))
	}
	var id int64
	fmt.Sscan(m[1], &id)
	return id
}

func voteJSON(c *client, id int64, vote string) *http.Response {
	form := url.Values{"vote": {vote}}
	return c.do(http.MethodPost, fmt.Sprintf("/arena/%d/vote", id), strings.NewReader(form.Encode()), http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"}, "X-Csrf-Token": {c.csrf}, "Accept": {"application/json"}})
}

func TestArenaBattleStreamsVotesAndRevealsNames(t *testing.T) {
	app := newArenaApp(t, map[string]string{"v1": "Use <b>&str</b> **here**.", "v2": "Borrow it <script>x()</script>"})
	vic := app.login("vic", store.RoleViewer) // any logged-in user battles and votes
	if pool := testid(vic.page("/arena"), "arena-page").Text(); !strings.Contains(pool, "of 2 contestants") {
		t.Fatalf("arena page: %q", pool)
	}
	id := startBattle(t, vic, url.Values{"question": {"How do I pass a string?"}})
	b, err := app.store.UserArenaBattle(t.Context(), userID(t, app, "vic"), id)
	if err != nil {
		t.Fatal(err)
	}
	if b.Models[0] == b.Models[1] || b.Category != store.ArenaOpenCategory {
		t.Fatalf("battle %+v", b)
	}

	page := vic.get(fmt.Sprintf("/arena/%d", id))
	html := strings.ReplaceAll(readAll(t, page), vic.csrf, "") // a random token could hold "-v1-"
	if strings.Contains(html, "served-v") || regexp.MustCompile(`\bv[12]\b`).MatchString(html) {
		t.Fatalf("the battle page names a model before the vote")
	}
	if n := strings.Count(html, "data-pending"); n != 2 {
		t.Fatalf("%d pending answers, want 2", n)
	}
	// Voting before the answers are in is refused by the server too.
	if res := voteJSON(vic, id, "a"); res.StatusCode != http.StatusConflict {
		t.Fatalf("early vote: status %d, want 409", res.StatusCode)
	}

	texts := map[string]string{}
	for side, key := range []string{"a", "b"} {
		s := readColumnStream(t, vic.get(fmt.Sprintf("/arena/%d/stream/%s", id, key)))
		if s.last.name != "done" || strings.Contains(s.done.HTML, "<script") || s.done.FinishReason != "stop" {
			t.Fatalf("side %s: %+v", key, s)
		}
		texts[b.Models[side]] = s.text()
	}
	if texts["v1"] != "Use <b>&str</b> **here**." || texts["v2"] != "Borrow it <script>x()</script>" {
		t.Fatalf("streamed %q", texts)
	}
	// A finished side replays its stored answer.
	if s := readColumnStream(t, vic.get(fmt.Sprintf("/arena/%d/stream/a", id))); len(s.deltas) != 0 || s.last.name != "done" {
		t.Fatalf("replay: %+v", s)
	}
	doc := vic.page(fmt.Sprintf("/arena/%d", id))
	if testid(doc, "vote-a").Is("[disabled]") || testid(doc, "arena-answer-a").Is("[data-pending]") {
		t.Fatalf("voting closed after both answers")
	}
	if doc.Find("[data-answer-body] script").Length() != 0 {
		t.Fatal("an answer's script survived rendering")
	}

	res := voteJSON(vic, id, "a")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("vote: status %d: %s", res.StatusCode, readAll(t, res))
	}
	var got arenaVoteJSON
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil || got.Models != b.Models || got.Vote != "a" || got.Dropped != "" {
		t.Fatalf("vote answer %+v, %v", got, err)
	}
	if res := voteJSON(vic, id, "b"); res.StatusCode != http.StatusConflict {
		t.Fatalf("second vote: status %d, want 409", res.StatusCode)
	}
	doc = vic.page(fmt.Sprintf("/arena/%d", id))
	if a, b2 := testid(doc, "arena-model-a").Text(), testid(doc, "arena-model-b").Text(); a != b.Models[0] || b2 != b.Models[1] {
		t.Fatalf("revealed %q and %q, want %v", a, b2, b.Models)
	}

	board := vic.page("/arena/leaderboard")
	rows := testid(board, "arena-row")
	if rows.Length() != 2 || testid(board, "arena-row-model").First().Text() != b.Models[0] {
		t.Fatalf("leaderboard rows %q", rows.Text())
	}
	if n := testid(board, "arena-row-battles").First().Text(); n != "1" {
		t.Errorf("battles %q, want 1", n)
	}
	if testid(board, "arena-win-matrix").Find("td.wf-9").Length() != 1 || testid(board, "arena-count-matrix").Find("td.arena-count").Length() != 2 {
		t.Errorf("matrices: %q", testid(board, "arena-win-matrix").Text())
	}
	if board.Find("[style]").Length() != 0 {
		t.Error("the leaderboard has inline styles")
	}

	// Another user cannot see, stream or vote on the battle.
	bob := app.login("bob", store.RoleAdmin)
	for _, path := range []string{"/arena/%d", "/arena/%d/stream/a"} {
		if res := bob.get(fmt.Sprintf(path, id)); res.StatusCode != http.StatusNotFound {
			t.Errorf("another user GET %s: status %d", path, res.StatusCode)
		}
	}
	if res := voteJSON(bob, id, "b"); res.StatusCode != http.StatusNotFound {
		t.Errorf("another user votes: status %d", res.StatusCode)
	}
	noToken := &client{app: vic.app, http: vic.http}
	if res := noToken.postForm("/arena", url.Values{"question": {"q"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("start without CSRF token: status %d", res.StatusCode)
	}
}

// An answer naming a model drops the battle: the vote is kept but the leaderboard skips it.
func TestArenaDropsBattlesThatNameAModel(t *testing.T) {
	app := newArenaApp(t, map[string]string{"v1": "As V2 would say: borrow.", "v2": "Use a slice."})
	ada := app.login("ada", store.RoleViewer)
	id := startBattle(t, ada, url.Values{"question": {"Slices?"}})
	readColumnStream(t, ada.get(fmt.Sprintf("/arena/%d/stream/a", id)))
	readColumnStream(t, ada.get(fmt.Sprintf("/arena/%d/stream/b", id)))
	res := ada.postForm(fmt.Sprintf("/arena/%d/vote", id), url.Values{"vote": {"tie"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("vote: status %d", res.StatusCode)
	}
	doc := ada.page(fmt.Sprintf("/arena/%d", id))
	if d := testid(doc, "arena-dropped").Text(); !strings.Contains(d, `names "v2"`) {
		t.Fatalf("dropped note %q", d)
	}
	board := ada.page("/arena/leaderboard")
	if testid(board, "arena-row").Length() != 0 || !strings.Contains(testid(board, "arena-summary").Text(), "1 dropped") {
		t.Fatalf("leaderboard counts the dropped battle: %q", testid(board, "arena-summary").Text())
	}
}

func TestArenaDailyCapAndHeldoutPrompts(t *testing.T) {
	app := newArenaApp(t, map[string]string{"v1": "One.", "v2": "Two."})
	ada := app.login("ada", store.RoleViewer)
	// No held-out prompt yet: a clear message.
	res := ada.postForm("/arena", url.Values{"sample": {"1"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(testid(parse(t, res), "form-errors").Text(), "held-out") {
		t.Fatalf("sample without held-out prompts: status %d", res.StatusCode)
	}
	p, err := app.store.CreatePrompt(t.Context(), store.PromptInput{Text: "Explain E0499", Category: "borrowck", Split: store.SplitHeldout}, 0)
	if err != nil {
		t.Fatal(err)
	}
	id := startBattle(t, ada, url.Values{"sample": {"1"}})
	b, _ := app.store.UserArenaBattle(t.Context(), userID(t, app, "ada"), id)
	if b.PromptID != p.ID || b.Question != "Explain E0499" || b.Category != "borrowck" {
		t.Fatalf("sampled battle %+v", b)
	}
	readColumnStream(t, ada.get(fmt.Sprintf("/arena/%d/stream/a", id)))
	readColumnStream(t, ada.get(fmt.Sprintf("/arena/%d/stream/b", id)))
	app.store.SetSetting(t.Context(), store.SettingArenaDailyCap, "1")
	if res := voteJSON(ada, id, "b"); res.StatusCode != http.StatusOK {
		t.Fatalf("vote: status %d", res.StatusCode)
	}
	res = ada.postForm("/arena", url.Values{"question": {"More?"}})
	if msg := testid(parse(t, res), "form-errors").Text(); res.StatusCode != http.StatusConflict || !strings.Contains(msg, "daily cap") {
		t.Fatalf("over the cap: status %d, %q", res.StatusCode, msg)
	}
	board := ada.page("/arena/leaderboard?category=borrowck")
	if testid(board, "arena-row").Length() != 2 || testid(board, "arena-category").Find("option[selected]").Text() != "borrowck" {
		t.Fatalf("category leaderboard: %q", testid(board, "arena-ratings").Text())
	}
	if testid(ada.page("/arena/leaderboard?category=open"), "arena-empty").Length() != 1 {
		t.Error("the open category shows votes it has not got")
	}
}

// With documentation indexed, every model also battles as "+rag"; a failing model's side fails
// without naming it.
func TestArenaPoolHasRAGVariantsAndFailuresStayAnonymous(t *testing.T) {
	app := newArenaApp(t, map[string]string{"v1": "One."}) // v2 has no answer: its generator fails
	ingestRAGTestdata(t, app.testApp)
	ada := app.login("ada", store.RoleViewer)
	if text := testid(ada.page("/arena"), "arena-page").Text(); !strings.Contains(text, "of 4 contestants") || !strings.Contains(text, "+rag") {
		t.Fatalf("arena page with docs: %q", text)
	}
	for range 20 {
		id := startBattle(t, ada, url.Values{"question": {"What does error E0502 mean?"}})
		b, _ := app.store.UserArenaBattle(t.Context(), userID(t, app, "ada"), id)
		for side, name := range b.Models {
			if !strings.HasPrefix(name, "v2") {
				continue
			}
			s := readColumnStream(t, ada.get(fmt.Sprintf("/arena/%d/stream/%s", id, arenaSideKeys[side])))
			if s.last.name != "failed" || strings.Contains(s.last.data, "v2") {
				t.Fatalf("failing side: %+v", s.last)
			}
			if res := voteJSON(ada, id, "a"); res.StatusCode != http.StatusConflict {
				t.Fatalf("vote on a failed battle: status %d", res.StatusCode)
			}
			return
		}
	}
	t.Fatal("20 battles never drew v2")
}

func userID(t *testing.T, app *apiApp, name string) int64 {
	t.Helper()
	u, err := app.store.Authenticate(t.Context(), name, "password123")
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The leaderboard's fit is reused only while the votes are the same: each new vote shows at once.
func TestLeaderboardRefitsAfterEachVote(t *testing.T) {
	app := newArenaApp(t, map[string]string{"v1": "One.", "v2": "Two."})
	ada := app.login("ada", store.RoleViewer)
	if testid(ada.page("/arena/leaderboard"), "arena-empty").Length() != 1 {
		t.Fatal("a leaderboard without votes is not empty")
	}
	var summaries []string
	for i := range 2 {
		id := startBattle(t, ada, url.Values{"question": {fmt.Sprintf("Question %d?", i)}})
		readColumnStream(t, ada.get(fmt.Sprintf("/arena/%d/stream/a", id)))
		readColumnStream(t, ada.get(fmt.Sprintf("/arena/%d/stream/b", id)))
		if res := voteJSON(ada, id, "a"); res.StatusCode != http.StatusOK {
			t.Fatalf("vote %d: status %d", i+1, res.StatusCode)
		}
		board := ada.page("/arena/leaderboard")
		if testid(board, "arena-row").Length() != 2 {
			t.Fatalf("after vote %d: %q", i+1, testid(board, "arena-ratings").Text())
		}
		summaries = append(summaries, testid(board, "arena-summary").Text())
		if again := testid(ada.page("/arena/leaderboard"), "arena-summary").Text(); again != summaries[i] {
			t.Errorf("the same votes read twice differ: %q then %q", summaries[i], again)
		}
	}
	if !strings.Contains(summaries[0], "1 ") || !strings.Contains(summaries[1], "2 ") || summaries[0] == summaries[1] {
		t.Errorf("summaries after one and two votes: %q, %q", summaries[0], summaries[1])
	}
}

// Views of the leaderboard that arrive together share one fit, and while a fit of newer votes runs
// they get the kept one instead of fitting again (200 visitors' views had each fitted anew).
func TestLeaderboardFitsShared(t *testing.T) {
	dir, st, log, hub := testParts(t)
	s := newServer(log, st, generation.New(st, nil, hub, log, 1), hub, render.New(), Config{DataDir: dir})
	seedArenaVotes(t, st, 3) // a fit with its bootstrap then takes long enough for the views to meet
	ctx := t.Context()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.leaderboardFit(ctx, ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := s.fits.made.Load(); n != 1 {
		t.Fatalf("20 views of the same votes made %d fits, want 1", n)
	}

	s.fits.put("", cachedFit{stamp: "earlier votes", battles: 7})
	s.fits.setFitting("", true) // a fit of the votes now stored is running
	fit, err := s.leaderboardFit(ctx, "")
	if err != nil || fit.battles != 7 || s.fits.made.Load() != 2 {
		t.Fatalf("during a fit: got the fit of %d votes (%v) after %d fits, want the kept one of 7 and no new fit", fit.battles, err, s.fits.made.Load())
	}
	s.fits.setFitting("", false)
	if fit, err := s.leaderboardFit(ctx, ""); err != nil || fit.stamp == "earlier votes" || s.fits.made.Load() != 3 {
		t.Fatalf("after it: the fit stamped %q (%v) after %d fits, want a new one", fit.stamp, err, s.fits.made.Load())
	}
}
