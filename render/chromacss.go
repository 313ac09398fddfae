package render

import (
	"bytes"
	"fmt"
	"strings"

	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/styles"
)

const (
	lightStyle = "github"
	darkStyle  = "github-dark"
)

// darkReset clears, in dark mode, what the light theme set on token classes. Chroma omits a token's rule when
// it matches the theme's default, so without the reset a light rule with no dark counterpart would stay in
// force (github's near-black punctuation on github-dark's near-black background). ".chroma [class]" has the
// same specificity as the token rules: it beats the light ones above it and loses to the dark ones below it.
const darkReset = "/* Reset light token styles */ .chroma [class] { color: inherit; background-color: transparent; " +
	"font-weight: inherit; font-style: inherit; text-decoration: none }\n"

// ChromaCSS returns the stylesheet for the highlighting classes: the light "github" theme, and "github-dark"
// inside a prefers-color-scheme: dark media query. It is the content of static/css/chroma.css.
func ChromaCSS() (string, error) {
	light, err := styleCSS(lightStyle)
	if err != nil {
		return "", err
	}
	dark, err := styleCSS(darkStyle)
	if err != nil {
		return "", err
	}

	var css strings.Builder
	css.WriteString("/* Code highlighting classes, generated from render.ChromaCSS. */\n")
	css.WriteString("/* Regenerate: go test ./render -run TestChromaCSSFile -update */\n")
	css.WriteString(light)
	css.WriteString("@media (prefers-color-scheme: dark) {\n")
	for _, line := range strings.SplitAfter(darkReset+dark, "\n") {
		if line != "" {
			css.WriteString("  " + line)
		}
	}
	css.WriteString("}\n")
	return css.String(), nil
}

// styleCSS writes the rules of one chroma style for the classes the renderer emits.
func styleCSS(name string) (string, error) {
	style, ok := styles.Registry[name]
	if !ok {
		return "", fmt.Errorf("chroma style %q is not registered", name)
	}
	var css bytes.Buffer
	if err := chromahtml.New(formatOptions()...).WriteCSS(&css, style); err != nil {
		return "", fmt.Errorf("write css for chroma style %q: %w", name, err)
	}
	return css.String(), nil
}
