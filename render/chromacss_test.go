package render

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite static/css/chroma.css from ChromaCSS")

// chromaCSSPath is the served stylesheet, relative to this package's folder.
var chromaCSSPath = filepath.Join("..", "static", "css", "chroma.css")

func TestChromaCSSFile(t *testing.T) {
	want, err := ChromaCSS()
	if err != nil {
		t.Fatalf("ChromaCSS: %v", err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(chromaCSSPath), 0o755); err != nil {
			t.Fatalf("create css folder: %v", err)
		}
		if err := os.WriteFile(chromaCSSPath, []byte(want), 0o644); err != nil {
			t.Fatalf("write %s: %v", chromaCSSPath, err)
		}
	}
	got, err := os.ReadFile(chromaCSSPath)
	if err != nil {
		t.Fatalf("read %s (create it with: go test ./render -run TestChromaCSSFile -update): %v", chromaCSSPath, err)
	}
	if string(got) != want {
		t.Fatalf("%s is stale; regenerate with: go test ./render -run TestChromaCSSFile -update", chromaCSSPath)
	}
}

func TestChromaCSSCoversRendererClasses(t *testing.T) {
	css, err := ChromaCSS()
	if err != nil {
		t.Fatalf("ChromaCSS: %v", err)
	}
	light, dark, found := strings.Cut(css, "@media (prefers-color-scheme: dark) {")
	if !found {
		t.Fatalf("no dark media query in:\n%s", css)
	}
	// "k" is the keyword class the renderer puts on fn, "nf" the function name, ".chroma" the wrapping pre.
	for _, selector := range []string{".chroma {", ".chroma .k {", ".chroma .nf {"} {
		if !strings.Contains(light, selector) || !strings.Contains(dark, selector) {
			t.Errorf("selector %q missing from the light or the dark theme", selector)
		}
	}
	// github sets a near-black colour on punctuation (.p) and github-dark has no .p rule of its own.
	reset := strings.Index(dark, ".chroma [class] {")
	if reset < 0 || reset > strings.Index(dark, ".chroma .k {") || !strings.Contains(light, ".chroma .p {") {
		t.Errorf("dark theme must reset light token styles before its own token rules")
	}
	if strings.Contains(light, "#0d1117") || !strings.Contains(dark, "#0d1117") {
		t.Errorf("github-dark background #0d1117 should appear only inside the dark media query")
	}
}
