package main

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"rustexpert/inference/builtin"
	"rustexpert/store"
)

func TestPreloadNames(t *testing.T) {
	for list, want := range map[string][]string{
		defaultPreload:    {"base", "v1", "v2"},
		" v1 ,, v2+x ":    {"v1", "v2+x"},
		"none":            nil,
		" none ":          nil,
		"":                nil,
		"none-of-these,a": {"none-of-these", "a"},
	} {
		if got := preloadNames(list); !slices.Equal(got, want) {
			t.Errorf("preloadNames(%q) = %q, want %q", list, got, want)
		}
	}
}

// TestPreloaderLoadsBuiltinModels loads the bundled model at start and passes over models it
// cannot load (a missing file, an endpoint, an unknown name) without stopping.
func TestPreloaderLoadsBuiltinModels(t *testing.T) {
	gguf := bundledGGUF(t)
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "rustexpert.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	models := []store.ModelInput{
		{Name: "gone", Provider: store.ProviderBuiltin, Base: filepath.Join(t.TempDir(), "gone.gguf")},
		{Name: "remote", Provider: store.ProviderOpenAI, Endpoint: "http://127.0.0.1:1/v1", ServedName: "m"},
		{Name: "smol", Provider: store.ProviderBuiltin, Base: gguf},
		{Name: "idle", Provider: store.ProviderBuiltin, Base: gguf, ContextLength: 512},
	}
	specs := map[string]builtin.Spec{}
	for _, in := range models {
		m, err := st.CreateModel(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		specs[in.Name] = builtinSpec(m)
	}
	engines := builtin.NewPool()
	defer engines.Close()
	var logged bytes.Buffer
	p := &preloader{store: st, engines: engines, names: preloadNames("gone, nosuch, remote, smol"),
		log: slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !engines.Loaded(specs["smol"]) {
		t.Fatalf("smol is not loaded; log:\n%s", logged.String())
	}
	if engines.Loaded(specs["gone"]) || engines.Loaded(specs["idle"]) {
		t.Fatalf("a model that was not named, or cannot load, is loaded; log:\n%s", logged.String())
	}
	for _, want := range []string{`level=WARN msg="not preloaded" model=gone error=`, "gone.gguf",
		`msg="not preloaded: no such model" model=nosuch`, `msg="not preloaded: served elsewhere" model=remote`,
		`msg="model loaded" model=smol took=`} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logged.String())
		}
	}
}
