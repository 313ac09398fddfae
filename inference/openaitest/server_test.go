package openaitest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const question = "How can I count how often each word appears in a text?"

func TestSplitTokensRoundTrips(t *testing.T) {
	texts := []string{
		"",
		"   ",
		"one",
		"  leading and trailing  \n",
		"```rust\npub fn f() {}\n```\n\nDone.",
		Answer(question, 3, 1),
	}
	for _, text := range texts {
		tokens := splitTokens(text)
		if len(tokens) != len(strings.Fields(text)) {
			t.Errorf("%q: %d tokens, want %d", text, len(tokens), len(strings.Fields(text)))
		}
		if strings.TrimSpace(text) != "" && strings.Join(tokens, "") != text {
			t.Errorf("%q: tokens join to %q", text, strings.Join(tokens, ""))
		}
	}
}

func TestAnswerMentionsQuestionAndVaries(t *testing.T) {
	seen := map[string]bool{}
	for seed := int64(0); seed < 3; seed++ {
		for index := range 3 {
			answer := Answer(question, seed*10, index)
			if !strings.Contains(answer, "How can I count how often …") {
				t.Errorf("answer does not mention the question: %q", answer)
			}
			if !strings.Contains(answer, "```rust\n") {
				t.Errorf("answer lacks a rust block: %q", answer)
			}
			if seen[answer] {
				t.Errorf("seed %d index %d repeats an earlier answer", seed*10, index)
			}
			seen[answer] = true
		}
	}
	if Answer(question, 5, 2) != Answer(question, 7, 0) {
		t.Error("answer should depend on seed+index only")
	}
	if Answer(question, -3, 0) == "" || !strings.Contains(Answer("", 0, 0), "your question") {
		t.Error("negative seeds and empty questions must still give answers")
	}
}

var rustBlock = regexp.MustCompile("(?s)```rust\n(.*?)```")

// TestAnswerRustCompiles compiles the Rust block of every snippet with rustc,
// treating warnings as errors.
func TestAnswerRustCompiles(t *testing.T) {
	rustc, err := exec.LookPath("rustc")
	if err != nil {
		t.Skip("rustc not installed")
	}
	dir := t.TempDir()
	for variant := range len(rustSnippets) {
		match := rustBlock.FindStringSubmatch(Answer(question, int64(variant), 0))
		if match == nil {
			t.Fatalf("variant %d has no rust block", variant)
		}
		source := filepath.Join(dir, fmt.Sprintf("variant%d.rs", variant))
		if err := os.WriteFile(source, []byte(match[1]), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(rustc, "--edition=2021", "--crate-type=lib", "--emit=metadata", "-D", "warnings",
			"--out-dir", dir, source)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("variant %d does not compile: %v\n%s\n%s", variant, err, match[1], out)
		}
	}
}

type completion struct {
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage usage `json:"usage"`
}

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url+"/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func postCompletion(t *testing.T, url, body string) completion {
	t.Helper()
	resp := post(t, url, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var c completion
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	return c
}

func chatBody(extra string) string {
	return `{"model":"m","messages":[{"role":"user","content":"` + question + `"}]` + extra + `}`
}

func TestChatHonoursN(t *testing.T) {
	server := NewServer(Options{})
	defer server.Close()

	c := postCompletion(t, server.URL(), chatBody(`,"n":3,"seed":4`))
	if len(c.Choices) != 3 {
		t.Fatalf("got %d choices, want 3", len(c.Choices))
	}
	tokens := 0
	for index, choice := range c.Choices {
		if choice.Index != index || choice.Message.Content != Answer(question, 4, index) || choice.FinishReason != "stop" {
			t.Errorf("choice %d = %+v", index, choice)
		}
		tokens += len(strings.Fields(choice.Message.Content))
	}
	want := usage{PromptTokens: len(strings.Fields(question)), CompletionTokens: tokens}
	want.TotalTokens = want.PromptTokens + want.CompletionTokens
	if c.Usage != want {
		t.Errorf("usage = %+v, want %+v", c.Usage, want)
	}
}

func TestChatIgnoreN(t *testing.T) {
	server := NewServer(Options{IgnoreN: true})
	defer server.Close()

	if c := postCompletion(t, server.URL(), chatBody(`,"n":3`)); len(c.Choices) != 1 {
		t.Errorf("got %d choices, want 1", len(c.Choices))
	}
}

func TestChatMaxTokensAndStop(t *testing.T) {
	server := NewServer(Options{})
	defer server.Close()
	full := Answer(question, 0, 0)

	capped := postCompletion(t, server.URL(), chatBody(`,"max_tokens":5`))
	want := strings.Join(splitTokens(full)[:5], "")
	if got := capped.Choices[0]; got.Message.Content != want || got.FinishReason != "length" {
		t.Errorf("capped choice = %q (%s), want %q (length)", got.Message.Content, got.FinishReason, want)
	}
	if capped.Usage.CompletionTokens != 5 {
		t.Errorf("completion tokens = %d, want 5", capped.Usage.CompletionTokens)
	}

	stopped := postCompletion(t, server.URL(), chatBody(`,"stop":"`+"```"+`"`))
	want = full[:strings.Index(full, "```")]
	if got := stopped.Choices[0]; got.Message.Content != want || got.FinishReason != "stop" {
		t.Errorf("stopped choice = %q (%s), want %q (stop)", got.Message.Content, got.FinishReason, want)
	}
}

func TestChatStreamMatchesWholeAnswer(t *testing.T) {
	server := NewServer(Options{})
	defer server.Close()
	resp := post(t, server.URL(), chatBody(`,"n":2,"seed":9,"stream":true,"stream_options":{"include_usage":true}`))
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}

	texts := map[int]string{}
	finish := map[int]string{}
	var sawUsage, sawDone bool
	reader := bufio.NewReader(resp.Body)
	for {
		line, err := reader.ReadString('\n')
		if err != nil {
			break
		}
		data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			sawDone = true
			continue
		}
		var chunk struct {
			Choices []struct {
				Index int `json:"index"`
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *usage `json:"usage"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			t.Fatalf("chunk %q: %v", data, err)
		}
		for _, choice := range chunk.Choices {
			texts[choice.Index] += choice.Delta.Content
			if choice.FinishReason != nil {
				finish[choice.Index] = *choice.FinishReason
			}
		}
		sawUsage = sawUsage || chunk.Usage != nil && chunk.Usage.CompletionTokens > 0
	}
	for index := range 2 {
		if texts[index] != Answer(question, 9, index) || finish[index] != "stop" {
			t.Errorf("choice %d streamed %q (%q)", index, texts[index], finish[index])
		}
	}
	if !sawUsage || !sawDone {
		t.Errorf("usage chunk %v, [DONE] %v; want both", sawUsage, sawDone)
	}
}

func TestFailFirstAndRequests(t *testing.T) {
	server := NewServer(Options{FailFirst: 2})
	defer server.Close()

	for attempt := 1; attempt <= 3; attempt++ {
		resp := post(t, server.URL(), chatBody(""))
		wantStatus := http.StatusServiceUnavailable
		if attempt == 3 {
			wantStatus = http.StatusOK
		}
		if resp.StatusCode != wantStatus {
			t.Errorf("attempt %d: status %d, want %d", attempt, resp.StatusCode, wantStatus)
		}
	}
	if server.Requests() != 3 {
		t.Errorf("Requests() = %d, want 3", server.Requests())
	}
}

func TestBadRequests(t *testing.T) {
	server := NewServer(Options{})
	defer server.Close()
	bodies := []string{
		`{"model":"m","messages":[]}`,
		`not json`,
		chatBody(`,"n":0`),
		chatBody(`,"max_tokens":0`),
		chatBody(`,"stop":7`),
	}
	for _, body := range bodies {
		resp := post(t, server.URL(), body)
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatalf("%s: decoding error body: %v", body, err)
		}
		if resp.StatusCode != http.StatusBadRequest || e.Error.Message == "" {
			t.Errorf("%s: status %d message %q, want 400 with a message", body, resp.StatusCode, e.Error.Message)
		}
	}
}

func TestModels(t *testing.T) {
	for _, tc := range []struct {
		models []string
		want   string
	}{
		{nil, "test-model"},
		{[]string{"a", "b"}, "a,b"},
	} {
		server := NewServer(Options{Models: tc.models})
		resp, err := http.Get(server.URL() + "/models")
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		var list struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		server.Close()
		if err != nil {
			t.Fatalf("decoding: %v", err)
		}
		var ids []string
		for _, m := range list.Data {
			ids = append(ids, m.ID)
		}
		if strings.Join(ids, ",") != tc.want {
			t.Errorf("models = %v, want %s", ids, tc.want)
		}
	}
}
