package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// maxEchoBody bounds a request body of the echo mode.
const maxEchoBody = 4 << 20

// maxEchoChoices bounds n, the answers asked for in one request.
const maxEchoChoices = 16

// echoChunk is the size in bytes of the streamed pieces of an echoed answer.
const echoChunk = 64

type echoMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type echoRequest struct {
	Model    string        `json:"model"`
	Messages []echoMessage `json:"messages"`
	N        int           `json:"n"`
	Stream   bool          `json:"stream"`
}

// echoHandler answers every chat request with the last user message
// verbatim, n times. Browser tests use it to put chosen text (for example
// hostile markup) into model answers.
func echoHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		writeEchoJSON(w, http.StatusOK, map[string]any{"object": "list",
			"data": []map[string]string{{"id": "echo", "object": "model", "owned_by": "testmodel"}}})
	})
	mux.HandleFunc("POST /v1/chat/completions", echoChat)
	return mux
}

func echoChat(w http.ResponseWriter, r *http.Request) {
	var req echoRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxEchoBody)).Decode(&req); err != nil {
		writeEchoJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"message": "invalid JSON body: " + err.Error(), "type": "invalid_request_error", "code": 400}})
		return
	}
	if len(req.Messages) == 0 {
		writeEchoJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"message": "messages must not be empty", "type": "invalid_request_error", "code": 400}})
		return
	}
	n := max(req.N, 1)
	if n > maxEchoChoices {
		writeEchoJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"message": fmt.Sprintf("n must be between 1 and %d", maxEchoChoices), "type": "invalid_request_error", "code": 400}})
		return
	}
	answer := lastUser(req.Messages)
	tokens := len(strings.Fields(answer)) + 1
	usage := map[string]int{"prompt_tokens": tokens, "completion_tokens": tokens * n, "total_tokens": tokens * (n + 1)}
	if req.Stream {
		streamEcho(w, req.Model, answer, n, usage)
		return
	}
	choices := make([]map[string]any, n)
	for i := range choices {
		choices[i] = map[string]any{"index": i, "finish_reason": "stop",
			"message": echoMessage{Role: "assistant", Content: answer}}
	}
	writeEchoJSON(w, http.StatusOK, map[string]any{"id": "chatcmpl-echo", "object": "chat.completion",
		"created": time.Now().Unix(), "model": req.Model, "choices": choices, "usage": usage})
}

// lastUser returns the content of the last user message, or of the last
// message when none is from the user.
func lastUser(messages []echoMessage) string {
	for i := len(messages) - 1; i >= 0; i-- {
		if messages[i].Role == "user" {
			return messages[i].Content
		}
	}
	return messages[len(messages)-1].Content
}

// streamEcho sends answer as server-sent events in pieces of echoChunk
// bytes (cut at rune boundaries), then the finish reasons, the usage and
// [DONE].
func streamEcho(w http.ResponseWriter, model, answer string, n int, usage map[string]int) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	send := func(choices []map[string]any, extra map[string]any) {
		event := map[string]any{"id": "chatcmpl-echo", "object": "chat.completion.chunk",
			"created": time.Now().Unix(), "model": model, "choices": choices}
		for k, v := range extra {
			event[k] = v
		}
		raw, _ := json.Marshal(event)
		fmt.Fprintf(w, "data: %s\n\n", raw)
	}
	for _, piece := range pieces(answer, echoChunk) {
		for i := range n {
			send([]map[string]any{{"index": i, "delta": map[string]string{"content": piece}, "finish_reason": nil}}, nil)
		}
	}
	for i := range n {
		send([]map[string]any{{"index": i, "delta": map[string]string{}, "finish_reason": "stop"}}, nil)
	}
	send([]map[string]any{}, map[string]any{"usage": usage})
	fmt.Fprint(w, "data: [DONE]\n\n")
	_ = http.NewResponseController(w).Flush()
}

// pieces cuts s into parts of at most size bytes without splitting a rune.
func pieces(s string, size int) []string {
	var out []string
	for len(s) > 0 {
		end := min(size, len(s))
		for end < len(s) && end > 1 && !utf8Start(s[end]) {
			end--
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

// utf8Start reports whether b begins a UTF-8 sequence.
func utf8Start(b byte) bool {
	return b&0xC0 != 0x80
}

func writeEchoJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
