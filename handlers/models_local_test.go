package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/inference"
	"rustexpert/inference/builtin"
	"rustexpert/store"
)

// newLocalApp is the test app with the real built-in engine behind its models.
func newLocalApp(t *testing.T) *apiApp {
	pool := builtin.NewPool()
	t.Cleanup(func() { pool.Close() })
	return newAPIApp(t, func(m store.Model) (inference.Generator, error) {
		if m.Provider != store.ProviderBuiltin {
			return inference.NewOpenAI(inference.OpenAIConfig{BaseURL: m.Endpoint}), nil
		}
		return pool.Get(builtin.Spec{Base: m.Base, Adapter: m.Adapter, Template: m.ChatTemplate, ContextLength: m.ContextLength})
	})
}

func bundledModel(t *testing.T) string {
	p, _ := filepath.Abs(filepath.Join("..", "models", "base", "SmolLM2-135M-Instruct.Q4_1.gguf"))
	if _, err := os.Stat(p); err != nil {
		t.Skip("the bundled model is not fetched (make models)")
	}
	return p
}

func TestLocalModelFormRefusesWhatDoesNotLoad(t *testing.T) {
	app := newLocalApp(t)
	admin := app.login("ada", store.RoleAdmin)
	missing := filepath.Join(t.TempDir(), "nope.gguf")
	res := admin.postForm("/models/local", url.Values{"name": {"local"}, "base": {missing}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", res.StatusCode)
	}
	doc := parse(t, res)
	if msg := doc.Find("[data-testid=add-local-model] [data-testid=form-errors]").Text(); !strings.Contains(msg, "nope.gguf") {
		t.Fatalf("the form does not name the missing file: %q", doc.Find("[data-testid=add-local-model]").Text())
	}
	if v, _ := doc.Find("[data-testid=add-local-model] input[name=base]").Attr("value"); v != missing {
		t.Fatalf("the form lost what was typed: %q", v)
	}
	if models, _ := app.store.ListModels(t.Context()); len(models) != 1 {
		t.Fatalf("%d models registered, want only the stand-in", len(models))
	}
	viewer := app.login("vic", store.RoleViewer)
	if res := viewer.postForm("/models/local", url.Values{"name": {"x"}, "base": {missing}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer: status %d, want 403", res.StatusCode)
	}
}

func TestLocalModelAddLoadAndServe(t *testing.T) {
	gguf := bundledModel(t)
	app := newLocalApp(t)
	admin := app.login("ada", store.RoleAdmin)
	res := admin.postForm("/models/local", url.Values{"name": {"smol"}, "base": {gguf}, "context": {"4096"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", res.StatusCode)
	}
	m, err := app.store.ModelByName(t.Context(), "smol")
	if err != nil || m.Provider != store.ProviderBuiltin || m.Base != gguf || m.ContextLength != 4096 {
		t.Fatalf("registered %+v, %v", m, err)
	}
	res = admin.htmx(http.MethodPost, fmt.Sprintf("/models/%d/check", m.ID), url.Values{})
	check := parse(t, res).Find("[data-testid=model-check-result]").Text()
	if !strings.Contains(check, "llama, 30 layers, hidden 576") || !strings.Contains(check, "context 4096 tokens") {
		t.Fatalf("check says %q", check)
	}
	// The same model answers over the OpenAI protocol.
	res = app.call(http.MethodPost, "/v1/chat/completions", app.key,
		`{"model":"smol","messages":[{"role":"user","content":"Say hi."}],"max_tokens":8,"seed":3}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("chat: status %d", res.StatusCode)
	}
	body := decodeBody[struct {
		Choices []struct {
			Message      struct{ Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}](t, res)
	if len(body.Choices) != 1 || body.Choices[0].Message.Content == "" || body.Usage.CompletionTokens == 0 {
		t.Fatalf("answer %+v", body)
	}
	// The follow-up question reuses the cache of the conversation so far, and says how much of it.
	history, _ := json.Marshal([]apiMessage{{Role: "user", Content: "Say hi."}, {Role: "assistant", Content: body.Choices[0].Message.Content},
		{Role: "user", Content: "Now say bye."}})
	res = app.call(http.MethodPost, "/v1/chat/completions", app.key, `{"model":"smol","messages":`+string(history)+`,"max_tokens":4}`)
	next := decodeBody[struct{ Usage apiUsage }](t, res)
	if u := next.Usage; res.StatusCode != http.StatusOK || u.PromptDetails.CachedTokens <= 0 || u.PromptDetails.CachedTokens >= u.PromptTokens {
		t.Fatalf("follow-up: status %d, usage %+v", res.StatusCode, u)
	}
	res = app.call(http.MethodPost, "/v1/chat/completions", app.key,
		`{"model":"smol","messages":[{"role":"user","content":"`+strings.Repeat("word ", 5000)+`"}]}`)
	if e := decodeBody[apiErrorBody](t, res); res.StatusCode != http.StatusBadRequest || !strings.Contains(e.Error.Message, "context holds 4096") {
		t.Fatalf("a prompt past the context: status %d, %+v", res.StatusCode, e)
	}
}
