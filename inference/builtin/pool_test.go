package builtin

import (
	"path/filepath"
	"sync"
	"testing"

	"rustexpert/inference"
)

func bundledAdapter(name string) string { return filepath.Join("..", "..", "models", name) }

// A pool's engines of one base model share it: the base model's, v1's and v2's answers decode
// in one batch and equal the answers of engines of their own; caches are not shared across
// adapters (their keys and values differ).
func TestPoolSharesTheBaseModel(t *testing.T) {
	engine(t)
	pool := NewPool()
	defer pool.Close()
	names := []string{"", "v1", "v2"}
	engines := make([]*Engine, len(names))
	for i, name := range names {
		spec := Spec{Base: bundledPath()}
		if name != "" {
			spec.Adapter = bundledAdapter(name)
		}
		e, err := pool.Get(spec)
		if err != nil {
			t.Fatal(err)
		}
		if !pool.Loaded(spec) {
			t.Errorf("%q: not loaded after Get", name)
		}
		engines[i] = e
	}
	if engines[0].core != engines[1].core || engines[1].core != engines[2].core {
		t.Fatal("the adapters' engines do not share the base model")
	}
	if pool.Loaded(Spec{Base: bundledPath(), Adapter: t.TempDir()}) {
		t.Error("an adapter never asked for counts as loaded")
	}

	req := ask("Write a Rust function that returns the largest of three numbers.")
	req.Params = inference.Params{MaxTokens: 24, Temperature: 0.8, Seed: seed(5)}
	together := make([]inference.Result, len(names))
	var wg sync.WaitGroup
	for i, e := range engines {
		wg.Go(func() { together[i] = chatOK(t, e, req) })
	}
	wg.Wait()
	for i, name := range names {
		spec := Spec{Base: bundledPath()}
		if name != "" {
			spec.Adapter = bundledAdapter(name)
		}
		own, err := Load(spec)
		if err != nil {
			t.Fatal(err)
		}
		alone := chatOK(t, own, req)
		own.Close()
		if together[i].Choices[0].Text != alone.Choices[0].Text {
			t.Errorf("%q together: %q, alone: %q", name, together[i].Choices[0].Text, alone.Choices[0].Text)
		}
		if i > 0 && together[i].Choices[0].Text == together[0].Choices[0].Text {
			t.Errorf("%q answers like the base model: %q", name, together[i].Choices[0].Text)
		}
	}

	// A question the base model was asked: v1 finds none of its cache (only the start it shares
	// with v1's own earlier prompt), then its own.
	other := ask("What is a trait object?")
	other.Params.MaxTokens = 2
	chatOK(t, engines[0], other)
	first, again := chatOK(t, engines[1], other).Usage, chatOK(t, engines[1], other).Usage
	if first.CachedTokens >= first.PromptTokens-1 || again.CachedTokens != again.PromptTokens {
		t.Errorf("v1 after the base model asked the same: %d of %d tokens cached; asked again: %d of %d",
			first.CachedTokens, first.PromptTokens, again.CachedTokens, again.PromptTokens)
	}
}
