// Package openaitest is an in-process server speaking the OpenAI
// chat-completions protocol. It is a test stand-in for a real model server:
// its answers are canned, deterministic functions of the last user message,
// the seed (or, without one, the temperature) and the choice index, and involve
// no model at all. Tests of the
// inference client, of the generation jobs and the browser test use it.
package openaitest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"
)

// maxChoices bounds n so that a faulty caller cannot make the server build
// huge answers.
const maxChoices = 16

// maxBodyBytes bounds a request body. Reading the body to its end also lets
// the HTTP server notice when a client goes away mid-stream.
const maxBodyBytes = 8 << 20

// Options shape the behaviour of the test server.
type Options struct {
	// FailFirst makes the first FailFirst requests answer 503.
	FailFirst int
	// TokenDelay is the pause after each streamed token.
	TokenDelay time.Duration
	// IgnoreN makes the server return one answer whatever n asks for, as
	// Ollama and some llama.cpp versions do.
	IgnoreN bool
	// Models are the ids listed by GET /v1/models; empty means "test-model".
	// Chat requests are accepted for any model name.
	Models []string
}

// Server is a running test server.
type Server struct {
	handler    *handler
	httpServer *httptest.Server
}

// NewServer starts a test server on a local port. Close it when done.
func NewServer(opts Options) *Server {
	h := newHandler(opts)
	return &Server{handler: h, httpServer: httptest.NewServer(h)}
}

// URL returns the API base URL, ending in /v1.
func (s *Server) URL() string {
	return s.httpServer.URL + "/v1"
}

// Close stops the server and waits for the requests in flight.
func (s *Server) Close() {
	s.httpServer.Close()
}

// Requests returns how many HTTP requests the server has received, the
// failed ones included.
func (s *Server) Requests() int {
	return int(s.handler.requests.Load())
}

// Handler returns the test server's protocol as an http.Handler serving
// POST /v1/chat/completions and GET /v1/models.
func Handler(opts Options) http.Handler {
	return newHandler(opts)
}

type handler struct {
	opts     Options
	mux      *http.ServeMux
	requests atomic.Int64
}

func newHandler(opts Options) *handler {
	h := &handler{opts: opts, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /v1/chat/completions", h.chat)
	h.mux.HandleFunc("GET /v1/models", h.models)
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	count := h.requests.Add(1)
	if count <= int64(h.opts.FailFirst) {
		writeError(w, http.StatusServiceUnavailable, "test server: simulated overload")
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *handler) models(w http.ResponseWriter, _ *http.Request) {
	ids := h.opts.Models
	if len(ids) == 0 {
		ids = []string{"test-model"}
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list"}
	for _, id := range ids {
		list.Data = append(list.Data, model{ID: id, Object: "model", OwnedBy: "openaitest"})
	}
	writeJSON(w, http.StatusOK, list)
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model         string    `json:"model"`
	Messages      []message `json:"messages"`
	MaxTokens     *int      `json:"max_tokens"`
	Seed          *int64    `json:"seed"`
	Temperature   *float64  `json:"temperature"`
	Stop          stopList  `json:"stop"`
	N             *int      `json:"n"`
	Stream        bool      `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// stopList accepts stop as a single string or as a list, like the OpenAI API.
type stopList []string

func (s *stopList) UnmarshalJSON(raw []byte) error {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if one != "" {
			*s = stopList{one}
		}
		return nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return fmt.Errorf("stop must be a string or a list of strings: %w", err)
	}
	*s = many
	return nil
}

// generation is one answer cut into tokens.
type generation struct {
	tokens []string
	finish string
}

func (g generation) text() string {
	return strings.Join(g.tokens, "")
}

func (h *handler) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	n, problem := validate(req)
	if problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	if h.opts.IgnoreN {
		n = 1
	}
	question := lastUserMessage(req.Messages)
	var seed int64
	switch {
	case req.Seed != nil:
		seed = *req.Seed
	case req.Temperature != nil:
		// Without a seed, answers sampled at different temperatures differ, as a real model's would.
		seed = int64(*req.Temperature * 1000)
	}
	maxTokens := 0
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	generations := make([]generation, n)
	for index := range generations {
		generations[index] = generate(Answer(question, seed, index), maxTokens, req.Stop)
	}
	reply := reply{
		id:          fmt.Sprintf("chatcmpl-test-%d", h.requests.Load()),
		created:     time.Now().Unix(),
		model:       req.Model,
		generations: generations,
		usage:       usageOf(req.Messages, generations),
	}
	if req.Stream {
		includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
		reply.stream(r.Context(), w, h.opts.TokenDelay, includeUsage)
		return
	}
	reply.write(w)
}

// validate checks a request and returns the number of answers it asks for,
// or a message explaining why it is rejected.
func validate(req chatRequest) (int, string) {
	if len(req.Messages) == 0 {
		return 0, "messages must not be empty"
	}
	if req.MaxTokens != nil && *req.MaxTokens < 1 {
		return 0, "max_tokens must be at least 1"
	}
	n := 1
	if req.N != nil {
		n = *req.N
	}
	if n < 1 || n > maxChoices {
		return 0, fmt.Sprintf("n must be between 1 and %d", maxChoices)
	}
	return n, ""
}

func lastUserMessage(messages []message) string {
	for i := len(messages) - 1; i >= 0; i-- {
		if messages[i].Role == "user" {
			return messages[i].Content
		}
	}
	return messages[len(messages)-1].Content
}

// generate cuts answer at the first stop sequence and then at maxTokens
// tokens, the way a model server ends generation at whichever comes first.
func generate(answer string, maxTokens int, stop []string) generation {
	for _, sequence := range stop {
		if at := strings.Index(answer, sequence); sequence != "" && at >= 0 {
			answer = answer[:at]
		}
	}
	tokens := splitTokens(answer)
	if maxTokens > 0 && len(tokens) > maxTokens {
		return generation{tokens: tokens[:maxTokens], finish: "length"}
	}
	return generation{tokens: tokens, finish: "stop"}
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func usageOf(messages []message, generations []generation) usage {
	var u usage
	for _, m := range messages {
		u.PromptTokens += countTokens(m.Content)
	}
	for _, g := range generations {
		u.CompletionTokens += len(g.tokens)
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// reply is the answer to one chat request, written whole or streamed.
type reply struct {
	id          string
	created     int64
	model       string
	generations []generation
	usage       usage
}

func (rp reply) write(w http.ResponseWriter) {
	type choice struct {
		Index        int     `json:"index"`
		Message      message `json:"message"`
		FinishReason string  `json:"finish_reason"`
	}
	body := struct {
		ID      string   `json:"id"`
		Object  string   `json:"object"`
		Created int64    `json:"created"`
		Model   string   `json:"model"`
		Choices []choice `json:"choices"`
		Usage   usage    `json:"usage"`
	}{ID: rp.id, Object: "chat.completion", Created: rp.created, Model: rp.model, Usage: rp.usage}
	for index, g := range rp.generations {
		body.Choices = append(body.Choices, choice{
			Index:        index,
			Message:      message{Role: "assistant", Content: g.text()},
			FinishReason: g.finish,
		})
	}
	writeJSON(w, http.StatusOK, body)
}

type chunkDelta struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content"`
}

type chunkChoice struct {
	Index        int        `json:"index"`
	Delta        chunkDelta `json:"delta"`
	FinishReason *string    `json:"finish_reason"`
}

type chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []chunkChoice `json:"choices"`
	Usage   *usage        `json:"usage,omitempty"`
}

// stream sends the answers as server-sent events, interleaving the choices
// token by token as batched model servers do, and pausing tokenDelay after
// each round of tokens. It stops when the client goes away.
func (rp reply) stream(ctx context.Context, w http.ResponseWriter, tokenDelay time.Duration, includeUsage bool) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher := http.NewResponseController(w)
	fmt.Fprint(w, ": openaitest stream\n\n")
	for index := range rp.generations {
		rp.send(w, chunkChoice{Index: index, Delta: chunkDelta{Role: "assistant"}})
	}
	for step := 0; ; step++ {
		sent := false
		for index, g := range rp.generations {
			if step < len(g.tokens) {
				rp.send(w, chunkChoice{Index: index, Delta: chunkDelta{Content: g.tokens[step]}})
				sent = true
			}
		}
		if !sent {
			break
		}
		_ = flusher.Flush()
		if !pause(ctx, tokenDelay) {
			return
		}
	}
	for index, g := range rp.generations {
		rp.send(w, chunkChoice{Index: index, FinishReason: &g.finish})
	}
	if includeUsage {
		writeEvent(w, chunk{ID: rp.id, Object: "chat.completion.chunk", Created: rp.created, Model: rp.model,
			Choices: []chunkChoice{}, Usage: &rp.usage})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	_ = flusher.Flush()
}

func (rp reply) send(w http.ResponseWriter, choice chunkChoice) {
	writeEvent(w, chunk{ID: rp.id, Object: "chat.completion.chunk", Created: rp.created, Model: rp.model,
		Choices: []chunkChoice{choice}})
}

func writeEvent(w http.ResponseWriter, event chunk) {
	fmt.Fprint(w, "data: ")
	// Encode ends the JSON with a newline; one more ends the event.
	_ = json.NewEncoder(w).Encode(event)
	fmt.Fprint(w, "\n")
}

// pause waits for d and reports whether the client is still there.
func pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	type detail struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    int    `json:"code"`
	}
	kind := "invalid_request_error"
	if status >= 500 {
		kind = "server_error"
	}
	writeJSON(w, status, struct {
		Error detail `json:"error"`
	}{detail{Message: msg, Type: kind, Code: status}})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
