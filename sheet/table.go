package sheet

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// field is what a header cell (or JSON key) means to the importer.
type field int

const (
	fieldOther field = iota // ignored, so that exported files import again
	fieldText
	fieldCategory
	fieldTags
	fieldSplit
)

// textNames lists the accepted names of the text column, for messages.
const textNames = "text, prompt, question, instruction or input"

// fieldOf maps a header name to its field, case-insensitively.
func fieldOf(name string) field {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "text", "prompt", "question", "instruction", "input":
		return fieldText
	case "category":
		return fieldCategory
	case "tags":
		return fieldTags
	case "split":
		return fieldSplit
	}
	return fieldOther
}

// parseSplit maps a split cell to "train" or "heldout".
func parseSplit(value string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "", "train":
		return "train", true
	case "heldout", "held-out", "held_out":
		return "heldout", true
	}
	return "", false
}

// splitTags splits a tags cell on ';' and ',' and adds the tags that are
// not already in tags, trimmed and lowercased.
func splitTags(tags []string, cell string) []string {
	for cell != "" {
		tag := cell
		if i := strings.IndexAny(cell, ";,"); i >= 0 {
			tag, cell = cell[:i], cell[i+1:]
		} else {
			cell = ""
		}
		tag = strings.ToLower(strings.TrimSpace(tag))
		if tag != "" && !contains(tags, tag) {
			tags = append(tags, tag)
		}
	}
	return tags
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isBlank reports whether every cell is empty or whitespace.
func isBlank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// table turns the records of a CSV, TSV or XLSX sheet into rows. It knows
// which column holds what, and which texts it has already seen.
type table struct {
	names                       []string // header cells, trimmed
	text, category, tags, split int      // column index, -1 when absent
	seen                        map[string]int
	rows                        []Row
	ps                          *problems
}

// newTable reads the header record. It reports false when the sheet has no
// text column, since no row can be read then.
func newTable(header []string, line int, ps *problems) (*table, bool) {
	t := &table{text: -1, category: -1, tags: -1, split: -1, seen: map[string]int{}, ps: ps}
	for i, cell := range header {
		name := strings.TrimSpace(cell)
		t.names = append(t.names, name)
		if !utf8.ValidString(name) {
			ps.add(line, strconv.Itoa(i+1), "header is not valid UTF-8 (save the file as UTF-8)")
			continue
		}
		var slot *int
		switch fieldOf(name) {
		case fieldText:
			slot = &t.text
		case fieldCategory:
			slot = &t.category
		case fieldTags:
			slot = &t.tags
		case fieldSplit:
			slot = &t.split
		default:
			continue
		}
		if *slot >= 0 {
			ps.add(line, name, "second column for the same field (already have %q); remove one", t.names[*slot])
			continue
		}
		*slot = i
	}
	if t.text < 0 {
		ps.add(line, "", "missing text column; found: %s (name one column %s)", listNames(t.names), textNames)
		return nil, false
	}
	return t, true
}

// listNames joins the non-empty header names for a message.
func listNames(names []string) string {
	var found []string
	for _, n := range names {
		if n != "" {
			found = append(found, n)
		}
	}
	if len(found) == 0 {
		return "no column names"
	}
	return strings.Join(found, ", ")
}

// columnName names column i for a Problem: its header, or its 1-based
// number when it has none.
func (t *table) columnName(i int) string {
	if i < len(t.names) && t.names[i] != "" {
		return t.names[i]
	}
	return strconv.Itoa(i + 1)
}

// cell returns the record's cell in column i, or "" when the record is short.
func cell(record []string, i int) string {
	if i < 0 || i >= len(record) {
		return ""
	}
	return record[i]
}

// add checks one record that starts on line and keeps it as a Row when it
// has no problems. Records of only empty cells are skipped, since
// spreadsheets leave them at the end.
func (t *table) add(line int, record []string) {
	if isBlank(record) {
		return
	}
	before := t.ps.count()
	badCells := t.checkCells(line, record)
	if len(record) > len(t.names) && !isBlank(record[len(t.names):]) {
		t.ps.add(line, "", "row has %d cells but the header has %d columns", len(record), len(t.names))
	}
	row := Row{Line: line}
	if !badCells[t.text] {
		row.Text = strings.TrimSpace(cell(record, t.text))
		if row.Text == "" {
			t.ps.add(line, t.columnName(t.text), "text is empty")
		}
	}
	row.Category = strings.TrimSpace(cell(record, t.category))
	row.Tags = splitTags(nil, cell(record, t.tags))
	if !badCells[t.split] {
		split, ok := parseSplit(cell(record, t.split))
		if !ok {
			t.ps.add(line, t.columnName(t.split), "%s", unknownSplit(cell(record, t.split)))
		}
		row.Split = split
	}
	if row.Text != "" && !checkDuplicate(t.seen, t.ps, line, t.columnName(t.text), row.Text) && t.ps.count() == before {
		t.rows = append(t.rows, row)
	}
}

// checkCells reports cells that are too big or not UTF-8 and returns their
// column indexes, so that no further message is made about them.
func (t *table) checkCells(line int, record []string) map[int]bool {
	var bad map[int]bool
	for i, c := range record {
		var ok bool
		switch {
		case len(c) > MaxCellBytes:
			t.ps.add(line, t.columnName(i), "%s", cellTooBig(len(c)))
		case !utf8.ValidString(c):
			t.ps.add(line, t.columnName(i), "not valid UTF-8 (save the file as UTF-8)")
		default:
			ok = true
		}
		if !ok {
			if bad == nil {
				bad = map[int]bool{}
			}
			bad[i] = true
		}
	}
	return bad
}

// checkDuplicate reports (and records as a problem) whether text repeats an
// earlier row of the same file; otherwise it remembers the text's line.
func checkDuplicate(seen map[string]int, ps *problems, line int, column, text string) bool {
	key := Normalize(text)
	if first, ok := seen[key]; ok {
		ps.add(line, column, "duplicate of line %d", first)
		return true
	}
	seen[key] = line
	return false
}

func cellTooBig(n int) string {
	return "cell is " + strconv.Itoa(n) + " bytes; the limit is " + strconv.Itoa(MaxCellBytes>>10) + " KiB"
}

func unknownSplit(value string) string {
	return "unknown split " + strconv.Quote(strings.TrimSpace(value)) + " (want train or heldout)"
}
