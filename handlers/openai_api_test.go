package handlers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"rustexpert/generation"
	"rustexpert/inference"
	"rustexpert/inference/openaitest"
	"rustexpert/store"
)

const apiQuestion = "How do I sum the even numbers of a slice?"

// upstream is the openaitest stand-in as a model's endpoint, keeping the bodies it was sent.
type upstream struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	h := openaitest.Handler(openaitest.Options{})
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.bodies = append(u.bodies, body)
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) requests() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.bodies)
}

// last decodes the last request body the model server got.
func (u *upstream) last(t *testing.T) map[string]any {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.bodies) == 0 {
		t.Fatal("the model server got no request")
	}
	var body map[string]any
	if err := json.Unmarshal(u.bodies[len(u.bodies)-1], &body); err != nil {
		t.Fatal(err)
	}
	return body
}

// apiApp is the test app serving its models over /v1: model "v1" (served upstream as
// "served-v1") answered by the openaitest stand-in, and a working API key.
type apiApp struct {
	*testApp
	up  *upstream
	key string
}

// newAPIApp wires genFor as the app's GeneratorFor; nil means the app's own OpenAI client
// pointed at each model's endpoint, as serve.go does.
func newAPIApp(t *testing.T, genFor generation.GeneratorFor) *apiApp {
	t.Helper()
	app := newTestApp(t)
	if genFor == nil {
		genFor = func(m store.Model) (inference.Generator, error) {
			return inference.NewOpenAI(inference.OpenAIConfig{BaseURL: m.Endpoint}), nil
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(New(log, app.store, app.runner, app.hub, app.md, Config{DataDir: app.dataDir, GeneratorFor: genFor}))
	t.Cleanup(srv.Close)
	app.srv = srv
	a := &apiApp{testApp: app, up: newUpstream(t)}
	a.addModel("v1", a.up.srv.URL+"/v1", "served-v1")
	_, a.key, _ = app.store.CreateAPIKey(t.Context(), "test", 0)
	return a
}

func (a *apiApp) addModel(name, endpoint, served string) store.Model {
	a.t.Helper()
	m, err := a.store.CreateModel(context.Background(), store.ModelInput{Name: name, Endpoint: endpoint, ServedName: served})
	if err != nil {
		a.t.Fatal(err)
	}
	return m
}

// call sends an API request with the key as a bearer token ("" sends no Authorization).
func (a *apiApp) call(method, path, key, body string) *http.Response {
	a.t.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	return a.newClient().do(method, path, r, h)
}

func decodeBody[T any](t *testing.T, res *http.Response) T {
	t.Helper()
	var v T
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return v
}

type apiErrorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	} `json:"error"`
}

// wantAPIError checks an error answer's status, JSON and code and returns its body.
func wantAPIError(t *testing.T, res *http.Response, status int, code string) apiErrorBody {
	t.Helper()
	if res.StatusCode != status {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("status %d, want %d: %s", res.StatusCode, status, b)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
	body := decodeBody[apiErrorBody](t, res)
	if body.Error.Code != code || body.Error.Message == "" || body.Error.Type == "" {
		t.Fatalf("error %+v, want code %q with a message and a type", body.Error, code)
	}
	return body
}

func TestAPIModelListsEveryModel(t *testing.T) {
	a := newAPIApp(t, nil)
	a.addModel("v2", a.up.srv.URL+"/v1", "")
	a.addModel("v2+rag", a.up.srv.URL+"/v1", "")
	models, err := a.store.ListModels(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	res := a.call(http.MethodGet, "/v1/models", a.key, "")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	list := decodeBody[struct {
		Object string     `json:"object"`
		Data   []apiModel `json:"data"`
	}](t, res)
	var want []apiModel
	for _, m := range models {
		want = append(want, apiModel{ID: m.Name, Object: "model", Created: m.CreatedAt.Unix(), OwnedBy: "rustexpert"})
	}
	if list.Object != "list" || !slices.Equal(list.Data, want) || len(want) != 3 {
		t.Fatalf("got %+v, want list of %+v", list, want)
	}

	res = a.call(http.MethodGet, "/v1/models/v2+rag", a.key, "")
	if got := decodeBody[apiModel](t, res); res.StatusCode != http.StatusOK || got != want[2] {
		t.Fatalf("one model: %d %+v, want %+v", res.StatusCode, got, want[2])
	}
	wantAPIError(t, a.call(http.MethodGet, "/v1/models/v3", a.key, ""), http.StatusNotFound, "model_not_found")
	wantAPIError(t, a.call(http.MethodGet, "/v1/embeddings", a.key, ""), http.StatusNotFound, "unknown_url")
	wantAPIError(t, a.call(http.MethodDelete, "/v1/models", a.key, ""), http.StatusMethodNotAllowed, "method_not_allowed")
}

type apiCompletionBody struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage apiUsage `json:"usage"`
}

func TestAPIChatCompletion(t *testing.T) {
	a := newAPIApp(t, nil)
	res := a.call(http.MethodPost, "/v1/chat/completions", a.key, `{"model":"v1","seed":3,"stop":"`+"```"+`",
		"messages":[{"role":"system","content":"You are a Rust expert."},{"role":"user","content":"`+apiQuestion+`"}]}`)
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	got := decodeBody[apiCompletionBody](t, res)
	full := openaitest.Answer(apiQuestion, 3, 0)
	want, _, _ := strings.Cut(full, "```")
	if !strings.HasPrefix(got.ID, "chatcmpl-") || got.Object != "chat.completion" || got.Model != "v1" || got.Created <= 0 {
		t.Fatalf("envelope %+v", got)
	}
	if len(got.Choices) != 1 || got.Choices[0].Index != 0 || got.Choices[0].Message.Role != "assistant" ||
		got.Choices[0].Message.Content != want || got.Choices[0].FinishReason != "stop" {
		t.Fatalf("choices %+v, want one assistant answer %q", got.Choices, want)
	}
	u := got.Usage
	if u.PromptTokens <= 0 || u.CompletionTokens <= 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Fatalf("usage %+v", u)
	}
	sent := a.up.last(t)
	if sent["model"] != "served-v1" || sent["seed"] != 3.0 || sent["temperature"] != 1.0 || sent["n"] != 1.0 ||
		!slices.Equal(anyStrings(sent["stop"]), []string{"```"}) || len(sent["messages"].([]any)) != 2 {
		t.Fatalf("the model server got %v", sent)
	}
}

func anyStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, s := range list {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}

func TestAPIChatTwoChoices(t *testing.T) {
	a := newAPIApp(t, nil)
	res := a.call(http.MethodPost, "/v1/chat/completions", a.key, `{"model":"v1","n":2,"seed":11,"max_tokens":3,"temperature":0.2,"top_p":0.9,
		"messages":[{"role":"user","content":[{"type":"text","text":"`+apiQuestion+`"}]}]}`)
	got := decodeBody[apiCompletionBody](t, res)
	if res.StatusCode != http.StatusOK || len(got.Choices) != 2 {
		t.Fatalf("status %d, %+v", res.StatusCode, got)
	}
	for i, c := range got.Choices {
		full := openaitest.Answer(apiQuestion, 11, i)
		if c.Index != i || c.FinishReason != "length" || c.Message.Content == "" || !strings.HasPrefix(full, c.Message.Content) || c.Message.Content == full {
			t.Errorf("choice %d: %+v, want a 3-token start of %q cut for length", i, c, full)
		}
	}
	if got.Choices[0].Message.Content == got.Choices[1].Message.Content {
		t.Fatalf("both choices say %q", got.Choices[0].Message.Content)
	}
	sent := a.up.last(t)
	if sent["n"] != 2.0 || sent["max_tokens"] != 3.0 || sent["temperature"] != 0.2 || sent["top_p"] != 0.9 {
		t.Fatalf("the model server got %v", sent)
	}
}

// sseEvents reads a server-sent-events body into the data of its events.
func sseEvents(t *testing.T, body io.Reader) []string {
	t.Helper()
	var events []string
	sc := bufio.NewScanner(body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			events = append(events, data)
		} else if line != "" {
			t.Fatalf("unexpected line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return events
}

type apiChunkBody struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *apiUsage `json:"usage"`
}

func TestAPIChatStream(t *testing.T) {
	for _, includeUsage := range []bool{true, false} {
		a := newAPIApp(t, nil)
		opts := ""
		if includeUsage {
			opts = `"stream_options":{"include_usage":true},`
		}
		res := a.call(http.MethodPost, "/v1/chat/completions", a.key, `{"model":"v1","n":2,"seed":7,"stream":true,`+opts+`
			"messages":[{"role":"user","content":"`+apiQuestion+`"}]}`)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
		events := sseEvents(t, res.Body)
		if len(events) < 6 || events[len(events)-1] != "[DONE]" {
			t.Fatalf("events %q do not end in [DONE]", events)
		}
		checkStream(t, events[:len(events)-1], includeUsage)
		if sent := a.up.last(t); sent["stream"] != true || sent["model"] != "served-v1" {
			t.Fatalf("the model server got %v", sent)
		}
	}
}

// checkStream checks the chunks of a two-choice stream: role chunks first, then the deltas
// that make up each answer, one finish per choice after its text, and the usage last if asked.
func checkStream(t *testing.T, events []string, includeUsage bool) {
	t.Helper()
	var texts [2]strings.Builder
	var finished [2]bool
	var usage *apiUsage
	id := ""
	for i, data := range events {
		var c apiChunkBody
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("event %d %q: %v", i, data, err)
		}
		if c.Object != "chat.completion.chunk" || c.Model != "v1" || !strings.HasPrefix(c.ID, "chatcmpl-") || (id != "" && c.ID != id) {
			t.Fatalf("event %d envelope %+v", i, c)
		}
		id = c.ID
		if usage != nil {
			t.Fatalf("event %d comes after the usage chunk", i)
		}
		if c.Usage != nil {
			if len(c.Choices) != 0 {
				t.Fatalf("usage chunk with choices: %s", data)
			}
			usage = c.Usage
			continue
		}
		if len(c.Choices) != 1 {
			t.Fatalf("event %d has %d choices", i, len(c.Choices))
		}
		ch := c.Choices[0]
		switch {
		case i < 2:
			if ch.Index != i || ch.Delta.Role != "assistant" || ch.FinishReason != nil {
				t.Fatalf("event %d is not choice %d's role chunk: %s", i, i, data)
			}
		case ch.FinishReason != nil:
			if *ch.FinishReason != "stop" || finished[ch.Index] {
				t.Fatalf("event %d: finish %s", i, data)
			}
			finished[ch.Index] = true
		case ch.Delta.Content != nil && ch.Delta.Role == "":
			if finished[ch.Index] {
				t.Fatalf("event %d: text after choice %d finished", i, ch.Index)
			}
			texts[ch.Index].WriteString(*ch.Delta.Content)
		default:
			t.Fatalf("event %d: unexpected chunk %s", i, data)
		}
	}
	for i := range texts {
		if want := openaitest.Answer(apiQuestion, 7, i); texts[i].String() != want || !finished[i] {
			t.Errorf("choice %d: text %q finished %v, want %q", i, texts[i].String(), finished[i], want)
		}
	}
	if includeUsage != (usage != nil) {
		t.Fatalf("usage chunk %+v, asked for: %v", usage, includeUsage)
	}
	if usage != nil && (usage.CompletionTokens <= 0 || usage.TotalTokens != usage.PromptTokens+usage.CompletionTokens) {
		t.Fatalf("usage %+v", usage)
	}
}

func TestAPIKeysAreRequired(t *testing.T) {
	a := newAPIApp(t, nil)
	revoked, revokedKey, err := a.store.CreateAPIKey(t.Context(), "old", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.RevokeAPIKey(t.Context(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	chat := `{"model":"v1","messages":[{"role":"user","content":"hi"}]}`
	for _, tc := range []struct{ name, auth string }{
		{"missing", ""},
		{"basic", "Basic " + a.key},
		{"empty bearer", "Bearer "},
		{"bare key", a.key},
		{"invalid", "Bearer rx-not-a-key"},
		{"revoked", "Bearer " + revokedKey},
	} {
		for _, req := range []struct{ method, path, body string }{
			{http.MethodGet, "/v1/models", ""},
			{http.MethodPost, "/v1/chat/completions", chat},
			{http.MethodGet, "/v1/nowhere", ""},
		} {
			h := http.Header{"Content-Type": {"application/json"}}
			if tc.auth != "" {
				h.Set("Authorization", tc.auth)
			}
			res := a.newClient().do(req.method, req.path, strings.NewReader(req.body), h)
			body := wantAPIError(t, res, http.StatusUnauthorized, "invalid_api_key")
			if res.Header.Get("WWW-Authenticate") == "" || body.Error.Param != nil {
				t.Errorf("%s %s %s: %+v, WWW-Authenticate %q", tc.name, req.method, req.path, body, res.Header.Get("WWW-Authenticate"))
			}
		}
	}
	// Answers are JSON for programs, not HTML: "<" stays as it is.
	if raw, _ := io.ReadAll(a.call(http.MethodGet, "/v1/models", "", "").Body); !strings.Contains(string(raw), "Bearer <key>") {
		t.Errorf("missing key: %s", raw)
	}
	// A browser session is no key: the cookie alone does not open /v1.
	admin := a.login("root", store.RoleAdmin)
	wantAPIError(t, admin.get("/v1/models"), http.StatusUnauthorized, "invalid_api_key")
	if a.up.requests() != 0 {
		t.Fatalf("the model server got %d requests from unauthorised calls", a.up.requests())
	}
}

// TestAPISkipsBrowserChecks shows /v1 is outside the CSRF and cross-origin checks: a POST
// with a key, no CSRF token and a cross-site origin is answered.
func TestAPISkipsBrowserChecks(t *testing.T) {
	a := newAPIApp(t, nil)
	h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + a.key},
		"Origin": {"https://elsewhere.example"}, "Sec-Fetch-Site": {"cross-site"}}
	res := a.newClient().do(http.MethodPost, "/v1/chat/completions",
		strings.NewReader(`{"model":"v1","messages":[{"role":"user","content":"hi"}]}`), h)
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	keys, err := a.store.ListAPIKeys(t.Context())
	if err != nil || len(keys) != 1 || keys[0].LastUsedAt.IsZero() {
		t.Fatalf("the key's last use is not recorded: %+v, %v", keys, err)
	}
}

func TestAPIChatRefusesBadRequests(t *testing.T) {
	a := newAPIApp(t, nil)
	user := `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct{ body, param, want string }{
		{``, "body", "empty"},
		{`{"model":`, "body", "invalid JSON"},
		{`[1]`, "body", "JSON object"},
		{`{` + user + `}`, "model", "required"},
		{`{"model":"v1"}`, "messages", "at least one"},
		{`{"model":"v1","messages":[]}`, "messages", "at least one"},
		{`{"model":"v1","messages":"hi"}`, "messages", "a list"},
		{`{"model":"v1","messages":[{"role":"system","content":"a"},{"role":"user","content":"b"},{"role":"tool","content":"c"}]}`,
			"messages[2].role", "messages[2].role: must be system, user or assistant"},
		{`{"model":"v1","messages":[{"role":"user","content":42}]}`, "messages[0].content", "string or a list"},
		{`{"model":"v1","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url"}]}]}`,
			"messages[0].content[1]", "only text"},
		{`{"model":"v1","n":0,` + user + `}`, "n", "1 to 8"},
		{`{"model":"v1","n":9,` + user + `}`, "n", "1 to 8"},
		{`{"model":"v1","n":"two",` + user + `}`, "n", "whole number"},
		{`{"model":"v1","max_tokens":0,` + user + `}`, "max_tokens", "at least 1"},
		{`{"model":"v1","max_completion_tokens":-5,` + user + `}`, "max_completion_tokens", "at least 1"},
		{`{"model":"v1","temperature":2.5,` + user + `}`, "temperature", "0 to 2"},
		{`{"model":"v1","temperature":-0.1,` + user + `}`, "temperature", "0 to 2"},
		{`{"model":"v1","temperature":"hot",` + user + `}`, "temperature", "a number"},
		{`{"model":"v1","top_p":0,` + user + `}`, "top_p", "above 0"},
		{`{"model":"v1","stop":["a","b","c","d","e"],` + user + `}`, "stop", "at most 4"},
		{`{"model":"v1","stop":5,` + user + `}`, "stop", "string or a list"},
		{`{"model":"v1","seed":1.5,` + user + `}`, "seed", "whole number"},
	} {
		res := a.call(http.MethodPost, "/v1/chat/completions", a.key, tc.body)
		if res.StatusCode != http.StatusBadRequest {
			b, _ := io.ReadAll(res.Body)
			t.Errorf("%s: status %d, want 400: %s", tc.body, res.StatusCode, b)
			continue
		}
		e := decodeBody[apiErrorBody](t, res).Error
		if e.Param == nil || *e.Param != tc.param || !strings.HasPrefix(e.Message, tc.param+": ") || !strings.Contains(e.Message, tc.want) ||
			e.Type != "invalid_request_error" {
			t.Errorf("%s: error %+v, want param %q and a message with %q", tc.body, e, tc.param, tc.want)
		}
	}
	if n := a.up.requests(); n != 0 {
		t.Fatalf("the model server got %d requests from refused ones", n)
	}
}

func TestAPIChatUnknownModelAndLargeBody(t *testing.T) {
	a := newAPIApp(t, nil)
	e := wantAPIError(t, a.call(http.MethodPost, "/v1/chat/completions", a.key,
		`{"model":"v9","messages":[{"role":"user","content":"hi"}]}`), http.StatusNotFound, "model_not_found")
	if e.Error.Param == nil || *e.Error.Param != "model" || !strings.Contains(e.Error.Message, `"v9"`) {
		t.Fatalf("unknown model: %+v", e.Error)
	}
	huge := `{"model":"v1","messages":[{"role":"user","content":"` + strings.Repeat("a", maxChatBodyBytes) + `"}]}`
	wantAPIError(t, a.call(http.MethodPost, "/v1/chat/completions", a.key, huge), http.StatusRequestEntityTooLarge, "request_too_large")
	if n := a.up.requests(); n != 0 {
		t.Fatalf("the model server got %d requests", n)
	}
}

func TestAPIChatModelServerFails(t *testing.T) {
	a := newAPIApp(t, nil)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"prompt is longer than the context window"}}`)
	}))
	t.Cleanup(broken.Close)
	a.addModel("broken", broken.URL+"/v1", "")
	for _, stream := range []string{"false", "true"} {
		res := a.call(http.MethodPost, "/v1/chat/completions", a.key,
			`{"model":"broken","stream":`+stream+`,"messages":[{"role":"user","content":"hi"}]}`)
		e := wantAPIError(t, res, http.StatusBadGateway, "upstream_error")
		if !strings.Contains(e.Error.Message, "context window") || !strings.Contains(e.Error.Message, "broken") || e.Error.Type != "server_error" {
			t.Fatalf("stream %s: %+v", stream, e.Error)
		}
	}
}

func TestAPIChatWithoutGenerators(t *testing.T) {
	app := newTestApp(t)
	a := &apiApp{testApp: app, up: newUpstream(t)}
	a.addModel("v1", a.up.srv.URL+"/v1", "")
	_, a.key, _ = app.store.CreateAPIKey(t.Context(), "test", 0)
	if res := a.call(http.MethodGet, "/v1/models", a.key, ""); res.StatusCode != http.StatusOK {
		t.Fatalf("models: status %d", res.StatusCode)
	}
	wantAPIError(t, a.call(http.MethodPost, "/v1/chat/completions", a.key, `{"model":"v1","messages":[{"role":"user","content":"hi"}]}`),
		http.StatusServiceUnavailable, "not_configured")
}

// fakeGenerator sends one piece of text, then fails with err, or (with err nil) waits for
// the request's end and reports the context's error on done.
type fakeGenerator struct {
	err  error
	done chan error
}

func (g *fakeGenerator) Chat(ctx context.Context, req inference.Request, onDelta func(inference.Delta)) (inference.Result, error) {
	onDelta(inference.Delta{Index: 0, Text: "fn main() {"})
	if g.err != nil {
		return inference.Result{}, g.err
	}
	<-ctx.Done()
	g.done <- ctx.Err()
	return inference.Result{}, ctx.Err()
}

func TestAPIStreamBrokenMidway(t *testing.T) {
	gen := &fakeGenerator{err: errors.New("connection reset by the model server")}
	a := newAPIApp(t, func(store.Model) (inference.Generator, error) { return gen, nil })
	res := a.call(http.MethodPost, "/v1/chat/completions", a.key, `{"model":"v1","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	events := sseEvents(t, res.Body)
	if len(events) != 3 || !strings.Contains(events[1], "fn main() {") {
		t.Fatalf("events %q, want role, text, error", events)
	}
	var last apiErrorBody
	if err := json.Unmarshal([]byte(events[2]), &last); err != nil || last.Error.Code != "upstream_error" ||
		!strings.Contains(last.Error.Message, "connection reset") {
		t.Fatalf("last event %q (%v), want an error event and no [DONE]", events[2], err)
	}
}

func TestAPIStreamStopsWhenClientLeaves(t *testing.T) {
	gen := &fakeGenerator{done: make(chan error, 1)}
	a := newAPIApp(t, func(store.Model) (inference.Generator, error) { return gen, nil })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"v1","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	// The first text arrives while the generator is still at work, so only if each event is flushed.
	select {
	case err := <-firstText(req, "fn main() {"):
		if err != nil {
			t.Fatalf("stream ended before any text: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no text arrived while the answer was being generated: the events are not flushed")
	}
	cancel()
	select {
	case err := <-gen.done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the generator stopped with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the generator still runs after the client left")
	}
}

// firstText sends req and reads its answer until a line contains text; the body stays open.
func firstText(req *http.Request, text string) <-chan error {
	found := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			found <- err
			return
		}
		r := bufio.NewReader(res.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil || strings.Contains(line, text) {
				found <- err
				return
			}
		}
	}()
	return found
}

// TestAPIServesTheAppsOwnClient points the app's own OpenAI client at /v1: what the app can
// read from any OpenAI-compatible server it can read from itself.
func TestAPIServesTheAppsOwnClient(t *testing.T) {
	a := newAPIApp(t, nil)
	a.addModel("v2+rag", a.up.srv.URL+"/v1", "")
	client := inference.NewOpenAI(inference.OpenAIConfig{BaseURL: a.srv.URL + "/v1", APIKey: a.key, MaxRetries: -1})
	ctx := t.Context()

	ids, err := client.Models(ctx)
	if err != nil || !slices.Equal(ids, []string{"v1", "v2+rag"}) {
		t.Fatalf("models %v, %v", ids, err)
	}
	req := inference.Request{Model: "v2+rag", N: 2, Messages: []inference.Message{{Role: "user", Content: apiQuestion}},
		Params: inference.Params{Temperature: 0.5, Seed: new(int64(5))}}
	whole, err := client.Chat(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	var deltas [2]strings.Builder
	streamed, err := client.Chat(ctx, req, func(d inference.Delta) { deltas[d.Index].WriteString(d.Text) })
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range []inference.Result{whole, streamed} {
		if len(res.Choices) != 2 || res.Usage.CompletionTokens <= 0 || res.Usage.TotalTokens != res.Usage.PromptTokens+res.Usage.CompletionTokens {
			t.Fatalf("result %+v", res)
		}
		for i, c := range res.Choices {
			if want := openaitest.Answer(apiQuestion, 5, i); c.Index != i || c.Text != want || c.FinishReason != "stop" {
				t.Fatalf("choice %d: %+v, want %q", i, c, want)
			}
		}
	}
	for i := range deltas {
		if deltas[i].String() != streamed.Choices[i].Text {
			t.Fatalf("choice %d: deltas %q, result %q", i, deltas[i].String(), streamed.Choices[i].Text)
		}
	}

	bad := inference.NewOpenAI(inference.OpenAIConfig{BaseURL: a.srv.URL + "/v1", APIKey: "rx-wrong", MaxRetries: -1})
	var apiErr *inference.APIError
	if _, err := bad.Chat(ctx, req, nil); !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized ||
		apiErr.Message != "invalid or revoked API key" {
		t.Fatalf("wrong key: %v", err)
	}
	_, err = client.Chat(ctx, inference.Request{Model: "v3", Messages: req.Messages}, nil)
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound || !strings.Contains(apiErr.Message, "v3") {
		t.Fatalf("unknown model: %v", err)
	}
}

// With documentation indexed, every model has a "+rag" variant: the same model, answering with the
// best excerpts (numbered, with their URLs) in front of the last question.
func TestAPIRAGVariant(t *testing.T) {
	a := newAPIApp(t, nil)
	res := a.call(http.MethodPost, "/v1/chat/completions", a.key, `{"model":"v1+rag","messages":[{"role":"user","content":"E0502"}]}`)
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("before any ingest: status %d, want 404", res.StatusCode)
	}
	ingestRAGTestdata(t, a.testApp)
	list := decodeBody[struct{ Data []struct{ ID string } }](t, a.call(http.MethodGet, "/v1/models", a.key, ""))
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if !slices.Contains(ids, "v1") || !slices.Contains(ids, "v1+rag") {
		t.Fatalf("models %v, want v1 and v1+rag", ids)
	}
	res = a.call(http.MethodPost, "/v1/chat/completions", a.key,
		`{"model":"v1+rag","messages":[{"role":"user","content":"What does error E0502 mean?"}]}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if got := decodeBody[struct{ Model string }](t, res); got.Model != "v1+rag" {
		t.Errorf("answer names model %q", got.Model)
	}
	body := a.up.last(t)
	if body["model"] != "served-v1" {
		t.Errorf("upstream model %v, want the base model's served name", body["model"])
	}
	msgs := body["messages"].([]any)
	content := msgs[len(msgs)-1].(map[string]any)["content"].(string)
	// The error code's page is among the numbered excerpts, whatever its rank among the test pages.
	for _, want := range []string{"] Error codes › Error code E0502 (https://doc.rust-lang.org/error_codes/E0502.html", "Question: What does error E0502 mean?"} {
		if !strings.Contains(content, want) {
			t.Errorf("the model was not sent %q:\n%s", want, content)
		}
	}
}
