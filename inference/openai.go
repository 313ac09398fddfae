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

// OpenAI is a Generator backed by an OpenAI-compatible chat-completions
// server. It is safe for concurrent use.
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

// Chat asks the server for req.N answers. With onDelta the answers are
// streamed and onDelta receives each piece of text as it arrives. Servers that
// return fewer answers than asked for (some ignore n) are asked again, one
// answer per request, until every index 0..N-1 is filled.
func (c *OpenAI) Chat(ctx context.Context, req Request, onDelta func(Delta)) (Result, error) {
	want := req.wantedChoices()
	first, err := c.complete(ctx, req, want, onDelta)
	if err != nil {
		return Result{}, err
	}
	if len(first.Choices) == 0 {
		return Result{}, errors.New("chat completion: server returned no choices")
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
		choice, extraUsage, err := c.completeOne(ctx, req, index, onDelta)
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

// completeOne asks for the single answer with the given index, shifting the
// seed by the index so that the extra answers differ from each other.
func (c *OpenAI) completeOne(ctx context.Context, req Request, index int, onDelta func(Delta)) (Choice, Usage, error) {
	single := req
	single.N = 1
	if req.Params.Seed != nil {
		seed := *req.Params.Seed + int64(index)
		single.Params.Seed = &seed
	}
	var forward func(Delta)
	if onDelta != nil {
		forward = func(d Delta) {
			d.Index = index
			onDelta(d)
		}
	}
	res, err := c.complete(ctx, single, 1, forward)
	if err != nil {
		return Choice{}, Usage{}, err
	}
	if len(res.Choices) == 0 {
		return Choice{}, Usage{}, errors.New("chat completion: server returned no choices")
	}
	choice := res.Choices[0]
	choice.Index = index
	return choice, res.Usage, nil
}

// complete sends one chat-completions request, retrying failed attempts.
func (c *OpenAI) complete(ctx context.Context, req Request, n int, onDelta func(Delta)) (Result, error) {
	body, err := json.Marshal(newChatBody(req, n, onDelta != nil))
	if err != nil {
		return Result{}, fmt.Errorf("encoding chat request: %w", err)
	}
	var result Result
	err = c.withRetries(ctx, "chat completion", func(ctx context.Context) error {
		resp, err := c.send(ctx, http.MethodPost, "/chat/completions", body)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		switch {
		case onDelta == nil:
			result, err = decodeCompletion(resp.Body)
		case isJSON(resp.Header.Get("Content-Type")):
			result, err = decodeUnstreamed(resp.Body, onDelta)
		default:
			result, err = readStream(resp.Body, onDelta)
		}
		return err
	})
	return result, err
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
	Model       string    `json:"model"`
	Messages    []Message `json:"messages"`
	Temperature float64   `json:"temperature"`
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
		Model:       req.Model,
		Messages:    req.Messages,
		Temperature: req.Params.Temperature,
		TopP:        req.Params.TopP,
		MaxTokens:   req.Params.MaxTokens,
		Seed:        req.Params.Seed,
		Stop:        req.Params.Stop,
		N:           n,
		TopK:        req.Params.TopK,
	}
	if p := req.Params.RepeatPenalty; p > 0 && p != 1 {
		body.RepetitionPenalty = p
	}
	if body.Messages == nil {
		body.Messages = []Message{}
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
// OpenAI and vLLM send {"error":{"message":...}}, TGI and llama.cpp variants
// {"error":"..."}, FastAPI {"detail":"..."}, and proxies plain text.
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
}

func (u *usageJSON) usage() Usage {
	if u == nil {
		return Usage{}
	}
	return Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
}

func addUsage(a, b Usage) Usage {
	return Usage{
		PromptTokens:     a.PromptTokens + b.PromptTokens,
		CompletionTokens: a.CompletionTokens + b.CompletionTokens,
		TotalTokens:      a.TotalTokens + b.TotalTokens,
	}
}

// decodeCompletion reads a non-streaming chat-completions answer.
func decodeCompletion(body io.Reader) (Result, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		return Result{}, &transientError{fmt.Errorf("reading completion: %w", err)}
	}
	var completion struct {
		Choices []struct {
			Index   int `json:"index"`
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage *usageJSON `json:"usage"`
	}
	if err := json.Unmarshal(raw, &completion); err != nil {
		return Result{}, fmt.Errorf("decoding completion: %w", err)
	}
	result := Result{Usage: completion.Usage.usage()}
	seen := make(map[int]bool, len(completion.Choices))
	for _, choice := range completion.Choices {
		seen[choice.Index] = true
		result.Choices = append(result.Choices, Choice{
			Index:        choice.Index,
			Text:         choice.Message.Content,
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
		data, err := events.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Result{}, stream.failure(fmt.Errorf("stream ended early: %w", err))
		}
		if data == "[DONE]" {
			return stream.result(), nil
		}
		if err := stream.add(data, onDelta); err != nil {
			return Result{}, err
		}
	}
	if stream.finished() {
		return stream.result(), nil
	}
	return Result{}, stream.failure(errors.New("stream ended early"))
}

// sseReader splits a server-sent-events stream into the data of its events.
// It uses a bufio.Reader rather than a Scanner because a single data line can
// exceed any fixed line limit.
type sseReader struct {
	r *bufio.Reader
}

// next returns the data of the next event, or io.EOF when the stream ends
// between events. Comments and fields other than data are skipped.
func (s *sseReader) next() (string, error) {
	var data []string
	for {
		line, err := s.r.ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			if len(data) > 0 {
				return strings.Join(data, "\n"), nil
			}
			return "", io.EOF
		}
		if errors.Is(err, io.EOF) {
			return "", io.ErrUnexpectedEOF
		}
		if err != nil {
			return "", err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			if len(data) > 0 {
				return strings.Join(data, "\n"), nil
			}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		if field == "data" {
			data = append(data, strings.TrimPrefix(value, " "))
		}
	}
}

// streamState accumulates the answers of a stream.
type streamState struct {
	texts     map[int]*strings.Builder
	finish    map[int]string
	usage     Usage
	delivered bool
}

func newStreamState() *streamState {
	return &streamState{texts: map[int]*strings.Builder{}, finish: map[int]string{}}
}

type streamChunk struct {
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usageJSON      `json:"usage"`
	Error json.RawMessage `json:"error"`
}

func (s *streamState) add(data string, onDelta func(Delta)) error {
	var chunk streamChunk
	if err := json.Unmarshal([]byte(data), &chunk); err != nil {
		return fmt.Errorf("decoding stream chunk: %w", err)
	}
	if len(chunk.Error) > 0 && string(chunk.Error) != "null" {
		return &APIError{Message: errorMessage([]byte(data))}
	}
	for _, choice := range chunk.Choices {
		text := s.texts[choice.Index]
		if text == nil {
			text = &strings.Builder{}
			s.texts[choice.Index] = text
		}
		if choice.Delta.Content != "" {
			text.WriteString(choice.Delta.Content)
			s.delivered = true
			onDelta(Delta{Index: choice.Index, Text: choice.Delta.Content})
		}
		if choice.FinishReason != "" {
			s.finish[choice.Index] = choice.FinishReason
		}
	}
	if chunk.Usage != nil {
		s.usage = chunk.Usage.usage()
	}
	return nil
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
	result := Result{Usage: s.usage}
	for _, index := range indices {
		result.Choices = append(result.Choices, Choice{
			Index:        index,
			Text:         s.texts[index].String(),
			FinishReason: s.finish[index],
		})
	}
	return result
}
