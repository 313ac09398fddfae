package inference

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	defaultTimeout    = 5 * time.Minute
	defaultMaxRetries = 3
	backoffStart      = 250 * time.Millisecond
	backoffCap        = 8 * time.Second
	// maxErrorMessage bounds APIError.Message so a server that answers with a
	// whole HTML page does not flood logs and the UI.
	maxErrorMessage = 500
	maxErrorBody    = 64 << 10
)

// OpenAIConfig configures a client for an OpenAI-compatible server.
type OpenAIConfig struct {
	// BaseURL is the API root, for example http://127.0.0.1:8000/v1.
	BaseURL string
	// APIKey is sent as a bearer token when not empty.
	APIKey string
	// Timeout bounds each attempt, including reading a streamed answer;
	// zero means 5 minutes.
	Timeout time.Duration
	// MaxRetries is how many times a failed attempt is repeated; zero means 3
	// and a negative value disables retries.
	MaxRetries int
	// HTTPClient sends the requests; nil means a plain http.Client.
	HTTPClient *http.Client
}

// OpenAI is a Generator backed by an OpenAI-compatible server; besides chat
// completions it offers plain completions (Complete) and the model list
// (Models). It is safe for concurrent use.
type OpenAI struct {
	baseURL    string
	apiKey     string
	timeout    time.Duration
	maxRetries int
	httpClient *http.Client

	// rngMu guards rng, which spreads the retries of concurrent callers apart.
	rngMu sync.Mutex
	rng   *rand.Rand

	// sleep waits between attempts; tests replace it to observe the delays.
	sleep func(ctx context.Context, d time.Duration) error
}

var _ Generator = (*OpenAI)(nil)

// NewOpenAI returns a client for the server described by cfg.
func NewOpenAI(cfg OpenAIConfig) *OpenAI {
	c := &OpenAI{
		baseURL:    strings.TrimRight(cfg.BaseURL, "/"),
		apiKey:     cfg.APIKey,
		timeout:    cfg.Timeout,
		maxRetries: cfg.MaxRetries,
		httpClient: cfg.HTTPClient,
		rng:        rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		sleep:      sleepContext,
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if c.maxRetries == 0 {
		c.maxRetries = defaultMaxRetries
	}
	if c.maxRetries < 0 {
		c.maxRetries = 0
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{}
	}
	return c
}

// APIError is an error answer of the model server.
type APIError struct {
	// Status is the HTTP status; zero for an error sent inside a stream.
	Status int
	// Message is the server's explanation, at most 500 bytes.
	Message string
	// Retryable tells whether the same request may succeed later.
	Retryable bool
	// RetryAfter is the wait the server asked for; zero when it named none.
	RetryAfter time.Duration
}

// Error describes the failure with the status and the server's message.
func (e *APIError) Error() string {
	switch {
	case e.Status == 0:
		return "model server error: " + e.Message
	case e.Message == "":
		return fmt.Sprintf("model server answered %d %s", e.Status, http.StatusText(e.Status))
	default:
		return fmt.Sprintf("model server answered %d: %s", e.Status, e.Message)
	}
}

// transientError marks a failure that another attempt may not repeat, such as
// a refused connection or a stream cut off before any text was passed on.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// Chat asks the server's chat-completions endpoint for req.N answers. With
// onDelta the answers are streamed and onDelta receives each piece of text as
// it arrives. Servers that return fewer answers than asked for (Ollama and
// llama-cpp-python ignore n) are asked again, one answer per request, until
// every index 0..N-1 is filled.
func (c *OpenAI) Chat(ctx context.Context, req Request, onDelta func(Delta)) (Result, error) {
	return c.generate(ctx, chatEndpoint(req), req.wantedChoices(), req.Params.Seed, onDelta)
}

// endpoint is one generating API: where its requests go and how their body
// is built for a number of answers, a seed and streaming or not.
type endpoint struct {
	// what names the call in errors.
	what string
	path string
	body func(n int, seed *int64, stream bool) any
}

func chatEndpoint(req Request) endpoint {
	return endpoint{
		what: "chat completion",
		path: "/chat/completions",
		body: func(n int, seed *int64, stream bool) any {
			single := req
			single.Params.Seed = seed
			return newChatBody(single, n, stream)
		},
	}
}

// generate asks ep for want answers and fills the indices a server left out
// with single-answer requests.
func (c *OpenAI) generate(ctx context.Context, ep endpoint, want int, seed *int64, onDelta func(Delta)) (Result, error) {
	first, err := c.call(ctx, ep, want, seed, onDelta)
	if err != nil {
		return Result{}, err
	}
	if len(first.Choices) == 0 {
		return Result{}, fmt.Errorf("%s: server returned no choices", ep.what)
	}
	byIndex := make(map[int]Choice, want)
	for _, choice := range first.Choices {
		if choice.Index >= 0 && choice.Index < want {
			byIndex[choice.Index] = choice
		}
	}
	usage := first.Usage
	for index := range want {
		if _, ok := byIndex[index]; ok {
			continue
		}
		choice, extraUsage, err := c.generateOne(ctx, ep, index, seed, onDelta)
		if err != nil {
			return Result{}, fmt.Errorf("answer %d of %d: %w", index+1, want, err)
		}
		byIndex[index] = choice
		usage = addUsage(usage, extraUsage)
	}
	result := Result{Choices: make([]Choice, want), Usage: usage}
	for index := range want {
		result.Choices[index] = byIndex[index]
	}
	return result, nil
}

// generateOne asks for the single answer with the given index, shifting the
// seed by the index so that the extra answers differ from each other.
func (c *OpenAI) generateOne(ctx context.Context, ep endpoint, index int, seed *int64, onDelta func(Delta)) (Choice, Usage, error) {
	if seed != nil {
		shifted := *seed + int64(index)
		seed = &shifted
	}
	var forward func(Delta)
	if onDelta != nil {
		forward = func(d Delta) {
			d.Index = index
			onDelta(d)
		}
	}
	res, err := c.call(ctx, ep, 1, seed, forward)
	if err != nil {
		return Choice{}, Usage{}, err
	}
	if len(res.Choices) == 0 {
		return Choice{}, Usage{}, fmt.Errorf("%s: server returned no choices", ep.what)
	}
	choice := res.Choices[0]
	choice.Index = index
	return choice, res.Usage, nil
}

// call sends one request to ep for n answers, retrying failed attempts.
func (c *OpenAI) call(ctx context.Context, ep endpoint, n int, seed *int64, onDelta func(Delta)) (Result, error) {
	body, err := json.Marshal(ep.body(n, seed, onDelta != nil))
	if err != nil {
		return Result{}, fmt.Errorf("encoding %s request: %w", ep.what, err)
	}
	var result Result
	err = c.withRetries(ctx, ep.what, func(ctx context.Context) error {
		resp, err := c.send(ctx, http.MethodPost, ep.path, body)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		result, err = readAnswer(resp, onDelta)
		return err
	})
	return result, err
}

// readAnswer decodes a successful answer: a JSON completion, or a stream of
// server-sent events when onDelta is set and the server did stream.
func readAnswer(resp *http.Response, onDelta func(Delta)) (Result, error) {
	switch {
	case onDelta == nil:
		return decodeCompletion(resp.Body)
	case isJSON(resp.Header.Get("Content-Type")):
		return decodeUnstreamed(resp.Body, onDelta)
	default:
		return readStream(resp.Body, onDelta)
	}
}

// Models lists the ids of the models the server offers.
func (c *OpenAI) Models(ctx context.Context) ([]string, error) {
	var ids []string
	err := c.withRetries(ctx, "listing models", func(ctx context.Context) error {
		resp, err := c.send(ctx, http.MethodGet, "/models", nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return &transientError{fmt.Errorf("reading model list: %w", err)}
		}
		var list struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return fmt.Errorf("decoding model list: %w", err)
		}
		ids = make([]string, 0, len(list.Data))
		for _, model := range list.Data {
			ids = append(ids, model.ID)
		}
		return nil
	})
	return ids, err
}

// chatBody is the JSON body of a chat-completions request.
type chatBody struct {
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`
	sampling
}

// sampling holds the body fields that chat and plain completions share.
type sampling struct {
	Temperature float64 `json:"temperature"`
	// TopP and MaxTokens are left out when zero because servers reject zero.
	TopP      float64  `json:"top_p,omitempty"`
	MaxTokens int      `json:"max_tokens,omitempty"`
	Seed      *int64   `json:"seed,omitempty"`
	Stop      []string `json:"stop,omitempty"`
	N         int      `json:"n"`
	// TopK and RepetitionPenalty are extensions vLLM and llama.cpp's server
	// accept; sent only when set.
	TopK              int            `json:"top_k,omitempty"`
	RepetitionPenalty float64        `json:"repetition_penalty,omitempty"`
	Stream            bool           `json:"stream,omitempty"`
	StreamOptions     *streamOptions `json:"stream_options,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

func newChatBody(req Request, n int, stream bool) chatBody {
	body := chatBody{
		Model:    req.Model,
		Messages: req.Messages,
		sampling: newSampling(req.Params, n, stream),
	}
	if body.Messages == nil {
		body.Messages = []Message{}
	}
	return body
}

// newSampling turns params into body fields. A stream asks for usage in its
// final chunk, which vLLM, Ollama and llama.cpp's server send only when asked.
func newSampling(params Params, n int, stream bool) sampling {
	body := sampling{
		Temperature: params.Temperature,
		TopP:        params.TopP,
		MaxTokens:   params.MaxTokens,
		Seed:        params.Seed,
		Stop:        params.Stop,
		N:           n,
		TopK:        params.TopK,
	}
	if p := params.RepeatPenalty; p > 0 && p != 1 {
		body.RepetitionPenalty = p
	}
	if stream {
		body.Stream = true
		body.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	return body
}

// withRetries runs attempt until it succeeds, fails for good, or the retries
// are used up. Each attempt gets its own timeout; ctx ends everything.
func (c *OpenAI) withRetries(ctx context.Context, what string, attempt func(ctx context.Context) error) error {
	for retry := 0; ; retry++ {
		err := c.runAttempt(ctx, attempt)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		again, retryAfter := retryHint(err)
		if !again || retry >= c.maxRetries {
			if retry > 0 {
				return fmt.Errorf("%s (after %d attempts): %w", what, retry+1, err)
			}
			return fmt.Errorf("%s: %w", what, err)
		}
		delay := c.backoff(retry)
		if retryAfter > 0 {
			delay = retryAfter
		}
		if err := c.sleep(ctx, delay); err != nil {
			return fmt.Errorf("%s: waiting to retry: %w", what, err)
		}
	}
}

// runAttempt runs attempt under the per-attempt timeout and names the timeout
// when it is what ended the attempt.
func (c *OpenAI) runAttempt(ctx context.Context, attempt func(ctx context.Context) error) error {
	attemptCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := attempt(attemptCtx)
	if err == nil || ctx.Err() != nil || !errors.Is(attemptCtx.Err(), context.DeadlineExceeded) {
		return err
	}
	timedOut := fmt.Errorf("attempt timed out after %s: %w", c.timeout, context.DeadlineExceeded)
	if again, _ := retryHint(err); again {
		return &transientError{timedOut}
	}
	return timedOut
}

// retryHint tells whether err is worth another attempt and how long the
// server asked to wait first.
func retryHint(err error) (bool, time.Duration) {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Retryable, apiErr.RetryAfter
	}
	var transient *transientError
	return errors.As(err, &transient), 0
}

// backoff returns the wait before retry number retry+1: exponential from
// 250 ms, capped at 8 s, with the lower half of each step drawn at random so
// that clients which failed together do not come back together.
func (c *OpenAI) backoff(retry int) time.Duration {
	step := backoffCap
	if retry < 16 {
		step = min(backoffStart<<retry, backoffCap)
	}
	c.rngMu.Lock()
	jitter := time.Duration(c.rng.Int64N(int64(step/2) + 1))
	c.rngMu.Unlock()
	return step/2 + jitter
}

func sleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// send performs one HTTP request and turns a non-2xx answer into an APIError.
func (c *OpenAI) send(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, reader)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, &transientError{err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, readAPIError(resp, time.Now())
	}
	return resp, nil
}

func readAPIError(resp *http.Response, now time.Time) *APIError {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &APIError{
		Status:     resp.StatusCode,
		Message:    errorMessage(raw),
		Retryable:  retryableStatus(resp.StatusCode),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
	}
}

func retryableStatus(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// parseRetryAfter reads a Retry-After header given in seconds or as an HTTP
// date; it returns zero when the header is absent or unusable.
func parseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if seconds, err := strconv.Atoi(value); err == nil {
		return time.Duration(max(seconds, 0)) * time.Second
	}
	if at, err := http.ParseTime(value); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// errorMessage extracts the explanation from an error body. Servers differ:
// OpenAI, vLLM, Ollama, llama.cpp's server and llama-cpp-python send
// {"error":{"message":...}}, older vLLM {"object":"error","message":...},
// TGI and older llama.cpp builds {"error":"..."}, FastAPI {"detail":"..."},
// and proxies plain text.
func errorMessage(raw []byte) string {
	var body struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(raw, &body); err == nil {
		if msg := messageOf(body.Error); msg != "" {
			return truncateMessage(msg)
		}
		if body.Message != "" {
			return truncateMessage(body.Message)
		}
		if msg := messageOf(body.Detail); msg != "" {
			return truncateMessage(msg)
		}
	}
	return truncateMessage(strings.TrimSpace(string(raw)))
}

// messageOf reads a JSON value that is either a string or an object with a
// message field.
func messageOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return text
	}
	var object struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &object) == nil {
		return object.Message
	}
	return ""
}

// truncateMessage cuts s to at most maxErrorMessage bytes without splitting a
// UTF-8 sequence.
func truncateMessage(s string) string {
	if len(s) <= maxErrorMessage {
		return s
	}
	cut := maxErrorMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

type usageJSON struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	// PromptDetails is sent by OpenAI and by vLLM (with prefix caching on); others leave it out.
	PromptDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

func (u *usageJSON) usage() Usage {
	if u == nil {
		return Usage{}
	}
	out := Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if u.PromptDetails != nil {
		out.CachedTokens = u.PromptDetails.CachedTokens
	}
	return out
}

func addUsage(a, b Usage) Usage {
	return Usage{
		PromptTokens:     a.PromptTokens + b.PromptTokens,
		CompletionTokens: a.CompletionTokens + b.CompletionTokens,
		TotalTokens:      a.TotalTokens + b.TotalTokens,
		CachedTokens:     a.CachedTokens + b.CachedTokens,
	}
}

// choiceJSON is one answer of any of the shapes servers send: a chat
// completion has message.content, a chat stream chunk delta.content, and a
// plain completion or its chunks text.
type choiceJSON struct {
	Index   int `json:"index"`
	Message struct {
		Content string `json:"content"`
	} `json:"message"`
	Delta struct {
		Content string `json:"content"`
	} `json:"delta"`
	Text         string `json:"text"`
	FinishReason string `json:"finish_reason"`
}

// content returns the text the choice carries, whichever field holds it.
func (c *choiceJSON) content() string {
	switch {
	case c.Delta.Content != "":
		return c.Delta.Content
	case c.Message.Content != "":
		return c.Message.Content
	default:
		return c.Text
	}
}

// answerJSON is a completion or a stream chunk, or an error in their place.
type answerJSON struct {
	Choices []choiceJSON `json:"choices"`
	Usage   *usageJSON   `json:"usage"`
	// Error is set by servers that report a failure once a stream has
	// begun, with a 200 status: {"error":{"message":...}} (vLLM, llama.cpp).
	Error json.RawMessage `json:"error"`
}

// failure returns the error the answer reports, or nil. raw is the answer's
// JSON text.
func (a *answerJSON) failure(raw []byte) error {
	if len(a.Error) > 0 && string(a.Error) != "null" {
		return &APIError{Message: errorMessage(raw)}
	}
	return nil
}

// decodeCompletion reads a non-streaming answer of chat or plain completions.
func decodeCompletion(body io.Reader) (Result, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		return Result{}, &transientError{fmt.Errorf("reading completion: %w", err)}
	}
	var completion answerJSON
	if err := json.Unmarshal(raw, &completion); err != nil {
		return Result{}, fmt.Errorf("decoding completion: %w", err)
	}
	if err := completion.failure(raw); err != nil {
		return Result{}, err
	}
	result := Result{Usage: completion.Usage.usage()}
	seen := make(map[int]bool, len(completion.Choices))
	for _, choice := range completion.Choices {
		seen[choice.Index] = true
		result.Choices = append(result.Choices, Choice{
			Index:        choice.Index,
			Text:         choice.content(),
			FinishReason: choice.FinishReason,
		})
	}
	// A server that leaves out or repeats indices still lists the answers in
	// order, so their positions serve as indices.
	if len(seen) != len(result.Choices) {
		for position := range result.Choices {
			result.Choices[position].Index = position
		}
	}
	slices.SortFunc(result.Choices, func(a, b Choice) int { return a.Index - b.Index })
	return result, nil
}

// decodeUnstreamed handles a server that answered a streaming request with a
// plain JSON completion: each answer reaches onDelta as one piece.
func decodeUnstreamed(body io.Reader, onDelta func(Delta)) (Result, error) {
	result, err := decodeCompletion(body)
	if err != nil {
		return Result{}, err
	}
	for _, choice := range result.Choices {
		if choice.Text != "" {
			onDelta(Delta{Index: choice.Index, Text: choice.Text})
		}
	}
	return result, nil
}

func isJSON(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "application/json")
}

// readStream reads a server-sent-events answer, passing text to onDelta as it
// arrives.
func readStream(body io.Reader, onDelta func(Delta)) (Result, error) {
	events := sseReader{r: bufio.NewReader(body)}
	stream := newStreamState()
	for {
		event, err := events.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Result{}, stream.failure(fmt.Errorf("stream ended early: %w", err))
		}
		if event.failed {
			return Result{}, &APIError{Message: errorMessage([]byte(event.data))}
		}
		if event.data == "[DONE]" {
			return stream.result(), nil
		}
		if err := stream.add(event.data, onDelta); err != nil {
			return Result{}, err
		}
	}
	if stream.finished() {
		return stream.result(), nil
	}
	if stream.events == 0 {
		// llama-cpp-python answers this way when the prompt does not fit
		// the context: 200, then nothing.
		return Result{}, stream.failure(errors.New("stream ended early: the server closed it without sending any event"))
	}
	return Result{}, stream.failure(errors.New("stream ended early"))
}

// sseReader splits a server-sent-events stream into events. It uses a
// bufio.Reader rather than a Scanner because a single data line can exceed
// any fixed line limit.
type sseReader struct {
	r *bufio.Reader
}

// sseEvent is the data of one event.
type sseEvent struct {
	data string
	// failed marks an error report: an event named "error", or an "error:"
	// line, with which older builds of llama.cpp's server reported a failure
	// mid-stream instead of a data line.
	failed bool
}

// next returns the next event, or io.EOF when the stream ends between
// events. Comments and fields other than data, event and error are skipped.
func (s *sseReader) next() (sseEvent, error) {
	var data []string
	var name string
	for {
		line, err := s.r.ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			if len(data) > 0 {
				return sseEvent{data: strings.Join(data, "\n"), failed: name == "error"}, nil
			}
			return sseEvent{}, io.EOF
		}
		if errors.Is(err, io.EOF) {
			return sseEvent{}, io.ErrUnexpectedEOF
		}
		if err != nil {
			return sseEvent{}, err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			if len(data) > 0 {
				return sseEvent{data: strings.Join(data, "\n"), failed: name == "error"}, nil
			}
			name = ""
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "data":
			data = append(data, value)
		case "event":
			name = value
		case "error":
			return sseEvent{data: value, failed: true}, nil
		}
	}
}

// streamState accumulates the answers of a stream.
type streamState struct {
	texts  map[int]*strings.Builder
	finish map[int]string
	// finalUsage holds the usage of chunks without choices: the final report,
	// of which llama.cpp's server sends one per answer when n > 1.
	finalUsage []Usage
	// answerUsage holds, per answer, the usage last seen on a chunk with
	// choices: a running count (vLLM's continuous usage stats, Ollama's
	// zeros on plain completions) or the answer's total (llama.cpp's server
	// on plain completions).
	answerUsage map[int]Usage
	events      int
	delivered   bool
}

func newStreamState() *streamState {
	return &streamState{texts: map[int]*strings.Builder{}, finish: map[int]string{}, answerUsage: map[int]Usage{}}
}

// add takes in the data of one event.
func (s *streamState) add(data string, onDelta func(Delta)) error {
	s.events++
	var chunk answerJSON
	if err := json.Unmarshal([]byte(data), &chunk); err != nil {
		return fmt.Errorf("decoding stream chunk: %w", err)
	}
	if err := chunk.failure([]byte(data)); err != nil {
		return err
	}
	for _, choice := range chunk.Choices {
		text := s.texts[choice.Index]
		if text == nil {
			text = &strings.Builder{}
			s.texts[choice.Index] = text
		}
		// The last piece of text may come in the chunk that carries the
		// finish reason (vLLM, Ollama).
		if piece := choice.content(); piece != "" {
			text.WriteString(piece)
			s.delivered = true
			onDelta(Delta{Index: choice.Index, Text: piece})
		}
		if choice.FinishReason != "" {
			s.finish[choice.Index] = choice.FinishReason
		}
	}
	switch {
	case chunk.Usage == nil:
	case len(chunk.Choices) == 0:
		s.finalUsage = append(s.finalUsage, chunk.Usage.usage())
	default:
		s.answerUsage[chunk.Choices[0].Index] = chunk.Usage.usage()
	}
	return nil
}

// usage returns the stream's token counts: its final reports, or else the
// last count of each answer.
func (s *streamState) usage() Usage {
	if len(s.finalUsage) > 0 {
		return combineUsage(s.finalUsage)
	}
	reports := make([]Usage, 0, len(s.answerUsage))
	for _, u := range s.answerUsage {
		reports = append(reports, u)
	}
	return combineUsage(reports)
}

// combineUsage makes one request's usage of reports on its answers: their
// completion tokens add up, and the prompt they share counts once.
func combineUsage(reports []Usage) Usage {
	if len(reports) == 1 {
		return reports[0]
	}
	var total Usage
	for _, u := range reports {
		total.PromptTokens = max(total.PromptTokens, u.PromptTokens)
		total.CachedTokens = max(total.CachedTokens, u.CachedTokens)
		total.CompletionTokens += u.CompletionTokens
	}
	total.TotalTokens = total.PromptTokens + total.CompletionTokens
	return total
}

// finished tells whether every answer seen so far has a finish reason, which
// makes a stream that lacks the final [DONE] still complete.
func (s *streamState) finished() bool {
	return len(s.texts) > 0 && len(s.finish) == len(s.texts)
}

// failure marks err as worth retrying only while no text has been passed on,
// since a retry would otherwise repeat text the caller already has.
func (s *streamState) failure(err error) error {
	if s.delivered {
		return err
	}
	return &transientError{err}
}

func (s *streamState) result() Result {
	indices := make([]int, 0, len(s.texts))
	for index := range s.texts {
		indices = append(indices, index)
	}
	slices.Sort(indices)
	result := Result{Usage: s.usage()}
	for _, index := range indices {
		result.Choices = append(result.Choices, Choice{
			Index:        index,
			Text:         s.texts[index].String(),
			FinishReason: s.finish[index],
		})
	}
	return result
}
