package inference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const completionPrompt = "// Adds two numbers.\nfn add(a: i32, b: i32) -> i32 {"

// completionServer stands in for a server's POST /v1/completions. Its answer
// for index i of a request with seed s is completionText(s+i); every request
// body it got is kept.
type completionServer struct {
	ignoreN    bool
	failFirst  int64
	tokenDelay time.Duration

	requests atomic.Int64
	mu       sync.Mutex
	bodies   []map[string]any
}

func completionText(seed int64) string {
	return fmt.Sprintf("\n    a + b // variant %d\n}\n", seed)
}

func (s *completionServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.requests.Add(1) <= s.failFirst {
		http.Error(w, `{"error":{"message":"loading model"}}`, http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path != "/v1/completions" {
		http.NotFound(w, r)
		return
	}
	var body struct {
		Prompt string `json:"prompt"`
		Seed   int64  `json:"seed"`
		N      int    `json:"n"`
		Stream bool   `json:"stream"`
	}
	var raw map[string]any
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.bodies = append(s.bodies, raw)
	s.mu.Unlock()
	encoded, _ := json.Marshal(raw)
	_ = json.Unmarshal(encoded, &body)
	if s.ignoreN {
		body.N = 1
	}
	prompt := len(strings.Fields(body.Prompt))
	if body.Stream {
		s.stream(w, r, body.Seed, body.N, prompt)
		return
	}
	var choices []map[string]any
	completion := 0
	for index := range body.N {
		text := completionText(body.Seed + int64(index))
		completion += len(strings.Fields(text))
		choices = append(choices, map[string]any{"index": index, "text": text, "logprobs": nil, "finish_reason": "stop"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "text_completion", "choices": choices,
		"usage": map[string]int{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
	})
}

// stream sends the answers word by word, interleaved, with the last word of
// each carrying its finish reason, then a usage chunk and [DONE].
func (s *completionServer) stream(w http.ResponseWriter, r *http.Request, seed int64, n, prompt int) {
	w.Header().Set("Content-Type", "text/event-stream")
	flusher, _ := w.(http.Flusher)
	words := make([][]string, n)
	longest, completion := 0, 0
	for index := range n {
		words[index] = strings.SplitAfter(completionText(seed+int64(index)), " ")
		longest = max(longest, len(words[index]))
		completion += len(strings.Fields(completionText(seed + int64(index))))
	}
	send := func(chunk map[string]any) {
		line, _ := json.Marshal(chunk)
		fmt.Fprintf(w, "data: %s\n\n", line)
		if flusher != nil {
			flusher.Flush()
		}
	}
	for step := range longest {
		for index := range n {
			if step >= len(words[index]) {
				continue
			}
			var finish any
			if step == len(words[index])-1 {
				finish = "stop"
			}
			send(map[string]any{"object": "text_completion", "choices": []map[string]any{
				{"index": index, "text": words[index][step], "finish_reason": finish}}})
			select {
			case <-r.Context().Done():
				return
			case <-time.After(s.tokenDelay):
			}
		}
	}
	send(map[string]any{"object": "text_completion", "choices": []any{},
		"usage": map[string]int{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func (s *completionServer) body(i int) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.bodies) {
		return nil
	}
	return s.bodies[i]
}

func completionRequest(n int, seed int64) CompletionRequest {
	return CompletionRequest{
		Model:  "test-model",
		Prompt: completionPrompt,
		Params: Params{Temperature: 0.2, MaxTokens: 64, Seed: &seed, Stop: []string{"\n}\n"}},
		N:      n,
	}
}

// checkCompletions checks that result holds the server's n answers for seed.
func checkCompletions(t *testing.T, result Result, seed int64, n int) {
	t.Helper()
	if len(result.Choices) != n {
		t.Fatalf("got %d choices, want %d", len(result.Choices), n)
	}
	completion := 0
	for index, choice := range result.Choices {
		want := completionText(seed + int64(index))
		if choice.Index != index || choice.Text != want || choice.FinishReason != "stop" {
			t.Errorf("choice %d = %d %q %q, want %d %q stop", index, choice.Index, choice.Text, choice.FinishReason, index, want)
		}
		completion += len(strings.Fields(want))
	}
	if result.Usage.CompletionTokens != completion || result.Usage.TotalTokens != result.Usage.PromptTokens+completion {
		t.Errorf("usage %+v does not count the %d completion tokens", result.Usage, completion)
	}
}

func TestCompleteNonStreaming(t *testing.T) {
	fake := &completionServer{}
	server := httptest.NewServer(fake)
	defer server.Close()
	client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL + "/v1"})

	result, err := client.Complete(context.Background(), completionRequest(2, 5), nil)
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	checkCompletions(t, result, 5, 2)
	prompt := len(strings.Fields(completionPrompt))
	if result.Usage.PromptTokens != prompt || result.Usage.TotalTokens != prompt+result.Usage.CompletionTokens {
		t.Errorf("usage = %+v, want %d prompt tokens", result.Usage, prompt)
	}
	body := fake.body(0)
	want := map[string]any{"model": "test-model", "prompt": completionPrompt, "n": 2.0, "seed": 5.0, "max_tokens": 64.0, "temperature": 0.2}
	for key, value := range want {
		if body[key] != value {
			t.Errorf("request %s = %v, want %v", key, body[key], value)
		}
	}
	for _, absent := range []string{"messages", "stream", "stream_options"} {
		if _, ok := body[absent]; ok {
			t.Errorf("plain completion request carries %s", absent)
		}
	}
	if stop, _ := body["stop"].([]any); len(stop) != 1 || stop[0] != "\n}\n" {
		t.Errorf("stop = %v", body["stop"])
	}
}

func TestCompleteStreaming(t *testing.T) {
	fake := &completionServer{}
	server := httptest.NewServer(fake)
	defer server.Close()
	client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL + "/v1"})
	collector := newStreamCollector()

	result, err := client.Complete(context.Background(), completionRequest(2, 9), collector.onDelta)
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	checkCompletions(t, result, 9, 2)
	for index, choice := range result.Choices {
		if got := collector.text(index); got != choice.Text {
			t.Errorf("deltas of %d join to %q, want %q", index, got, choice.Text)
		}
		if len(collector.pieces[index]) < 2 {
			t.Errorf("answer %d arrived in %d pieces, want it streamed", index, len(collector.pieces[index]))
		}
	}
	body := fake.body(0)
	if body["stream"] != true {
		t.Errorf("stream = %v", body["stream"])
	}
	if options, _ := body["stream_options"].(map[string]any); options["include_usage"] != true {
		t.Errorf("stream_options = %v", body["stream_options"])
	}
}

func TestCompleteFillsChoicesWhenServerIgnoresN(t *testing.T) {
	for _, streaming := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", streaming), func(t *testing.T) {
			fake := &completionServer{ignoreN: true}
			server := httptest.NewServer(fake)
			defer server.Close()
			client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL + "/v1"})
			collector := newStreamCollector()
			var onDelta func(Delta)
			if streaming {
				onDelta = collector.onDelta
			}

			result, err := client.Complete(context.Background(), completionRequest(3, 20), onDelta)
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			checkCompletions(t, result, 20, 3)
			if fake.requests.Load() != 3 {
				t.Fatalf("server saw %d requests, want 1 plus 2 single-answer requests", fake.requests.Load())
			}
			for i, seed := range []float64{20, 21, 22} {
				if body := fake.body(i); body["seed"] != seed || (i > 0 && body["n"] != 1.0) {
					t.Errorf("request %d: seed %v n %v, want seed %v", i, body["seed"], body["n"], seed)
				}
			}
			prompt := len(strings.Fields(completionPrompt))
			if result.Usage.PromptTokens != 3*prompt {
				t.Errorf("usage %+v, want the prompt counted once per request (%d)", result.Usage, 3*prompt)
			}
			for index, choice := range result.Choices {
				if streaming && collector.text(index) != choice.Text {
					t.Errorf("deltas of %d join to %q, want %q", index, collector.text(index), choice.Text)
				}
			}
		})
	}
}

func TestCompleteRetriesAfter503(t *testing.T) {
	fake := &completionServer{failFirst: 2}
	server := httptest.NewServer(fake)
	defer server.Close()
	client, recorder := newTestClient(t, OpenAIConfig{BaseURL: server.URL + "/v1"})

	result, err := client.Complete(context.Background(), completionRequest(1, 3), nil)
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	checkCompletions(t, result, 3, 1)
	if fake.requests.Load() != 3 || len(recorder.recorded()) != 2 {
		t.Errorf("%d requests and %d sleeps, want 3 and 2", fake.requests.Load(), len(recorder.recorded()))
	}
}

func TestCompleteErrorNamesTheCall(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"message":"model \"nope\" not found, try pulling it first","type":"not_found_error"}}`)
	}))
	defer server.Close()
	client, _ := newTestClient(t, OpenAIConfig{BaseURL: server.URL + "/v1"})

	_, err := client.Complete(context.Background(), completionRequest(1, 1), nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound || apiErr.Retryable {
		t.Fatalf("err = %v, want a final APIError 404", err)
	}
	if !strings.HasPrefix(err.Error(), "completion: ") || !strings.Contains(err.Error(), `model "nope" not found`) {
		t.Errorf("error %q does not name the call and the server's message", err)
	}
}

// TestCompleteCancelDuringStream stands for a browser that goes away while
// the answer streams: cancelling the context ends the request at once.
func TestCompleteCancelDuringStream(t *testing.T) {
	fake := &completionServer{tokenDelay: 2 * time.Second}
	server := httptest.NewServer(fake)
	defer server.Close()
	client, recorder := newTestClient(t, OpenAIConfig{BaseURL: server.URL + "/v1"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	cancelledAt := make(chan time.Time, 1)

	_, err := client.Complete(ctx, completionRequest(1, 1), func(Delta) {
		once.Do(func() {
			go func() {
				cancelledAt <- time.Now()
				cancel()
			}()
		})
	})
	returned := time.Now()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if wait := returned.Sub(<-cancelledAt); wait > time.Second {
		t.Errorf("returned %s after cancel, want promptly", wait)
	}
	if fake.requests.Load() != 1 || len(recorder.recorded()) != 0 {
		t.Errorf("%d requests and %d sleeps after cancel, want 1 and 0", fake.requests.Load(), len(recorder.recorded()))
	}
}
