package handlers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"rustexpert/inference"
	"rustexpert/rag"
	"rustexpert/store"
)

// Limits of the OpenAI-compatible API.
const (
	maxChatBodyBytes = 1 << 20
	maxChatChoices   = 8
	maxStopSequences = 4
	// defaultChatTemperature is OpenAI's default when a request names none.
	defaultChatTemperature = 1.0
	// keyUseInterval is how stale a key's last use may get before a request records it again,
	// so that busy clients do not cost a database write per request.
	keyUseInterval = time.Minute
)

// apiRoutes registers the OpenAI-compatible API and the admin page of its keys. /v1 is for
// programs, not browsers: it takes a bearer key only, never a session cookie, so it sits outside
// the session, CSRF and cross-origin checks.
func (s *Server) apiRoutes(r chi.Router) {
	r.Route("/v1", func(r chi.Router) {
		r.Use(s.requireAPIKey, s.limitRequests)
		r.Get("/models", s.handleAPIModelList)
		r.Get("/models/{model}", s.handleAPIModelGet)
		r.Post("/chat/completions", s.handleAPIChatCreate)
		r.NotFound(s.handleAPINotFound)
		r.MethodNotAllowed(s.handleAPIMethodNotAllowed)
	})
	r.Group(func(r chi.Router) {
		r.Use(s.loadSession, s.limitRequests, s.checkCSRF, s.requireUser, requireAdmin)
		r.Get("/settings/keys", s.handleAPIKeys)
		r.Post("/settings/keys", s.handleAPIKeyCreate)
		r.Post("/settings/keys/{id}/revoke", s.handleAPIKeyRevoke)
	})
}

// apiProblem is a failure of an /v1 request as the client is told it.
type apiProblem struct {
	status int
	code   string // OpenAI's machine-readable code, such as model_not_found
	param  string // the request field at fault, if any
	msg    string
}

func (p *apiProblem) Error() string { return p.msg }

// badParam is a 400 that names the request field at fault in its code and its message.
func badParam(param, format string, args ...any) *apiProblem {
	return &apiProblem{status: http.StatusBadRequest, code: "invalid_value", param: param,
		msg: param + ": " + fmt.Sprintf(format, args...)}
}

func unauthorized(msg string) *apiProblem {
	return &apiProblem{status: http.StatusUnauthorized, code: "invalid_api_key", msg: msg}
}

// apiError answers a failed /v1 request with OpenAI's error JSON; it is the API's one error path.
func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client is gone; nobody reads an answer
	}
	p := s.describeAPI(r, err)
	if p.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rustexpert"`)
	}
	kind := "invalid_request_error"
	if p.status >= 500 {
		kind = "server_error"
	}
	var param any
	if p.param != "" {
		param = p.param
	}
	writeAPIJSON(w, p.status, map[string]any{"error": map[string]any{"message": p.msg, "type": kind, "param": param, "code": p.code}})
}

func (s *Server) describeAPI(r *http.Request, err error) *apiProblem {
	var p *apiProblem
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &p):
		if p.status >= 500 {
			s.log.Warn("api request failed", slog.String("path", r.URL.Path), slog.Int("status", p.status), slog.String("error", p.msg))
		}
		return p
	case errors.As(err, &tooBig):
		return &apiProblem{status: http.StatusRequestEntityTooLarge, code: "request_too_large",
			msg: fmt.Sprintf("request body: larger than the limit of %d bytes", tooBig.Limit)}
	}
	s.log.Error("api request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("request_id", middleware.GetReqID(r.Context())), slog.Any("error", err))
	return &apiProblem{status: http.StatusInternalServerError, code: "internal_error", msg: "internal error; the server log has the details"}
}

func writeAPIJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(apiJSON(body))
}

// apiJSON encodes an answer without escaping <, > and &: answers are code, not HTML.
func apiJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only values of the types in this file are encoded; none can fail.
		return []byte(`{"error":{"message":"encoding the answer failed","type":"server_error","param":null,"code":"internal_error"}}` + "\n")
	}
	return b.Bytes()
}

func (s *Server) handleAPINotFound(w http.ResponseWriter, r *http.Request) {
	s.apiError(w, r, &apiProblem{status: http.StatusNotFound, code: "unknown_url",
		msg: fmt.Sprintf("unknown URL %s %s; this server offers GET /v1/models and POST /v1/chat/completions", r.Method, r.URL.Path)})
}

func (s *Server) handleAPIMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	s.apiError(w, r, &apiProblem{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
		msg: fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)})
}

// requireAPIKey lets through requests that carry a working API key as a bearer token.
func (s *Server) requireAPIKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := bearerToken(r)
		if !ok {
			s.apiError(w, r, unauthorized("missing API key: send the header Authorization: Bearer <key>"))
			return
		}
		key, err := s.store.APIKeyBySecret(r.Context(), secret)
		if errors.Is(err, store.ErrUnauthorized) {
			s.apiError(w, r, unauthorized("invalid or revoked API key"))
			return
		}
		if err != nil {
			s.apiError(w, r, err)
			return
		}
		s.noteKeyUse(r, key)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), apiKeyKey, key.ID)))
	})
}

func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// noteKeyUse records the key's use when its last recorded use is older than keyUseInterval. A
// failure to record it does not fail the request.
func (s *Server) noteKeyUse(r *http.Request, key store.APIKey) {
	if time.Since(key.LastUsedAt) < keyUseInterval {
		return
	}
	if err := s.store.TouchAPIKey(context.WithoutCancel(r.Context()), key.ID); err != nil {
		s.log.Warn("record API key use", slog.Int64("key_id", key.ID), slog.Any("error", err))
	}
}

// apiModel is a model in OpenAI's list format.
type apiModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func apiModelOf(m store.Model) apiModel {
	return apiModel{ID: m.Name, Object: "model", Created: m.CreatedAt.Unix(), OwnedBy: "rustexpert"}
}

func (s *Server) handleAPIModelList(w http.ResponseWriter, r *http.Request) {
	models, err := s.store.ListModels(r.Context())
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	list := struct {
		Object string     `json:"object"`
		Data   []apiModel `json:"data"`
	}{Object: "list", Data: []apiModel{}}
	withRAG := s.ragReady(r.Context())
	for _, m := range models {
		list.Data = append(list.Data, apiModelOf(m))
		if withRAG {
			m.Name += ragSuffix
			list.Data = append(list.Data, apiModelOf(m))
		}
	}
	writeAPIJSON(w, http.StatusOK, list)
}

func (s *Server) handleAPIModelGet(w http.ResponseWriter, r *http.Request) {
	m, err := s.apiModelByName(r.Context(), chi.URLParam(r, "model"))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeAPIJSON(w, http.StatusOK, apiModelOf(m))
}

// ragSuffix names a model's retrieval-augmented variant: "v2+rag" is v2 answering with the best
// documentation excerpts in front of the question.
const ragSuffix = "+rag"

// ragReady reports whether documentation is indexed, so "+rag" variants exist.
func (s *Server) ragReady(ctx context.Context) bool {
	has := s.store.HasRAGChunks
	if s.cfg.RAG != nil {
		has = s.cfg.RAG.HasChunks
	}
	ok, err := has(ctx)
	return err == nil && ok
}

func (s *Server) apiModelByName(ctx context.Context, name string) (store.Model, error) {
	base, augmented := strings.CutSuffix(name, ragSuffix)
	if augmented && !s.ragReady(ctx) {
		base = name // no index: "+rag" names nothing
	}
	m, err := s.store.ModelByName(ctx, base)
	if err == nil && augmented {
		m.Name = name
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.Model{}, &apiProblem{status: http.StatusNotFound, code: "model_not_found", param: "model",
			msg: fmt.Sprintf("model: %q does not exist; GET /v1/models lists the models", name)}
	}
	return m, err
}

// chatCall is a validated chat completion request.
type chatCall struct {
	model        string
	req          inference.Request
	stream       bool
	includeUsage bool
}

func (s *Server) handleAPIChatCreate(w http.ResponseWriter, r *http.Request) {
	call, err := readChatCall(w, r)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	m, gen, err := s.apiGenerator(r.Context(), call.model)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	call.req.Model = m.ServedName
	reply := newChatReply(m.Name, call.req.N)
	done, ok := s.startGeneration(w, r)
	if !ok {
		return
	}
	if call.stream {
		done(s.streamChat(w, r, gen, call, reply))
		return
	}
	res, err := gen.Chat(r.Context(), call.req, nil)
	done(res.Usage.CompletionTokens)
	if err != nil {
		s.apiError(w, r, upstreamProblem(m.Name, err))
		return
	}
	writeAPIJSON(w, http.StatusOK, reply.completion(res))
}

// apiGenerator resolves a model name to the model and the generator that reaches it.
func (s *Server) apiGenerator(ctx context.Context, name string) (store.Model, inference.Generator, error) {
	m, err := s.apiModelByName(ctx, name)
	if err != nil {
		return store.Model{}, nil, err
	}
	if s.cfg.GeneratorFor == nil {
		return store.Model{}, nil, &apiProblem{status: http.StatusServiceUnavailable, code: "not_configured",
			msg: "this server does not serve chat completions"}
	}
	base := m
	base.Name = strings.TrimSuffix(m.Name, ragSuffix)
	gen, err := s.cfg.GeneratorFor(base)
	if err != nil {
		return store.Model{}, nil, upstreamProblem(m.Name, err)
	}
	if base.Name != m.Name {
		gen = rag.Augmented{Gen: gen, Retrieve: s.ragRetriever}
	}
	return m, gen, nil
}

// ragRetriever finds the documentation for a "+rag" model's question (hybrid where vectors exist).
func (s *Server) ragRetriever(ctx context.Context, question string) ([]rag.Hit, error) {
	hits, _, err := s.retrieve(ctx, rag.Query{Text: question, K: ragContextHits, Mode: rag.ModeHybrid})
	return hits, err
}

// ragContextHits is how many chunks retrieval offers a "+rag" model (the budget keeps what fits).
const ragContextHits = 8

// upstreamProblem is a model's failure to answer: the app works, the model server did not.
// A request the model cannot take as asked (a prompt longer than its context) is the caller's 400.
func upstreamProblem(model string, err error) *apiProblem {
	var reqErr *inference.RequestError
	if errors.As(err, &reqErr) {
		return &apiProblem{status: http.StatusBadRequest, code: "invalid_request", msg: fmt.Sprintf("model %s: %v", model, reqErr)}
	}
	return &apiProblem{status: http.StatusBadGateway, code: "upstream_error", msg: fmt.Sprintf("model %s: %v", model, err)}
}

// chatRequestJSON is the body of POST /v1/chat/completions. Fields the app does not use
// (logprobs, tools, user, …) are ignored.
type chatRequestJSON struct {
	Model               string            `json:"model"`
	Messages            []chatMessageJSON `json:"messages"`
	Temperature         *float64          `json:"temperature"`
	TopP                *float64          `json:"top_p"`
	MaxTokens           *int              `json:"max_tokens"`
	MaxCompletionTokens *int              `json:"max_completion_tokens"`
	N                   *int              `json:"n"`
	Stop                json.RawMessage   `json:"stop"`
	Seed                *int64            `json:"seed"`
	Stream              bool              `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type chatMessageJSON struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// readChatCall reads and validates a chat completion request; a problem names the field at fault.
func readChatCall(w http.ResponseWriter, r *http.Request) (chatCall, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxChatBodyBytes))
	if err != nil {
		return chatCall{}, err
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return chatCall{}, badParam("body", "empty; send a chat completion request as JSON")
	}
	var body chatRequestJSON
	if err := json.Unmarshal(raw, &body); err != nil {
		return chatCall{}, jsonProblem(err)
	}
	return body.check()
}

// jsonProblem turns a decoding error into a 400 that names the field of a wrong type.
func jsonProblem(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return badParam(typeErr.Field, "must be %s, not %s", jsonKind(typeErr.Type), typeErr.Value)
	case errors.As(err, &typeErr):
		return badParam("body", "must be a JSON object, not %s", typeErr.Value)
	case errors.As(err, &syntaxErr):
		return badParam("body", "invalid JSON at byte %d: %v", syntaxErr.Offset, err)
	}
	return badParam("body", "invalid JSON: %v", err)
}

// jsonKind names a Go type the way the JSON of a request spells it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "an object"
}

func (b chatRequestJSON) check() (chatCall, error) {
	call := chatCall{model: strings.TrimSpace(b.Model), stream: b.Stream}
	call.includeUsage = b.Stream && b.StreamOptions != nil && b.StreamOptions.IncludeUsage
	if call.model == "" {
		return chatCall{}, badParam("model", "required; GET /v1/models lists the models")
	}
	messages, err := checkMessages(b.Messages)
	if err != nil {
		return chatCall{}, err
	}
	params, err := b.params()
	if err != nil {
		return chatCall{}, err
	}
	call.req = inference.Request{Messages: messages, Params: params, N: 1}
	if b.N != nil {
		if *b.N < 1 || *b.N > maxChatChoices {
			return chatCall{}, badParam("n", "must be a whole number from 1 to %d", maxChatChoices)
		}
		call.req.N = *b.N
	}
	return call, nil
}

func checkMessages(in []chatMessageJSON) ([]inference.Message, error) {
	if len(in) == 0 {
		return nil, badParam("messages", "required: a list of at least one message")
	}
	out := make([]inference.Message, len(in))
	for i, m := range in {
		param := fmt.Sprintf("messages[%d]", i)
		if m.Role != "system" && m.Role != "user" && m.Role != "assistant" {
			return nil, badParam(param+".role", "must be system, user or assistant")
		}
		text, err := messageText(param+".content", m.Content)
		if err != nil {
			return nil, err
		}
		out[i] = inference.Message{Role: m.Role, Content: text}
	}
	return out, nil
}

// messageText reads a message's content: a string, or a list of text parts as newer clients send.
func messageText(param string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return text, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", badParam(param, "must be a string or a list of text parts")
	}
	texts := make([]string, len(parts))
	for i, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return "", badParam(fmt.Sprintf("%s[%d]", param, i), "only text parts are supported (got type %q)", p.Type)
		}
		texts[i] = *p.Text
	}
	return strings.Join(texts, "\n"), nil
}

// params checks the sampling parameters; those left out keep the defaults.
func (b chatRequestJSON) params() (inference.Params, error) {
	p := inference.Params{Temperature: defaultChatTemperature, Seed: b.Seed}
	if b.Temperature != nil {
		if *b.Temperature < 0 || *b.Temperature > 2 {
			return p, badParam("temperature", "must be a number from 0 to 2")
		}
		p.Temperature = *b.Temperature
	}
	if b.TopP != nil {
		if *b.TopP <= 0 || *b.TopP > 1 {
			return p, badParam("top_p", "must be a number above 0 and at most 1")
		}
		p.TopP = *b.TopP
	}
	maxTokens, param := b.MaxTokens, "max_tokens"
	if maxTokens == nil {
		maxTokens, param = b.MaxCompletionTokens, "max_completion_tokens"
	}
	if maxTokens != nil {
		if *maxTokens < 1 {
			return p, badParam(param, "must be a whole number of at least 1")
		}
		p.MaxTokens = *maxTokens
	}
	stop, err := stopSequences(b.Stop)
	p.Stop = stop
	return p, err
}

// stopSequences reads stop: a string or a list of up to four strings.
func stopSequences(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, badParam("stop", "must be a string or a list of strings")
	}
	if len(many) > maxStopSequences {
		return nil, badParam("stop", "at most %d sequences, not %d", maxStopSequences, len(many))
	}
	var out []string
	for _, s := range many {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// chatReply is what every part of one answer shares: its id, time and model name.
type chatReply struct {
	id      string
	created int64
	model   string
	n       int
}

func newChatReply(model string, n int) chatReply {
	return chatReply{id: "chatcmpl-" + rand.Text(), created: time.Now().Unix(), model: model, n: max(n, 1)}
}

type apiUsage struct {
	PromptTokens     int              `json:"prompt_tokens"`
	CompletionTokens int              `json:"completion_tokens"`
	TotalTokens      int              `json:"total_tokens"`
	PromptDetails    apiPromptDetails `json:"prompt_tokens_details"`
}

// apiPromptDetails is OpenAI's breakdown of the prompt tokens: those whose cache was reused.
type apiPromptDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

func apiUsageOf(u inference.Usage) *apiUsage {
	return &apiUsage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens,
		PromptDetails: apiPromptDetails{CachedTokens: u.CachedTokens}}
}

type apiMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type apiChoice struct {
	Index        int        `json:"index"`
	Message      apiMessage `json:"message"`
	FinishReason string     `json:"finish_reason"`
}

type apiCompletion struct {
	ID      string      `json:"id"`
	Object  string      `json:"object"`
	Created int64       `json:"created"`
	Model   string      `json:"model"`
	Choices []apiChoice `json:"choices"`
	Usage   *apiUsage   `json:"usage"`
}

func (c chatReply) completion(res inference.Result) apiCompletion {
	out := apiCompletion{ID: c.id, Object: "chat.completion", Created: c.created, Model: c.model,
		Choices: []apiChoice{}, Usage: apiUsageOf(res.Usage)}
	for _, ch := range res.Choices {
		out.Choices = append(out.Choices, apiChoice{Index: ch.Index, Message: apiMessage{Role: "assistant", Content: ch.Text},
			FinishReason: finishReason(ch)})
	}
	return out
}

// finishReason is the choice's reason, "stop" when the model server named none.
func finishReason(ch inference.Choice) string {
	if ch.FinishReason == "" {
		return "stop"
	}
	return ch.FinishReason
}

type apiDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type apiChunkChoice struct {
	Index        int      `json:"index"`
	Delta        apiDelta `json:"delta"`
	FinishReason *string  `json:"finish_reason"`
}

type apiChunk struct {
	ID      string           `json:"id"`
	Object  string           `json:"object"`
	Created int64            `json:"created"`
	Model   string           `json:"model"`
	Choices []apiChunkChoice `json:"choices"`
	Usage   *apiUsage        `json:"usage,omitempty"`
}

func (c chatReply) chunk(choices ...apiChunkChoice) apiChunk {
	if choices == nil {
		choices = []apiChunkChoice{}
	}
	return apiChunk{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model, Choices: choices}
}

// streamChat answers with server-sent events. The stream starts with the first piece of text,
// so a model that fails before it still gets a plain error answer with its status. It returns the
// tokens generated.
func (s *Server) streamChat(w http.ResponseWriter, r *http.Request, gen inference.Generator, call chatCall, reply chatReply) int {
	st := &chatStream{w: w, rc: http.NewResponseController(w), reply: reply}
	res, err := gen.Chat(r.Context(), call.req, st.delta)
	switch {
	case err != nil && r.Context().Err() != nil:
		s.log.Debug("api stream ended by the client", slog.String("model", reply.model))
	case err != nil && !st.begun():
		s.apiError(w, r, upstreamProblem(reply.model, err))
	case err != nil:
		s.log.Warn("api stream failed", slog.String("model", reply.model), slog.Any("error", err))
		st.fail(upstreamProblem(reply.model, err))
	default:
		st.finish(res, call.includeUsage)
	}
	if res.Usage.CompletionTokens > 0 {
		return res.Usage.CompletionTokens
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return (st.sent + 3) / 4 // stopped or failed midway: no usage, about 4 bytes a token
}

// chatStream writes one answer's events; its methods may be called from any goroutine.
type chatStream struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	reply chatReply

	mu      sync.Mutex
	started bool
	broken  bool // a write failed: the client is gone
	sent    int  // bytes of text sent, to count the tokens of a stream that ends early
}

func (st *chatStream) begun() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.started
}

// startLocked sends the headers and each choice's first chunk, which names the role.
func (st *chatStream) startLocked() {
	if st.started {
		return
	}
	st.started = true
	h := st.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	st.w.WriteHeader(http.StatusOK)
	empty := ""
	for i := range st.reply.n {
		st.sendLocked(st.reply.chunk(apiChunkChoice{Index: i, Delta: apiDelta{Role: "assistant", Content: &empty}}))
	}
}

func (st *chatStream) delta(d inference.Delta) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.startLocked()
	st.sent += len(d.Text)
	st.sendLocked(st.reply.chunk(apiChunkChoice{Index: d.Index, Delta: apiDelta{Content: &d.Text}}))
	st.flushLocked()
}

// finish ends a good stream: each choice's finish reason, the usage when asked for, then [DONE].
func (st *chatStream) finish(res inference.Result, includeUsage bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.startLocked()
	for _, ch := range res.Choices {
		reason := finishReason(ch)
		st.sendLocked(st.reply.chunk(apiChunkChoice{Index: ch.Index, FinishReason: &reason}))
	}
	if includeUsage {
		c := st.reply.chunk()
		c.Usage = apiUsageOf(res.Usage)
		st.sendLocked(c)
	}
	st.writeLocked("data: [DONE]\n\n")
	st.flushLocked()
}

// fail ends a stream that broke after it began with an error event and no [DONE].
func (st *chatStream) fail(p *apiProblem) {
	st.mu.Lock()
	defer st.mu.Unlock()
	body := apiJSON(map[string]any{"error": map[string]any{"message": p.msg, "type": "server_error", "param": nil, "code": p.code}})
	st.writeLocked("data: " + string(body) + "\n")
	st.flushLocked()
}

// sendLocked writes one event; apiJSON's newline and one more end it.
func (st *chatStream) sendLocked(c apiChunk) {
	st.writeLocked("data: " + string(apiJSON(c)) + "\n")
}

func (st *chatStream) writeLocked(event string) {
	if st.broken {
		return
	}
	if _, err := io.WriteString(st.w, event); err != nil {
		st.broken = true
	}
}

func (st *chatStream) flushLocked() {
	if !st.broken && st.rc.Flush() != nil {
		st.broken = true
	}
}
