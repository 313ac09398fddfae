package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"rustexpert/inference"
	"rustexpert/store"
)

// chatEvent is one server-sent event of a chat column's stream.
type chatEvent struct {
	name string
	data string
}

// nextChatEvent reads one event (comments skipped); io.EOF when the stream ended.
func nextChatEvent(br *bufio.Reader) (chatEvent, error) {
	var ev chatEvent
	var data []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && ev.name != "":
			ev.data = strings.Join(data, "\n")
			return ev, nil
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		case line == "data:":
			data = append(data, "")
		}
	}
}

// columnStream is what one stream of a column sent: its text deltas and its last event.
type columnStream struct {
	deltas []string
	last   chatEvent
	done   chatDone
}

func (s columnStream) text() string { return strings.Join(s.deltas, "") }

// readColumnStream reads a whole stream; the last event must be done or failed.
func readColumnStream(t *testing.T, res *http.Response) columnStream {
	t.Helper()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("stream: status %d, %s: %s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	br := bufio.NewReader(res.Body)
	var out columnStream
	for {
		ev, err := nextChatEvent(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.name == "delta" {
			out.deltas = append(out.deltas, ev.data)
			continue
		}
		out.last = ev
	}
	switch out.last.name {
	case "done":
		if err := json.Unmarshal([]byte(out.last.data), &out.done); err != nil {
			t.Fatalf("done event %q: %v", out.last.data, err)
		}
	case "failed":
	default:
		t.Fatalf("the stream ended with %+v, want done or failed", out.last)
	}
	return out
}

// startChat posts a first question to the models and returns the chat's id.
func startChat(t *testing.T, c *client, question string, maxTokens int, models ...store.Model) int64 {
	t.Helper()
	form := url.Values{"question": {question}}
	for i, m := range models {
		k := fmt.Sprint(i)
		form.Set("model_"+k, fmt.Sprint(m.ID))
		form.Set("temperature_"+k, "0")
		form.Set("max_tokens_"+k, fmt.Sprint(maxTokens))
	}
	res := c.postForm("/chat", form)
	if res.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("new chat: status %d: %s", res.StatusCode, b)
	}
	m := regexp.MustCompile(`^/chat/(\d+)\?`).FindStringSubmatch(res.Header.Get("Location"))
	if m == nil {
		t.Fatalf("new chat went to %q", res.Header.Get("Location"))
	}
	var id int64
	fmt.Sscan(m[1], &id)
	return id
}

func columnOf(t *testing.T, app *testApp, chatID int64, col int) []store.ChatTurn {
	t.Helper()
	turns, err := app.store.ChatTurns(t.Context(), chatID)
	if err != nil {
		t.Fatal(err)
	}
	return columnTurns(turns, col)
}

func registerBundled(t *testing.T, app *apiApp) store.Model {
	t.Helper()
	m, err := app.store.CreateModel(t.Context(), store.ModelInput{Name: "base", Provider: store.ProviderBuiltin, Base: bundledModel(t)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestChatColumnStreamsTheRealModelOverTwoTurns(t *testing.T) {
	app := newLocalApp(t)
	base := registerBundled(t, app)
	vic := app.login("vic", store.RoleViewer) // any logged-in user may chat
	form := vic.page("/chat")
	if picked := testid(form, "model-0").Find("option[selected]").Text(); picked != "v1" {
		t.Errorf("first column defaults to %q, want v1", picked)
	}
	if picked := testid(form, "model-1").Find("option[selected]").Text(); picked != "base" {
		t.Errorf("second column defaults to %q, want base", picked)
	}
	id := startChat(t, vic, "What is a Rust crate?", 12, base)
	page := vic.page(fmt.Sprintf("/chat/%d?temperature_0=0&max_tokens_0=12", id))
	if n := page.Find("[data-testid=chat-answer][data-pending]").Length(); n != 1 {
		t.Fatalf("%d pending answers on the new chat, want 1", n)
	}
	if v, _ := testid(page, "max-tokens-0").Attr("value"); v != "12" {
		t.Errorf("the column's max tokens input shows %q, want 12", v)
	}

	stream := fmt.Sprintf("/chat/%d/stream/0?temperature=0&max_tokens=12", id)
	first := readColumnStream(t, vic.get(stream))
	turns := columnOf(t, app.testApp, id, 0)
	if len(turns) != 2 || turns[1].Role != store.ChatRoleAssistant {
		t.Fatalf("column after the first answer: %+v", turns)
	}
	answer := turns[1]
	if first.last.name != "done" || len(first.deltas) == 0 || first.text() != answer.Content {
		t.Fatalf("streamed %q (last %+v), stored %q", first.text(), first.last, answer.Content)
	}
	if first.done.FinishReason != answer.FinishReason || first.done.Tokens != answer.Tokens || answer.Tokens == 0 ||
		first.done.HTML != app.md.HTML(answer.Content) {
		t.Errorf("done %+v does not match the stored %+v", first.done, answer)
	}

	// The second question is answered with the column's history.
	res := vic.htmx(http.MethodPost, fmt.Sprintf("/chat/%d/turns", id), url.Values{"question": {"Name one."}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("second question: status %d", res.StatusCode)
	}
	fragment := parse(t, res)
	if q := testid(fragment, "chat-question").Text(); q != "Name one." || fragment.Find("[data-pending]").Length() != 1 {
		t.Fatalf("the new exchange shows %q with %d pending answers", q, fragment.Find("[data-pending]").Length())
	}
	second := readColumnStream(t, vic.get(stream))
	turns = columnOf(t, app.testApp, id, 0)
	if len(turns) != 4 || turns[3].Content != second.text() || turns[0].Content != "What is a Rust crate?" || turns[1].Content != answer.Content {
		t.Fatalf("column after the second answer: %+v, streamed %q", turns, second.text())
	}

	// Asking an answered column again replays its stored answer without the model.
	replay := readColumnStream(t, vic.get(stream))
	if len(replay.deltas) != 0 || replay.done.HTML != app.md.HTML(turns[3].Content) {
		t.Errorf("replay sent %d deltas and %+v", len(replay.deltas), replay.done)
	}
	// Regenerate drops the last answer; the stream writes a new one.
	if res := vic.htmx(http.MethodPost, fmt.Sprintf("/chat/%d/columns/0/regenerate", id), nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("regenerate: status %d", res.StatusCode)
	}
	if n := len(columnOf(t, app.testApp, id, 0)); n != 3 {
		t.Fatalf("%d turns after regenerate, want 3", n)
	}
	again := readColumnStream(t, vic.get(stream))
	if turns := columnOf(t, app.testApp, id, 0); len(turns) != 4 || turns[3].Content != again.text() || again.last.name != "done" {
		t.Fatalf("after regenerate: %+v, streamed %q", turns, again.text())
	}
}

func TestChatStopMidStreamStoresThePartialAnswer(t *testing.T) {
	app := newLocalApp(t)
	base := registerBundled(t, app)
	ada := app.login("ada", store.RoleAnnotator)
	id := startChat(t, ada, "Write a long story about a crab who learns Rust.", 400, base)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/chat/%d/stream/0?max_tokens=400", app.srv.URL, id), nil)
	res, err := ada.http.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("stream: %v %v", res, err)
	}
	br := bufio.NewReader(res.Body)
	var got strings.Builder
	for deltas := 0; deltas < 3; {
		ev, err := nextChatEvent(br)
		if err != nil || ev.name != "delta" {
			t.Fatalf("event %+v, %v: want text before stopping", ev, err)
		}
		got.WriteString(ev.data)
		deltas++
	}
	cancel() // the reader stops, as the Stop button closing the EventSource does
	res.Body.Close()

	deadline := time.Now().Add(30 * time.Second)
	for {
		turns := columnOf(t, app.testApp, id, 0)
		if len(turns) == 2 {
			a := turns[1]
			if a.FinishReason != finishStopped || !strings.HasPrefix(a.Content, got.String()) || a.Content == "" {
				t.Fatalf("stored %+v, want a stopped answer starting with %q", a, got.String())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stopped answer was not stored")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scriptedGenerator stands in for a model whose answer holds markup: it sends the pieces, then
// answers with them joined.
type scriptedGenerator struct{ pieces []string }

func (g scriptedGenerator) Chat(ctx context.Context, req inference.Request, onDelta func(inference.Delta)) (inference.Result, error) {
	for _, p := range g.pieces {
		onDelta(inference.Delta{Text: p})
	}
	text := strings.Join(g.pieces, "")
	return inference.Result{Choices: []inference.Choice{{Text: text, FinishReason: "stop"}},
		Usage: inference.Usage{CompletionTokens: len(g.pieces)}}, nil
}

func newScriptedChatApp(t *testing.T, pieces ...string) (*apiApp, store.Model) {
	app := newAPIApp(t, func(store.Model) (inference.Generator, error) { return scriptedGenerator{pieces: pieces}, nil })
	m, err := app.store.ModelByName(t.Context(), "v1")
	if err != nil {
		t.Fatal(err)
	}
	return app, m
}

func TestChatAnswerMarkupIsEscapedOrRendered(t *testing.T) {
	app, v1 := newScriptedChatApp(t, "<script>alert(1)</script>\n", "and **bold**\n", "two\nlines")
	ada := app.login("ada", store.RoleViewer)
	id := startChat(t, ada, "Say something.", 16, v1, v1)
	s := readColumnStream(t, ada.get(fmt.Sprintf("/chat/%d/stream/1", id)))
	// Deltas are the model's text as plain data, multi-line pieces included; the browser appends text.
	if want := []string{"<script>alert(1)</script>\n", "and **bold**\n", "two\nlines"}; fmt.Sprint(s.deltas) != fmt.Sprint(want) {
		t.Fatalf("deltas %q, want %q", s.deltas, want)
	}
	if strings.Contains(s.done.HTML, "<script") || !strings.Contains(s.done.HTML, "<strong>bold</strong>") {
		t.Fatalf("done HTML is not sanitized Markdown: %q", s.done.HTML)
	}
	if s.done.FinishReason != "stop" || s.done.Tokens != 3 {
		t.Errorf("done %+v", s.done)
	}
	page := ada.page(fmt.Sprintf("/chat/%d", id))
	answers := testid(page, "chat-answer")
	if answers.Length() != 2 || answers.Find("script").Length() != 0 || answers.Eq(1).Find("strong").Text() != "bold" {
		t.Fatalf("page answers: %s", answers.Text())
	}
	if !answers.Eq(0).Is("[data-pending]") || answers.Eq(1).Is("[data-pending]") {
		t.Errorf("only the unanswered column should be pending")
	}
}

func TestChatIsOwnersOnlyUntilShared(t *testing.T) {
	app, v1 := newScriptedChatApp(t, "Use `Rc<RefCell<T>>`.")
	ada := app.login("ada", store.RoleViewer)
	id := startChat(t, ada, "Shared mutable state?", 16, v1)
	readColumnStream(t, ada.get(fmt.Sprintf("/chat/%d/stream/0", id)))

	bob := app.login("bob", store.RoleAdmin)
	for _, path := range []string{"/chat/%d", "/chat/%d/stream/0"} {
		if res := bob.get(fmt.Sprintf(path, id)); res.StatusCode != http.StatusNotFound {
			t.Errorf("another user GET %s: status %d, want 404", path, res.StatusCode)
		}
	}
	for _, path := range []string{"/chat/%d/turns", "/chat/%d/share", "/chat/%d/columns/0/regenerate"} {
		if res := bob.postForm(fmt.Sprintf(path, id), url.Values{"question": {"mine now"}}); res.StatusCode != http.StatusNotFound {
			t.Errorf("another user POST %s: status %d, want 404", path, res.StatusCode)
		}
	}
	// Without the CSRF token nothing is written.
	noToken := &client{app: ada.app, http: ada.http}
	if res := noToken.postForm(fmt.Sprintf("/chat/%d/turns", id), url.Values{"question": {"again"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("question without CSRF token: status %d, want 403", res.StatusCode)
	}
	if res := noToken.postForm("/chat", url.Values{"question": {"q"}, "model_0": {fmt.Sprint(v1.ID)}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("new chat without CSRF token: status %d, want 403", res.StatusCode)
	}
	if n := len(columnOf(t, app.testApp, id, 0)); n != 2 {
		t.Fatalf("%d turns after refused requests, want 2", n)
	}
	if chats, _ := app.store.ListChats(t.Context(), 1, 10); len(chats) != 1 {
		t.Fatalf("%d chats after refused requests, want 1", len(chats))
	}

	if res := ada.postForm(fmt.Sprintf("/chat/%d/share", id), url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("share: status %d", res.StatusCode)
	}
	link, ok := testid(ada.page(fmt.Sprintf("/chat/%d", id)), "share-link").Attr("href")
	if !ok || !strings.HasPrefix(link, "/share/chat/") {
		t.Fatalf("share link %q", link)
	}
	stranger := app.newClient()
	res := stranger.get(link)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("X-Robots-Tag"), "noindex") {
		t.Fatalf("shared page: status %d, X-Robots-Tag %q", res.StatusCode, res.Header.Get("X-Robots-Tag"))
	}
	shared := parse(t, res)
	if shared.Find("form, textarea, input, [data-pending]").Length() != 0 {
		t.Errorf("the shared page has forms or streams: %s", shared.Find("main").Text())
	}
	if q := testid(shared, "chat-question").Text(); q != "Shared mutable state?" {
		t.Errorf("shared question %q", q)
	}
	if code := testid(shared, "chat-answer").Find("code").Text(); code != "Rc<RefCell<T>>" {
		t.Errorf("shared answer code %q", code)
	}
	if res := stranger.get(link + "x"); res.StatusCode != http.StatusNotFound {
		t.Errorf("wrong token: status %d, want 404", res.StatusCode)
	}
	if res := stranger.get(fmt.Sprintf("/chat/%d", id)); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the chat itself without login: status %d, want a redirect to log in", res.StatusCode)
	}
}

func TestChatFormShowsProblems(t *testing.T) {
	app, v1 := newScriptedChatApp(t, "x")
	ada := app.login("ada", store.RoleViewer)
	res := ada.postForm("/chat", url.Values{"question": {"q"}, "model_0": {fmt.Sprint(v1.ID)}, "temperature_0": {"9"}, "max_tokens_0": {"0"}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", res.StatusCode)
	}
	msg := testid(parse(t, res), "form-errors").Text()
	if !strings.Contains(msg, "column 1 temperature") || !strings.Contains(msg, "column 1 max tokens") {
		t.Errorf("errors %q", msg)
	}
	res = ada.postForm("/chat", url.Values{"question": {"q"}, "model_0": {""}})
	if msg := testid(parse(t, res), "form-errors").Text(); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(msg, "at least one model") {
		t.Errorf("no columns: status %d, %q", res.StatusCode, msg)
	}
	res = ada.postForm("/chat", url.Values{"question": {"  "}, "model_0": {fmt.Sprint(v1.ID)}, "temperature_0": {"0.7"}, "max_tokens_0": {"8"}})
	if msg := testid(parse(t, res), "form-errors").Text(); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(msg, "question") {
		t.Errorf("empty question: status %d, %q", res.StatusCode, msg)
	}
	id := startChat(t, ada, "q", 8, v1)
	if res := ada.get(fmt.Sprintf("/chat/%d/stream/0?temperature=3", id)); res.StatusCode != http.StatusBadRequest {
		t.Errorf("stream with a bad temperature: status %d, want 400", res.StatusCode)
	}
	if res := ada.get(fmt.Sprintf("/chat/%d/stream/1", id)); res.StatusCode != http.StatusNotFound {
		t.Errorf("stream of a missing column: status %d, want 404", res.StatusCode)
	}
}

// recordingGenerator stands in for a model: it answers text and keeps each request's last message.
type recordingGenerator struct {
	text string
	mu   *sync.Mutex
	got  *[]string
}

func (g recordingGenerator) Chat(_ context.Context, req inference.Request, onDelta func(inference.Delta)) (inference.Result, error) {
	g.mu.Lock()
	*g.got = append(*g.got, req.Messages[len(req.Messages)-1].Content)
	g.mu.Unlock()
	onDelta(inference.Delta{Text: g.text})
	return inference.Result{Choices: []inference.Choice{{Text: g.text, FinishReason: "stop"}}, Usage: inference.Usage{CompletionTokens: 1}}, nil
}

// A column "with docs" puts the retrieved excerpts in front of its question, sends and stores the
// sources, and the page marks the ones the answer cites; the other column gets the bare question.
func TestChatRAGColumnShowsItsSources(t *testing.T) {
	var mu sync.Mutex
	var got []string
	app := newAPIApp(t, func(store.Model) (inference.Generator, error) {
		return recordingGenerator{text: "See [1] and [2].", mu: &mu, got: &got}, nil
	})
	ingestRAGTestdata(t, app.testApp)
	v1, _ := app.store.ModelByName(t.Context(), "v1")
	ada := app.login("ada", store.RoleViewer)
	form := url.Values{"question": {"What does error E0502 mean?"}, "model_0": {fmt.Sprint(v1.ID)}, "rag_0": {"1"},
		"model_1":       {fmt.Sprint(v1.ID)},
		"temperature_0": {"0"}, "max_tokens_0": {"16"}, "temperature_1": {"0"}, "max_tokens_1": {"16"}}
	res := ada.postForm("/chat", form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("new chat: status %d", res.StatusCode)
	}
	var id int64
	fmt.Sscanf(res.Header.Get("Location"), "/chat/%d", &id)

	br := bufio.NewReader(ada.get(fmt.Sprintf("/chat/%d/stream/0", id)).Body)
	first, err := nextChatEvent(br)
	if err != nil || first.name != "sources" || !strings.Contains(first.data, `"title":"Error codes › Error code E0502"`) {
		t.Fatalf("first event %+v, %v; want the sources", first, err)
	}
	for err == nil && first.name != "done" && first.name != "failed" {
		first, err = nextChatEvent(br) // the rest of the column's stream
	}
	readColumnStream(t, ada.get(fmt.Sprintf("/chat/%d/stream/1", id)))
	mu.Lock()
	asked := slices.Clone(got)
	mu.Unlock()
	slices.Sort(asked) // the columns answer concurrently: any order
	// The error code's page is among the numbered excerpts (its rank among the few test pages is
	// the ranking's business).
	if len(asked) != 2 || !strings.Contains(asked[0], "] Error codes › Error code E0502 (https://doc.rust-lang.org/error_codes/E0502.html") ||
		asked[1] != "What does error E0502 mean?" {
		t.Fatalf("the models were asked %q", asked)
	}
	for deadline := time.Now().Add(5 * time.Second); len(columnOf(t, app.testApp, id, 0)) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the retrieval column's answer was not stored")
		}
	}
	page := ada.page(fmt.Sprintf("/chat/%d", id))
	sources := testid(page, "chat-sources")
	// The answer cites [1] and [2], the two pages retrieved: the error code's is shown and marked cited.
	cited := sources.Eq(0).Find("li[data-cited] a").Text() // the cited links' texts, run together
	if sources.Eq(0).Find("li").Length() != 2 || !strings.Contains(cited, "] Error codes › Error code E0502") {
		t.Fatalf("column 1 sources: %q", sources.Eq(0).Text())
	}
	if sources.Eq(1).Find("li").Length() != 0 {
		t.Fatalf("the plain column shows sources: %q", sources.Eq(1).Text())
	}
	if heads := testid(page, "column-model"); !strings.Contains(heads.Eq(0).Text(), "+ docs") || strings.Contains(heads.Eq(1).Text(), "+ docs") {
		t.Fatalf("column heads %q / %q", heads.Eq(0).Text(), heads.Eq(1).Text())
	}
}
