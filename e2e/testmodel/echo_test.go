package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const hostile = `<img src=x onerror="alert(1)"> ünïcödé [x](javascript:alert(1)) ` + "```rust\nfn main() {}\n```"

func TestEchoAnswersTheLastUserMessageNTimes(t *testing.T) {
	server := httptest.NewServer(echoHandler())
	defer server.Close()
	body, _ := json.Marshal(map[string]any{"model": "m", "n": 2, "messages": []map[string]string{
		{"role": "system", "content": "be brief"}, {"role": "user", "content": hostile}}})
	resp, err := http.Post(server.URL+"/v1/chat/completions", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Choices []struct {
			Message      echoMessage `json:"message"`
			FinishReason string      `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Choices) != 2 {
		t.Fatalf("%d choices, want 2", len(got.Choices))
	}
	for i, c := range got.Choices {
		if c.Message.Content != hostile || c.FinishReason != "stop" {
			t.Errorf("choice %d: %q (%s), want the question verbatim", i, c.Message.Content, c.FinishReason)
		}
	}
}

func TestEchoStreamJoinsToTheQuestion(t *testing.T) {
	server := httptest.NewServer(echoHandler())
	defer server.Close()
	question := strings.Repeat(hostile, 5)
	body, _ := json.Marshal(map[string]any{"model": "m", "stream": true,
		"messages": []map[string]string{{"role": "user", "content": question}}})
	resp, err := http.Post(server.URL+"/v1/chat/completions", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var text strings.Builder
	finished, done := false, false
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		data, ok := strings.CutPrefix(lines.Text(), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			done = true
			break
		}
		var event struct {
			Choices []struct {
				Delta        struct{ Content string } `json:"delta"`
				FinishReason *string                  `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &event); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		for _, c := range event.Choices {
			text.WriteString(c.Delta.Content)
			finished = finished || (c.FinishReason != nil && *c.FinishReason == "stop")
		}
	}
	if text.String() != question || !finished || !done {
		t.Fatalf("streamed %q (finished %v, done %v), want the question", text.String(), finished, done)
	}
}

func TestPiecesKeepRunesWhole(t *testing.T) {
	for _, part := range pieces("ééééé", 3) {
		if !strings.HasPrefix(part, "é") || len(part)%2 != 0 {
			t.Fatalf("piece %q splits a rune", part)
		}
	}
}

func TestEchoRefusesBadRequests(t *testing.T) {
	server := httptest.NewServer(echoHandler())
	defer server.Close()
	for _, body := range []string{`{`, `{"messages":[]}`, `{"n":17,"messages":[{"role":"user","content":"x"}]}`} {
		resp, err := http.Post(server.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", body, resp.StatusCode)
		}
	}
}
