package inference

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"rustexpert/inference/openaitest"
)

const question = "How do I sum the even numbers of a slice in Rust?"

// sleepRecorder replaces the backoff sleep, recording the delays instead of
// waiting them out.
type sleepRecorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays = append(s.delays, d)
	return ctx.Err()
}

func (s *sleepRecorder) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.delays)
}

func newTestClient(t *testing.T, cfg OpenAIConfig) (*OpenAI, *sleepRecorder) {
	t.Helper()
	client := NewOpenAI(cfg)
	recorder := &sleepRecorder{}
	client.sleep = recorder.sleep
	return client, recorder
}

func questionRequest(n int, seed *int64) Request {
	return Request{
		Model:    "test-model",
		Messages: []Message{{Role: "system", Content: "You are a Rust expert."}, {Role: "user", Content: question}},
		Params:   Params{Temperature: 0.7, TopP: 0.95, Seed: seed},
		N:        n,
	}
}

func seedOf(v int64) *int64 { return &v }

// streamCollector gathers deltas per choice index.
type streamCollector struct {
	mu     sync.Mutex
	pieces map[int][]string
}

func newStreamCollector() *streamCollector {
	return &streamCollector{pieces: map[int][]string{}}
}

func (c *streamCollector) onDelta(d Delta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pieces[d.Index] = append(c.pieces[d.Index], d.Text)
}

func (c *streamCollector) text(index int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.pieces[index], "")
}

func TestChatNonStreaming(t *testing.T) {
	server := openaitest.NewServer(openaitest.Options{})
	defer server.Close()
	client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL()})

	result, err := client.Chat(context.Background(), questionRequest(1, seedOf(7)), nil)
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if len(result.Choices) != 1 {
		t.Fatalf("got %d choices, want 1", len(result.Choices))
	}
	choice := result.Choices[0]
	if want := openaitest.Answer(question, 7, 0); choice.Text != want {
		t.Errorf("text = %q, want %q", choice.Text, want)
	}
	if choice.Index != 0 || choice.FinishReason != "stop" {
		t.Errorf("index %d finish %q, want 0 and stop", choice.Index, choice.FinishReason)
	}
	wantPrompt := len(strings.Fields("You are a Rust expert.")) + len(strings.Fields(question))
	wantCompletion := len(strings.Fields(choice.Text))
	want := Usage{PromptTokens: wantPrompt, CompletionTokens: wantCompletion, TotalTokens: wantPrompt + wantCompletion}
	if result.Usage != want {
		t.Errorf("usage = %+v, want %+v", result.Usage, want)
	}
}

func TestChatStreamingDeltasConcatenateToText(t *testing.T) {
	server := openaitest.NewServer(openaitest.Options{TokenDelay: time.Millisecond})
	defer server.Close()
	client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL()})
	var order []Delta
	var mu sync.Mutex
	collector := newStreamCollector()

	result, err := client.Chat(context.Background(), questionRequest(2, seedOf(3)), func(d Delta) {
		mu.Lock()
		order = append(order, d)
		mu.Unlock()
		collector.onDelta(d)
	})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if len(result.Choices) != 2 {
		t.Fatalf("got %d choices, want 2", len(result.Choices))
	}
	for index, choice := range result.Choices {
		want := openaitest.Answer(question, 3, index)
		if choice.Text != want {
			t.Errorf("choice %d text = %q, want %q", index, choice.Text, want)
		}
		if got := collector.text(index); got != choice.Text {
			t.Errorf("choice %d deltas concatenate to %q, want %q", index, got, choice.Text)
		}
		if pieces := len(collector.pieces[index]); pieces != len(strings.Fields(want)) {
			t.Errorf("choice %d arrived in %d deltas, want one per token (%d)", index, pieces, len(strings.Fields(want)))
		}
	}
	if order[0].Index != 0 || order[1].Index != 1 {
		t.Errorf("first deltas have indices %d, %d; the server interleaves 0, 1", order[0].Index, order[1].Index)
	}
	if result.Usage.CompletionTokens != len(strings.Fields(result.Choices[0].Text))+len(strings.Fields(result.Choices[1].Text)) {
		t.Errorf("usage %+v does not count the streamed tokens", result.Usage)
	}
}

func TestChatThreeChoices(t *testing.T) {
	server := openaitest.NewServer(openaitest.Options{})
	defer server.Close()
	client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL()})

	result, err := client.Chat(context.Background(), questionRequest(3, seedOf(1)), nil)
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if server.Requests() != 1 {
		t.Errorf("server saw %d requests, want 1", server.Requests())
	}
	assertChoices(t, result, 1, 3)
}

// assertChoices checks that result holds n distinct answers of the test
// server for seed, at indices 0..n-1.
func assertChoices(t *testing.T, result Result, seed int64, n int) {
	t.Helper()
	if len(result.Choices) != n {
		t.Fatalf("got %d choices, want %d", len(result.Choices), n)
	}
	seen := map[string]bool{}
	for index, choice := range result.Choices {
		if choice.Index != index {
			t.Errorf("choice at %d has index %d", index, choice.Index)
		}
		if want := openaitest.Answer(question, seed, index); choice.Text != want {
			t.Errorf("choice %d text = %q, want %q", index, choice.Text, want)
		}
		if seen[choice.Text] {
			t.Errorf("choice %d repeats an earlier answer", index)
		}
		seen[choice.Text] = true
	}
}

func TestChatFillsChoicesWhenServerIgnoresN(t *testing.T) {
	for _, streaming := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", streaming), func(t *testing.T) {
			server := openaitest.NewServer(openaitest.Options{IgnoreN: true})
			defer server.Close()
			client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL()})
			collector := newStreamCollector()
			var onDelta func(Delta)
			if streaming {
				onDelta = collector.onDelta
			}

			result, err := client.Chat(context.Background(), questionRequest(3, seedOf(10)), onDelta)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			if server.Requests() != 3 {
				t.Errorf("server saw %d requests, want 1 plus 2 single-answer requests", server.Requests())
			}
			// The test server's answer depends on seed+index, so seeds 10, 11
			// and 12 with one answer each equal seed 10 with three answers.
			assertChoices(t, result, 10, 3)
			completion := 0
			for _, choice := range result.Choices {
				completion += len(strings.Fields(choice.Text))
				if streaming && collector.text(choice.Index) != choice.Text {
					t.Errorf("deltas for index %d = %q, want %q", choice.Index, collector.text(choice.Index), choice.Text)
				}
			}
			if result.Usage.CompletionTokens != completion {
				t.Errorf("completion tokens = %d, want the sum over the three requests %d", result.Usage.CompletionTokens, completion)
			}
		})
	}
}

func TestChatRetriesAfter503(t *testing.T) {
	server := openaitest.NewServer(openaitest.Options{FailFirst: 2})
	defer server.Close()
	client, recorder := newTestClient(t, OpenAIConfig{BaseURL: server.URL()})

	result, err := client.Chat(context.Background(), questionRequest(1, nil), nil)
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	// Without a seed the test server derives one from the temperature: 0.7 → 700.
	if result.Choices[0].Text != openaitest.Answer(question, 700, 0) {
		t.Errorf("unexpected text %q", result.Choices[0].Text)
	}
	if server.Requests() != 3 {
		t.Errorf("server saw %d requests, want 3", server.Requests())
	}
	delays := recorder.recorded()
	if len(delays) != 2 {
		t.Fatalf("slept %d times, want 2", len(delays))
	}
	assertBetween(t, delays[0], 125*time.Millisecond, 250*time.Millisecond)
	assertBetween(t, delays[1], 250*time.Millisecond, 500*time.Millisecond)
}

func assertBetween(t *testing.T, d, low, high time.Duration) {
	t.Helper()
	if d < low || d > high {
		t.Errorf("delay %s outside [%s, %s]", d, low, high)
	}
}

func TestChatGivesUpAfterMaxRetries(t *testing.T) {
	var requests atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "upstream busy", http.StatusBadGateway)
	}))
	defer server.Close()
	client, recorder := newTestClient(t, OpenAIConfig{BaseURL: server.URL, MaxRetries: 2})

	_, err := client.Chat(context.Background(), questionRequest(1, nil), nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadGateway || apiErr.Message != "upstream busy" {
		t.Fatalf("err = %v, want APIError 502 with the server's message", err)
	}
	if requests.Load() != 3 || len(recorder.recorded()) != 2 {
		t.Errorf("%d requests and %d sleeps, want 3 and 2", requests.Load(), len(recorder.recorded()))
	}
}

func TestChatDoesNotRetry400(t *testing.T) {
	var requests atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"message":"model 'nope' does not exist","type":"invalid_request_error"}}`)
	}))
	defer server.Close()
	client, recorder := newTestClient(t, OpenAIConfig{BaseURL: server.URL})

	_, err := client.Chat(context.Background(), questionRequest(1, nil), nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want an APIError", err)
	}
	if apiErr.Status != 400 || apiErr.Retryable || apiErr.Message != "model 'nope' does not exist" {
		t.Errorf("APIError = %+v", apiErr)
	}
	if requests.Load() != 1 || len(recorder.recorded()) != 0 {
		t.Errorf("%d requests and %d sleeps, want 1 and 0", requests.Load(), len(recorder.recorded()))
	}
}

func TestChatHonoursRetryAfter(t *testing.T) {
	var requests atomic.Int64
	model := openaitest.Handler(openaitest.Options{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			w.Header().Set("Retry-After", "7")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		model.ServeHTTP(w, r)
	}))
	defer server.Close()
	client, recorder := newTestClient(t, OpenAIConfig{BaseURL: server.URL + "/v1"})

	if _, err := client.Chat(context.Background(), questionRequest(1, nil), nil); err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if delays := recorder.recorded(); !slices.Equal(delays, []time.Duration{7 * time.Second}) {
		t.Errorf("delays = %v, want [7s] from Retry-After", delays)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 12 ":                          12 * time.Second,
		"-4":                            0,
		"soon":                          0,
		"Sat, 01 Mar 2025 12:00:30 GMT": 30 * time.Second,
		"Sat, 01 Mar 2025 11:00:00 GMT": 0,
	}
	for header, want := range cases {
		if got := parseRetryAfter(header, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", header, got, want)
		}
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	client := NewOpenAI(OpenAIConfig{BaseURL: "http://unused"})
	for retry := range 12 {
		step := min(backoffStart<<retry, backoffCap)
		for range 20 {
			assertBetween(t, client.backoff(retry), step/2, step)
		}
	}
	if got := client.backoff(100); got > backoffCap {
		t.Errorf("backoff(100) = %s, above the cap", got)
	}
}

func TestChatPerAttemptTimeout(t *testing.T) {
	var requests atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		// The server notices the client leaving only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer server.Close()
	client, recorder := newTestClient(t, OpenAIConfig{BaseURL: server.URL, Timeout: 50 * time.Millisecond, MaxRetries: 1})

	ctx := context.Background()
	start := time.Now()
	_, err := client.Chat(ctx, questionRequest(1, nil), nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v, want an attempt timeout", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %s for two 50ms attempts", elapsed)
	}
	if requests.Load() != 2 || len(recorder.recorded()) != 1 {
		t.Errorf("%d requests and %d sleeps, want a timed-out attempt retried once", requests.Load(), len(recorder.recorded()))
	}
}

func TestChatCancelDuringSlowStream(t *testing.T) {
	server := openaitest.NewServer(openaitest.Options{TokenDelay: 2 * time.Second})
	defer server.Close()
	client, recorder := newTestClient(t, OpenAIConfig{BaseURL: server.URL()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	firstDelta := make(chan struct{})
	var once sync.Once
	cancelledAt := make(chan time.Time, 1)
	go func() {
		<-firstDelta
		at := time.Now()
		cancel()
		cancelledAt <- at
	}()

	_, err := client.Chat(ctx, questionRequest(1, nil), func(Delta) { once.Do(func() { close(firstDelta) }) })
	returned := time.Now()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if wait := returned.Sub(<-cancelledAt); wait > time.Second {
		t.Errorf("returned %s after cancel, want promptly", wait)
	}
	if server.Requests() != 1 || len(recorder.recorded()) != 0 {
		t.Errorf("%d requests and %d sleeps after cancel, want 1 and 0", server.Requests(), len(recorder.recorded()))
	}
}

func TestChatCancelDuringBackoff(t *testing.T) {
	gotRequest := make(chan struct{}, 10)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		gotRequest <- struct{}{}
	}))
	defer server.Close()
	// The real sleep stays in place: cancelling must cut it short.
	client := NewOpenAI(OpenAIConfig{BaseURL: server.URL})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-gotRequest
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()

	start := time.Now()
	_, err := client.Chat(ctx, questionRequest(1, nil), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %s; the 60s backoff was not cut short", elapsed)
	}
}

// streamHandler serves a fixed stream body for every request and counts them.
func streamHandler(body string, requests *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, body)
	})
}

func TestChatStreamEndedEarly(t *testing.T) {
	const role = `data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n"
	const hello = `data: {"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}` + "\n\n"
	const finish = `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"

	t.Run("after text is not retried", func(t *testing.T) {
		var requests atomic.Int64
		server := httptest.NewServer(streamHandler(role+hello, &requests))
		defer server.Close()
		client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL})
		var got []Delta
		_, err := client.Chat(context.Background(), questionRequest(1, nil), func(d Delta) { got = append(got, d) })
		if err == nil || !strings.Contains(err.Error(), "stream ended early") {
			t.Fatalf("err = %v, want stream ended early", err)
		}
		if requests.Load() != 1 || len(got) != 1 {
			t.Errorf("%d requests and %d deltas, want 1 and 1", requests.Load(), len(got))
		}
	})
	t.Run("before text is retried", func(t *testing.T) {
		var requests atomic.Int64
		server := httptest.NewServer(streamHandler(role, &requests))
		defer server.Close()
		client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL, MaxRetries: 2})
		_, err := client.Chat(context.Background(), questionRequest(1, nil), func(Delta) {})
		if err == nil || !strings.Contains(err.Error(), "stream ended early") {
			t.Fatalf("err = %v, want stream ended early", err)
		}
		if requests.Load() != 3 {
			t.Errorf("%d requests, want 3", requests.Load())
		}
	})
	t.Run("cut inside a line", func(t *testing.T) {
		var requests atomic.Int64
		server := httptest.NewServer(streamHandler(role+hello+`data: {"choi`, &requests))
		defer server.Close()
		client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL})
		_, err := client.Chat(context.Background(), questionRequest(1, nil), func(Delta) {})
		if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "stream ended early") {
			t.Fatalf("err = %v, want stream ended early with unexpected EOF", err)
		}
	})
	t.Run("finish reason without DONE is complete", func(t *testing.T) {
		var requests atomic.Int64
		server := httptest.NewServer(streamHandler(role+hello+finish, &requests))
		defer server.Close()
		client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL})
		result, err := client.Chat(context.Background(), questionRequest(1, nil), func(Delta) {})
		if err != nil {
			t.Fatalf("Chat: %v", err)
		}
		if result.Choices[0].Text != "Hello" || result.Choices[0].FinishReason != "stop" {
			t.Errorf("choice = %+v", result.Choices[0])
		}
	})
}

func TestChatStreamParsing(t *testing.T) {
	long := strings.Repeat("fn x() {} ", 30_000)
	longJSON, err := json.Marshal(long)
	if err != nil {
		t.Fatal(err)
	}
	body := ": keep-alive comment\r\n\r\n" +
		"event: message\r\nid: 1\r\n" +
		`data: {"choices":[{"index":0,"delta":{"content":"A"},"finish_reason":null}]}` + "\r\n\r\n" +
		": another comment\n\n" +
		`data: {"choices":[{"index":0,"delta":{"content":` + string(longJSON) + `},"finish_reason":null}]}` + "\n\n" +
		"data: {\"choices\":[{\"index\":0,\n" +
		"data: \"delta\":{\"content\":\"Z\"},\"finish_reason\":\"length\"}]}\n\n" +
		`data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":9,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":3}}}` + "\n\n" +
		"data: [DONE]\n\n" +
		`data: {"choices":[{"index":0,"delta":{"content":"after done"},"finish_reason":null}]}` + "\n\n"
	var requests atomic.Int64
	server := httptest.NewServer(streamHandler(body, &requests))
	defer server.Close()
	client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL})
	collector := newStreamCollector()

	result, err := client.Chat(context.Background(), questionRequest(1, nil), collector.onDelta)
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	want := "A" + long + "Z"
	if result.Choices[0].Text != want || collector.text(0) != want {
		t.Errorf("text has %d bytes (deltas %d), want %d", len(result.Choices[0].Text), len(collector.text(0)), len(want))
	}
	if result.Choices[0].FinishReason != "length" {
		t.Errorf("finish reason = %q, want length", result.Choices[0].FinishReason)
	}
	if result.Usage != (Usage{PromptTokens: 4, CompletionTokens: 9, TotalTokens: 13, CachedTokens: 3}) {
		t.Errorf("usage = %+v", result.Usage)
	}
}

func TestChatStreamErrorEvent(t *testing.T) {
	var requests atomic.Int64
	server := httptest.NewServer(streamHandler(`data: {"error":{"message":"out of KV cache","code":500}}`+"\n\n", &requests))
	defer server.Close()
	client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL})

	_, err := client.Chat(context.Background(), questionRequest(1, nil), func(Delta) {})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Message != "out of KV cache" {
		t.Fatalf("err = %v, want APIError with the streamed message", err)
	}
}

func TestChatStreamRequestAnsweredWithJSON(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprint(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}]}`)
	}))
	defer server.Close()
	client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL})
	collector := newStreamCollector()

	result, err := client.Chat(context.Background(), questionRequest(1, nil), collector.onDelta)
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if result.Choices[0].Text != "whole" || collector.text(0) != "whole" {
		t.Errorf("text %q, deltas %q, want whole", result.Choices[0].Text, collector.text(0))
	}
}

func TestErrorBodyShapes(t *testing.T) {
	long := strings.Repeat("x", 700)
	accented := strings.Repeat("é", 400)
	cases := []struct {
		name, body, want string
	}{
		{"object with message", `{"error":{"message":"context too long","type":"invalid_request_error","code":400}}`, "context too long"},
		{"string", `{"error":"Input validation error: max_tokens too large"}`, "Input validation error: max_tokens too large"},
		{"top-level message", `{"message":"model not loaded"}`, "model not loaded"},
		{"detail", `{"detail":"Not Found"}`, "Not Found"},
		{"plain text", "bad gateway from proxy\n", "bad gateway from proxy"},
		{"long plain text", long, long[:500]},
		{"long multibyte", `{"error":"` + accented + `"}`, accented[:500]},
		{"empty", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusUnprocessableEntity)
				fmt.Fprint(w, tc.body)
			}))
			defer server.Close()
			client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL})

			_, err := client.Chat(context.Background(), questionRequest(1, nil), nil)
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an APIError", err)
			}
			if apiErr.Message != tc.want {
				t.Errorf("message = %q, want %q", apiErr.Message, tc.want)
			}
			if len(apiErr.Message) > 500 || !utf8.ValidString(apiErr.Message) {
				t.Errorf("message of %d bytes, valid UTF-8 %v", len(apiErr.Message), utf8.ValidString(apiErr.Message))
			}
			if !strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks the status or the message", err)
			}
		})
	}
}

func TestChatRequestBody(t *testing.T) {
	type captured struct {
		auth string
		body map[string]any
	}
	var mu sync.Mutex
	var requests []captured
	model := openaitest.Handler(openaitest.Options{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading body: %v", err)
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("decoding body: %v", err)
		}
		mu.Lock()
		requests = append(requests, captured{auth: r.Header.Get("Authorization"), body: body})
		mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(raw)))
		model.ServeHTTP(w, r)
	}))
	defer server.Close()

	plain := NewOpenAI(OpenAIConfig{BaseURL: server.URL + "/v1/"})
	if _, err := plain.Chat(context.Background(), questionRequest(0, nil), nil); err != nil {
		t.Fatalf("Chat: %v", err)
	}
	keyed := NewOpenAI(OpenAIConfig{BaseURL: server.URL + "/v1", APIKey: "sk-test"})
	req := questionRequest(2, seedOf(42))
	req.Params.MaxTokens = 64
	req.Params.Stop = []string{"```"}
	if _, err := keyed.Chat(context.Background(), req, func(Delta) {}); err != nil {
		t.Fatalf("Chat: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(requests) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(requests))
	}
	first, second := requests[0], requests[1]
	if first.auth != "" || second.auth != "Bearer sk-test" {
		t.Errorf("authorization headers %q and %q", first.auth, second.auth)
	}
	for _, absent := range []string{"seed", "stop", "stream", "stream_options", "max_tokens"} {
		if _, ok := first.body[absent]; ok {
			t.Errorf("plain request carries %s: %v", absent, first.body[absent])
		}
	}
	wantFirst := map[string]any{"model": "test-model", "temperature": 0.7, "top_p": 0.95, "n": 1.0}
	for key, want := range wantFirst {
		if first.body[key] != want {
			t.Errorf("plain request %s = %v, want %v", key, first.body[key], want)
		}
	}
	messages, _ := first.body["messages"].([]any)
	if len(messages) != 2 {
		t.Errorf("messages = %v", first.body["messages"])
	}
	wantSecond := map[string]any{"seed": 42.0, "max_tokens": 64.0, "n": 2.0, "stream": true}
	for key, want := range wantSecond {
		if second.body[key] != want {
			t.Errorf("streaming request %s = %v, want %v", key, second.body[key], want)
		}
	}
	if stop, _ := second.body["stop"].([]any); len(stop) != 1 || stop[0] != "```" {
		t.Errorf("stop = %v", second.body["stop"])
	}
	if options, _ := second.body["stream_options"].(map[string]any); options["include_usage"] != true {
		t.Errorf("stream_options = %v", second.body["stream_options"])
	}
}

func TestConnectionErrorsAreRetried(t *testing.T) {
	server := httptest.NewServer(http.NotFoundHandler())
	url := server.URL
	server.Close()
	client, recorder := newTestClient(t, OpenAIConfig{BaseURL: url, MaxRetries: 2})

	_, err := client.Chat(context.Background(), questionRequest(1, nil), nil)
	if err == nil {
		t.Fatal("Chat against a closed port succeeded")
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		t.Errorf("connection failure reported as APIError %v", apiErr)
	}
	if len(recorder.recorded()) != 2 {
		t.Errorf("slept %d times, want 2 retries", len(recorder.recorded()))
	}
}

func TestNegativeMaxRetriesDisablesRetries(t *testing.T) {
	server := openaitest.NewServer(openaitest.Options{FailFirst: 1})
	defer server.Close()
	client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL(), MaxRetries: -1})

	if _, err := client.Chat(context.Background(), questionRequest(1, nil), nil); err == nil {
		t.Fatal("Chat succeeded although the only attempt got 503")
	}
	if server.Requests() != 1 {
		t.Errorf("server saw %d requests, want 1", server.Requests())
	}
}

func TestModels(t *testing.T) {
	server := openaitest.NewServer(openaitest.Options{Models: []string{"qwen2.5-coder-7b", "rust-expert-dpo"}, FailFirst: 1})
	defer server.Close()
	client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL()})

	models, err := client.Models(context.Background())
	if err != nil {
		t.Fatalf("Models: %v", err)
	}
	if !slices.Equal(models, []string{"qwen2.5-coder-7b", "rust-expert-dpo"}) {
		t.Errorf("models = %v", models)
	}
	if server.Requests() != 2 {
		t.Errorf("server saw %d requests, want a retry after the 503", server.Requests())
	}
}

// wireExchange is one recorded request and the answer a real server gave, as
// stored in testdata/wire/SERVER/NAME.txt (see testdata/wire/README.md).
type wireExchange struct {
	file string
	// order is N of NAME.N.txt, 1 for NAME.txt.
	order        int
	method, path string
	body         string
	want         *wireWant
	status       int
	header       http.Header
	answer       []byte
}

// wireWant is the result the client must make of a case's answers.
type wireWant struct {
	Choices []struct {
		Index        int    `json:"index"`
		Text         string `json:"text"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage  *usageJSON `json:"usage"`
	Models []string   `json:"models"`
	Error  *struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	} `json:"error"`
}

// readWireExchange parses a fixture: "# key: value" header lines, then the
// answer as an HTTP response whose body runs to the end of the file.
func readWireExchange(path string) (wireExchange, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return wireExchange{}, err
	}
	ex := wireExchange{file: path}
	rest := raw
	for bytes.HasPrefix(rest, []byte("# ")) {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return wireExchange{}, fmt.Errorf("%s: header without an answer", path)
		}
		rest = after
		key, value, _ := strings.Cut(string(line[2:]), ": ")
		switch key {
		case "request":
			ex.method, ex.path, _ = strings.Cut(value, " ")
		case "body":
			ex.body = value
		case "want":
			ex.want = &wireWant{}
			if err := json.Unmarshal([]byte(value), ex.want); err != nil {
				return wireExchange{}, fmt.Errorf("%s: want: %w", path, err)
			}
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(rest)), nil)
	if err != nil {
		return wireExchange{}, fmt.Errorf("%s: answer: %w", path, err)
	}
	defer resp.Body.Close()
	if ex.answer, err = io.ReadAll(resp.Body); err != nil {
		return wireExchange{}, fmt.Errorf("%s: answer body: %w", path, err)
	}
	ex.status, ex.header = resp.StatusCode, resp.Header
	if ex.method == "" {
		return wireExchange{}, fmt.Errorf("%s: no request line", path)
	}
	return ex, nil
}

// wireCases groups the fixtures of dir by case: NAME.txt, then the
// single-answer requests that fill answers the server left out, NAME.2.txt,
// NAME.3.txt and so on.
func wireCases(t *testing.T, dir string) map[string][]wireExchange {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]wireExchange{}
	for _, file := range files {
		ex, err := readWireExchange(file)
		if err != nil {
			t.Fatal(err)
		}
		name, number, _ := strings.Cut(strings.TrimSuffix(filepath.Base(file), ".txt"), ".")
		ex.order = 1
		if number != "" {
			if ex.order, err = strconv.Atoi(number); err != nil {
				t.Fatalf("%s: name NAME.txt or NAME.N.txt", file)
			}
		}
		cases[name] = append(cases[name], ex)
	}
	for _, exchanges := range cases {
		slices.SortFunc(exchanges, func(a, b wireExchange) int { return a.order - b.order })
	}
	for name, exchanges := range cases {
		if exchanges[0].want == nil {
			t.Fatalf("%s: case %s has no want line in its first file", dir, name)
		}
	}
	return cases
}

func TestWireFixtures(t *testing.T) {
	required := map[string]bool{"llamacpp": true, "vllm": true, "ollama": true, "llama-server": false}
	for server, needed := range required {
		dir := filepath.Join("testdata", "wire", server)
		cases := wireCases(t, dir)
		if len(cases) == 0 {
			if needed {
				t.Errorf("no fixtures in %s", dir)
			}
			continue
		}
		for name, exchanges := range cases {
			t.Run(server+"/"+name, func(t *testing.T) { replayWireCase(t, exchanges) })
		}
	}
}

// replayWireCase replays a case and compares the client's result with the
// case's want.
func replayWireCase(t *testing.T, exchanges []wireExchange) {
	out := replayWire(t, exchanges)
	checkWireResult(t, exchanges[0], out)
}

// wireOutcome is what the client made of a replayed case.
type wireOutcome struct {
	result    Result
	models    []string
	err       error
	streamed  bool
	collector *streamCollector
}

// replayWire serves the recorded answers in order, checks that the client
// sends the recorded requests, and returns what the client made of them.
func replayWire(t *testing.T, exchanges []wireExchange) wireOutcome {
	t.Helper()
	var served atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := int(served.Add(1)) - 1
		if at >= len(exchanges) {
			t.Errorf("request %d to %s: only %d were recorded", at+1, r.URL.Path, len(exchanges))
			http.Error(w, "not recorded", http.StatusTeapot)
			return
		}
		ex := exchanges[at]
		sent, _ := io.ReadAll(r.Body)
		checkWireRequest(t, ex, r, sent)
		for _, key := range []string{"Content-Type", "Retry-After"} {
			if value := ex.header.Get(key); value != "" {
				w.Header().Set(key, value)
			}
		}
		w.WriteHeader(ex.status)
		_, _ = w.Write(ex.answer)
	}))
	defer server.Close()
	client := NewOpenAI(OpenAIConfig{BaseURL: server.URL + "/v1", MaxRetries: -1})
	first := exchanges[0]
	body := recordedBody(first.body)
	out := wireOutcome{streamed: body.Stream, collector: newStreamCollector()}
	switch first.path {
	case "/v1/models":
		out.models, out.err = client.Models(context.Background())
	case "/v1/chat/completions":
		req := Request{Model: body.Model, Messages: body.Messages, Params: body.params(), N: body.N}
		out.result, out.err = client.Chat(context.Background(), req, body.onDelta(out.collector))
	case "/v1/completions":
		req := CompletionRequest{Model: body.Model, Prompt: body.Prompt, Params: body.params(), N: body.N}
		out.result, out.err = client.Complete(context.Background(), req, body.onDelta(out.collector))
	default:
		t.Fatalf("%s: no client call for %s", first.file, first.path)
	}
	if got := int(served.Load()); got != len(exchanges) {
		t.Errorf("%s: client sent %d requests, %d were recorded", first.file, got, len(exchanges))
	}
	return out
}

// TestWireStreamsMatchWholeAnswers checks the recorded servers against
// themselves: at a fixed seed, the text the client assembles from a stream
// equals the text the server sent whole for the same request.
func TestWireStreamsMatchWholeAnswers(t *testing.T) {
	pairs := [][2]string{{"chat", "chat-stream"}, {"chat", "chat-stream-usage"}, {"chat", "chat-n2-stream"},
		{"chat-length", "chat-length-stream"}, {"completion", "completion-stream"}, {"completion-n2", "completion-n2-stream"}}
	for _, server := range []string{"llamacpp", "llama-server"} {
		cases := wireCases(t, filepath.Join("testdata", "wire", server))
		if len(cases) == 0 {
			continue
		}
		for _, pair := range pairs {
			whole, streamed := cases[pair[0]], cases[pair[1]]
			if whole == nil || streamed == nil {
				t.Errorf("%s: cases %s and %s are missing", server, pair[0], pair[1])
				continue
			}
			a, b := replayWire(t, whole), replayWire(t, streamed)
			if a.err != nil || b.err != nil {
				t.Fatalf("%s %v: %v, %v", server, pair, a.err, b.err)
			}
			if a.result.Choices[0] != b.result.Choices[0] {
				t.Errorf("%s: %s gives %+v, %s %+v", server, pair[0], a.result.Choices[0], pair[1], b.result.Choices[0])
			}
		}
	}
}

// wireBody is the part of a recorded request body the client reproduces.
type wireBody struct {
	Model       string    `json:"model"`
	Messages    []Message `json:"messages"`
	Prompt      string    `json:"prompt"`
	Temperature float64   `json:"temperature"`
	TopP        float64   `json:"top_p"`
	MaxTokens   int       `json:"max_tokens"`
	Seed        *int64    `json:"seed"`
	Stop        []string  `json:"stop"`
	N           int       `json:"n"`
	Stream      bool      `json:"stream"`
}

// recordedBody decodes a recorded body; one that is not JSON (the case of a
// malformed request) stands for a plain one-answer chat request.
func recordedBody(raw string) wireBody {
	var body wireBody
	if json.Unmarshal([]byte(raw), &body) != nil {
		return wireBody{Model: "smollm2", Messages: []Message{{Role: "user", Content: "hello"}}, N: 1}
	}
	return body
}

func (b wireBody) params() Params {
	return Params{Temperature: b.Temperature, TopP: b.TopP, MaxTokens: b.MaxTokens, Seed: b.Seed, Stop: b.Stop}
}

func (b wireBody) onDelta(c *streamCollector) func(Delta) {
	if !b.Stream {
		return nil
	}
	return c.onDelta
}

// checkWireRequest compares what the client sent with the recorded request,
// field by field; options the client does not offer (a stream without
// stream_options) are not compared.
func checkWireRequest(t *testing.T, ex wireExchange, r *http.Request, sent []byte) {
	t.Helper()
	if r.Method != ex.method || r.URL.Path != ex.path {
		t.Errorf("%s: client sent %s %s, recorded %s %s", ex.file, r.Method, r.URL.Path, ex.method, ex.path)
	}
	var recorded, got map[string]any
	if json.Unmarshal([]byte(ex.body), &recorded) != nil {
		return
	}
	if err := json.Unmarshal(sent, &got); err != nil {
		t.Errorf("%s: client sent a body that is not JSON: %v", ex.file, err)
		return
	}
	for _, key := range []string{"model", "messages", "prompt", "temperature", "max_tokens", "seed", "stop", "n", "stream"} {
		want, had := recorded[key]
		value, sentIt := got[key]
		if !had && !sentIt {
			continue
		}
		if !reflect.DeepEqual(want, value) {
			t.Errorf("%s: client sent %s = %v, recorded %v", ex.file, key, value, want)
		}
	}
}

func checkWireResult(t *testing.T, ex wireExchange, out wireOutcome) {
	t.Helper()
	want := ex.want
	if want.Error != nil {
		checkWireError(t, ex, out.err)
		return
	}
	if out.err != nil {
		t.Fatalf("%s: %v", ex.file, out.err)
	}
	if want.Models != nil && !slices.Equal(out.models, want.Models) {
		t.Errorf("%s: models %v, want %v", ex.file, out.models, want.Models)
	}
	if len(out.result.Choices) != len(want.Choices) {
		t.Fatalf("%s: %d choices, want %d", ex.file, len(out.result.Choices), len(want.Choices))
	}
	for i, choice := range out.result.Choices {
		w := want.Choices[i]
		if choice.Index != w.Index || choice.Text != w.Text || choice.FinishReason != w.FinishReason {
			t.Errorf("%s: choice %d = %d %q %q, want %d %q %q", ex.file, i,
				choice.Index, choice.Text, choice.FinishReason, w.Index, w.Text, w.FinishReason)
		}
		if got := out.collector.text(choice.Index); out.streamed && got != choice.Text {
			t.Errorf("%s: deltas of %d join to %q, want %q", ex.file, choice.Index, got, choice.Text)
		}
	}
	if out.result.Usage != want.Usage.usage() {
		t.Errorf("%s: usage %+v, want %+v", ex.file, out.result.Usage, want.Usage.usage())
	}
}

// checkWireError checks that err is the failure the case wants: an APIError
// with the server's status and message, or, for a stream cut off without an
// error report, an error saying so.
func checkWireError(t *testing.T, ex wireExchange, err error) {
	t.Helper()
	want := ex.want.Error
	if want.Status == 0 && want.Message == "stream ended early" {
		if err == nil || !strings.Contains(err.Error(), want.Message) {
			t.Errorf("%s: err = %v, want a stream that ended early", ex.file, err)
		}
		return
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("%s: err = %v, want an APIError", ex.file, err)
	}
	if apiErr.Status != want.Status || apiErr.Message != truncateMessage(want.Message) {
		t.Errorf("%s: APIError %d %q, want %d %q", ex.file, apiErr.Status, apiErr.Message, want.Status, want.Message)
	}
}

func TestChatStreamErrorShapes(t *testing.T) {
	const hello = `data: {"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}` + "\n\n"
	cases := []struct {
		name, body, want string
	}{
		// Older builds of llama.cpp's server wrote the error as an "error:"
		// field instead of a data line.
		{"error field", hello + `error: {"code":500,"message":"failed to decode the batch","type":"server_error"}` + "\n\n",
			"failed to decode the batch"},
		{"error event", hello + "event: error\ndata: {\"message\":\"overloaded\"}\n\n", "overloaded"},
		{"data error after text", hello + `data: {"error":{"message":"out of memory","type":"InternalServerError","code":500}}` + "\n\ndata: [DONE]\n\n",
			"out of memory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int64
			server := httptest.NewServer(streamHandler(tc.body, &requests))
			defer server.Close()
			client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL})
			_, err := client.Chat(context.Background(), questionRequest(1, nil), func(Delta) {})
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Message != tc.want || apiErr.Status != 0 {
				t.Fatalf("err = %v, want a streamed APIError %q", err, tc.want)
			}
			if requests.Load() != 1 {
				t.Errorf("%d requests, want the error reported without retrying", requests.Load())
			}
		})
	}
}

func TestChatEmptyStreamIsRetriedAndNamed(t *testing.T) {
	var requests atomic.Int64
	server := httptest.NewServer(streamHandler("", &requests))
	defer server.Close()
	client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL, MaxRetries: 1})

	_, err := client.Chat(context.Background(), questionRequest(1, nil), func(Delta) {})
	if err == nil || !strings.Contains(err.Error(), "without sending any event") {
		t.Fatalf("err = %v, want a stream closed without any event", err)
	}
	if requests.Load() != 2 {
		t.Errorf("%d requests, want the empty stream retried once", requests.Load())
	}
}
