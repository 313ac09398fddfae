package rag

import (
	"strings"
)

// ParseMarkdown extracts the sections of a Markdown page: ATX headings (#…), fenced code blocks
// (``` or ~~~; an unclosed fence runs to the end of the page), and paragraphs. A YAML front
// matter's title: line becomes the page title. Any text parses; a page without text gives no sections.
func ParseMarkdown(text string) Page {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	title, lines := frontMatterTitle(lines)
	m := &pageBuilder{}
	if title != "" {
		m.heading(0, "", title)
	}
	var para []string
	endPara := func() {
		if t := cleanText(strings.Join(para, " ")); t != "" {
			m.blocks = append(m.blocks, Block{Kind: TextBlock, Text: t})
		}
		para = nil
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		if fence, lang, ok := openFence(trimmed); ok {
			endPara()
			var code []string
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), fence); i++ {
				code = append(code, lines[i])
			}
			m.addBlock(Block{Kind: CodeBlock, Text: stripControl(strings.Join(code, "\n")), Lang: lang})
			continue
		}
		if level, h := atxHeading(trimmed); level > 0 {
			endPara()
			m.heading(level, slug(h), cleanText(h))
			continue
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "- ") || strings.HasPrefix(trimmed, "* ") {
			endPara()
		}
		if trimmed != "" {
			para = append(para, trimmed)
		}
	}
	endPara()
	m.flush()
	return m.page()
}

// frontMatterTitle strips a leading --- … --- block and returns its title: value.
func frontMatterTitle(lines []string) (string, []string) {
	if len(lines) == 0 || strings.TrimSpace(lines[0]) != "---" {
		return "", lines
	}
	for i := 1; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == "---" {
			var title string
			for _, l := range lines[1:i] {
				if v, ok := strings.CutPrefix(l, "title:"); ok {
					title = strings.Trim(strings.TrimSpace(v), `"'`)
				}
			}
			return title, lines[i+1:]
		}
	}
	return "", lines // no closing line: not front matter
}

// openFence reports whether line opens a fenced code block, with its fence and language.
func openFence(line string) (fence, lang string, ok bool) {
	for _, f := range []string{"```", "~~~"} {
		if strings.HasPrefix(line, f) {
			n := len(line) - len(strings.TrimLeft(line, f[:1]))
			info := strings.Fields(strings.TrimLeft(line, f[:1]))
			if len(info) > 0 {
				lang = strings.Trim(strings.Split(info[0], ",")[0], "{}")
			}
			return strings.Repeat(f[:1], n), lang, true
		}
	}
	return "", "", false
}

// atxHeading returns the level and text of a "## Title" line, or 0.
func atxHeading(line string) (int, string) {
	n := len(line) - len(strings.TrimLeft(line, "#"))
	if n == 0 || n > 6 || (len(line) > n && line[n] != ' ') {
		return 0, ""
	}
	return n, strings.TrimSpace(strings.TrimRight(line[n:], "#"))
}

// slug is the anchor id a heading gets on a rendered page: lower case, words joined by "-".
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ' || r == '-':
			b.WriteByte('-')
		case isWordRune(r) && r != ':':
			b.WriteRune(r)
		}
	}
	return b.String()
}
