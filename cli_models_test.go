package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func bundledGGUF(t *testing.T) string {
	t.Helper()
	p := filepath.Join("models", "base", "SmolLM2-135M-Instruct.Q4_1.gguf")
	if _, err := os.Stat(p); err != nil {
		t.Skip("the bundled model is not fetched (make models)")
	}
	abs, _ := filepath.Abs(p)
	return abs
}

// cliErr runs a subcommand that must fail and returns its error text.
func cliErr(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	err := run(t.Context(), args, getenv, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil {
		t.Fatalf("rustexpert %s succeeded", strings.Join(args, " "))
	}
	return err.Error()
}

func TestModelsAddLocalAndGenerate(t *testing.T) {
	gguf := bundledGGUF(t)
	env := map[string]string{"RUSTEXPERT_DATA": t.TempDir(), "RUSTEXPERT_MODELS": t.TempDir()}
	out := cli(t, env, "models", "add", "smol", "--base", gguf, "--context", "2048")
	if !strings.Contains(out, "added model smol → built-in engine") {
		t.Fatalf("models add: %s", out)
	}
	if list := cli(t, env, "models", "list"); !strings.Contains(list, "smol") || !strings.Contains(list, "builtin") {
		t.Fatalf("models list:\n%s", list)
	}
	sheet := filepath.Join(t.TempDir(), "p.csv")
	os.WriteFile(sheet, []byte("text,category\nWhat does the ? operator do in Rust?,errors\n"), 0o644)
	cli(t, env, "prompts", "import", sheet)
	out = cli(t, env, "generate", "--model", "smol", "--n", "2", "--max-tokens", "12", "--seed", "5")
	if !strings.Contains(out, "succeeded: 2/2 answers, 0 errors") {
		t.Fatalf("generate:\n%s", out)
	}
}

func TestModelsAddLocalRefusesWhatDoesNotLoad(t *testing.T) {
	env := map[string]string{"RUSTEXPERT_DATA": t.TempDir()}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--base", filepath.Join(t.TempDir(), "missing.gguf")}, "missing.gguf: no such file"},
		{[]string{"--base", filepath.Join("inference", "llama", "testdata", "tiny-llama")}, "tokenizer"},
		{[]string{"--base", filepath.Join("inference", "llama", "testdata", "tiny-qwen2", "config.json")}, "config.json"},
		{[]string{"--base", "x.gguf", "--endpoint", "http://127.0.0.1:1/v1"}, "usage"},
	}
	for _, c := range cases {
		msg := cliErr(t, env, append([]string{"models", "add", "bad"}, c.args...)...)
		if !strings.Contains(msg, c.want) {
			t.Errorf("%v: %q does not say %q", c.args, msg, c.want)
		}
	}
	if list := cli(t, env, "models", "list"); strings.Contains(list, "bad") {
		t.Fatalf("a refused model was registered:\n%s", list)
	}
}
