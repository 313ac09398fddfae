package sftdata

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// diagnostic is one error of a clippy UI test's .stderr file.
type diagnostic struct {
	line    int      // line of the primary span in the .rs file
	message string   // the text after "error: "
	helps   []string // help: lines, without the "help: " prefix
}

var (
	stderrErrorRE = regexp.MustCompile(`^(?:error|warning)(?:\[[^\]]*\])?: (.+)$`)
	stderrSpanRE  = regexp.MustCompile(`^\s*--> [^:]+:(\d+):\d+`)
	stderrHelpRE  = regexp.MustCompile(`(?:^|\s)(?:= )?help: (.+)$`)
	annotationRE  = regexp.MustCompile(`//~[\^|v]*\s*(?:ERROR:?\s*)?([a-z0-9_:]+)?`)
	warnLintRE    = regexp.MustCompile(`#!\[(?:warn|deny)\(clippy::([a-z0-9_]+)`)
	testCommentRE = regexp.MustCompile(`(?i)^\s*//.*\b(lint|lints|linted|should|shouldn't|fp|false positive|issue|ICE)\b`)
)

// parseStderr reads the diagnostics of a clippy UI test's expected output.
func parseStderr(text string) []diagnostic {
	var out []diagnostic
	var cur *diagnostic
	for _, line := range strings.Split(text, "\n") {
		if m := stderrErrorRE.FindStringSubmatch(line); m != nil {
			out = append(out, diagnostic{message: m[1]})
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil {
			continue
		}
		if m := stderrSpanRE.FindStringSubmatch(line); m != nil && cur.line == 0 {
			cur.line, _ = strconv.Atoi(m[1])
			continue
		}
		if m := stderrHelpRE.FindStringSubmatch(line); m != nil && !strings.HasPrefix(m[1], "to override `-D warnings`") &&
			!strings.HasPrefix(m[1], "for further information") && !slices.Contains(cur.helps, m[1]) {
			cur.helps = append(cur.helps, m[1])
		}
	}
	return out
}

// MineClippy makes a pair of each top-level item that differs between a clippy UI test (.rs)
// and its fixed version (.fixed): "improve this code" → the fixed code and the lint's messages.
func MineClippy(dir string) ([]Pair, []Skip, error) {
	var pairs []Pair
	var skips []Skip
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".rs") {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		base := strings.TrimSuffix(path, ".rs")
		fixed, err := os.ReadFile(base + ".fixed")
		if err != nil {
			skips = append(skips, Skip{Path: rel, Reason: "no .fixed file"})
			return nil
		}
		before, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		stderr, _ := os.ReadFile(base + ".stderr")
		p, s := clippyPairs(rel, string(before), string(fixed), string(stderr))
		pairs, skips = append(pairs, p...), append(skips, s...)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("clippy tests %s: %w", dir, err)
	}
	return pairs, skips, nil
}

// clippyPairs pairs the top-level items of a test and its fixed version by kind, name and
// occurrence, and keeps those whose code changed and that a diagnostic points into.
func clippyPairs(rel, before, fixed, stderr string) ([]Pair, []Skip) {
	diags := parseStderr(stderr)
	fileLint := ""
	if m := warnLintRE.FindStringSubmatch(before); m != nil {
		fileLint = m[1]
	}
	after := map[string]rustItem{}
	for key, it := range keyedItems(fixed) {
		after[key] = it
	}
	var pairs []Pair
	var skips []Skip
	for key, it := range keyedItems(before) {
		fix, ok := after[key]
		if !ok {
			continue
		}
		old := stripAnnotations(it.Code)
		if old == stripAnnotations(fix.Code) {
			continue
		}
		var hits []diagnostic
		for _, d := range diags {
			if d.line >= it.SigLine && d.line <= it.LastLine {
				hits = append(hits, d)
			}
		}
		if len(hits) == 0 {
			skips = append(skips, Skip{Path: rel + ":" + strconv.Itoa(it.SigLine), Reason: "no diagnostic in the changed item"})
			continue
		}
		lints := itemLints(it.Code, fileLint, rel)
		q := fmt.Sprintf("Improve this code (clippy: %s):\n\n%s", strings.Join(lints, ", "), fence("rust", old))
		a := joinParas(fence("rust", stripAnnotations(fix.Code)), lintNotes(lints, hits))
		pairs = append(pairs, Pair{Question: q, Answer: a, Meta: Meta{Source: SourceClippy, Kind: KindClippyFix,
			Path: rel, Item: strings.Join(lints, ","), Licence: rustDocsLicence}})
	}
	return pairs, skips
}

// keyedItems returns the top-level items of a file by kind, name and occurrence, in file order.
func keyedItems(src string) func(yield func(string, rustItem) bool) {
	return func(yield func(string, rustItem) bool) {
		seen := map[string]int{}
		for _, it := range rustItems(src) {
			if it.Depth != 0 {
				continue
			}
			base := it.Kind + " " + it.Name
			key := fmt.Sprintf("%s #%d", base, seen[base])
			seen[base]++
			if !yield(key, it) {
				return
			}
		}
	}
}

// stripAnnotations drops the UI test markers (//~ lint) and the test's own commentary (whole-line
// comments about what should lint) from code.
func stripAnnotations(code string) string {
	var out []string
	for _, line := range strings.Split(code, "\n") {
		if testCommentRE.MatchString(line) {
			continue
		}
		i := strings.Index(line, "//~")
		if i < 0 {
			out = append(out, line)
			continue
		}
		if strings.TrimSpace(line[:i]) != "" {
			out = append(out, strings.TrimRight(line[:i], " \t"))
		}
	}
	return strings.Join(out, "\n")
}

// itemLints names the lints the item's markers expect, else the file's #![warn(clippy::…)] lint,
// else the file's name.
func itemLints(code, fileLint, rel string) []string {
	var lints []string
	for _, m := range annotationRE.FindAllStringSubmatch(code, -1) {
		name := strings.TrimPrefix(m[1], "clippy::")
		if name != "" && !slices.Contains(lints, name) {
			lints = append(lints, name)
		}
	}
	switch {
	case len(lints) > 0:
		return lints
	case fileLint != "":
		return []string{fileLint}
	default:
		name := strings.TrimSuffix(filepath.Base(rel), ".rs")
		return []string{strings.SplitN(name, ".", 2)[0]}
	}
}

// lintNotes lists each distinct message of the diagnostics with its suggestions.
func lintNotes(lints []string, diags []diagnostic) string {
	var lines []string
	for _, d := range diags {
		line := "- " + d.message
		if len(d.helps) > 0 {
			line += " (help: " + strings.Join(d.helps, "; ") + ")"
		}
		if !slices.Contains(lines, line) {
			lines = append(lines, line)
		}
	}
	if len(lines) > 5 {
		lines = append(lines[:5], fmt.Sprintf("- … and %d more", len(lines)-5))
	}
	return fmt.Sprintf("Clippy (`%s`) reports:\n%s", strings.Join(lints, "`, `"), strings.Join(lines, "\n"))
}
