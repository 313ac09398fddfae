package sheet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// readJSONL reads JSON Lines: one object per line, blank lines skipped. The
// whole file is in memory already, so lines of any length are fine.
func readJSONL(data []byte, ps *problems) []Row {
	j := jsonlReader{seen: map[string]int{}, ps: ps}
	for lineNo := 1; len(data) > 0; lineNo++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		j.add(lineNo, line)
	}
	if j.lines == 0 {
		ps.add(0, "", "file is empty")
	}
	return j.rows
}

// jsonlReader turns JSON lines into rows and remembers the texts it has seen.
type jsonlReader struct {
	seen  map[string]int
	rows  []Row
	lines int
	ps    *problems
}

// add checks the JSON object on one line and keeps it as a Row when it has
// no problems.
func (j *jsonlReader) add(lineNo int, line []byte) {
	j.lines++
	if !utf8.Valid(line) {
		j.ps.add(lineNo, "", "not valid UTF-8 (save the file as UTF-8)")
		return
	}
	var whole json.RawMessage
	if err := json.Unmarshal(line, &whole); err != nil {
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			j.ps.add(lineNo, "", "invalid JSON at byte %d: %v", syntaxErr.Offset, err)
		} else {
			j.ps.add(lineNo, "", "invalid JSON: %v", err)
		}
		return
	}
	if kind := jsonKind(line); kind != "object" {
		j.ps.add(lineNo, "", "line is a JSON %s, not an object", kind)
		return
	}
	members, err := objectMembers(line)
	if err != nil {
		j.ps.add(lineNo, "", "invalid JSON: %v", err)
		return
	}
	before := j.ps.count()
	row := Row{Line: lineNo, Split: "train"}
	textKey, names := "", map[field]string{}
	for _, m := range members {
		key, raw := m.key, m.value
		f := fieldOf(key)
		if f == fieldOther {
			if len(raw) > MaxCellBytes {
				j.ps.add(lineNo, key, "%s", cellTooBig(len(raw)))
			}
			continue
		}
		if first, ok := names[f]; ok {
			j.ps.add(lineNo, key, "second field for the same column (already have %q); remove one", first)
			continue
		}
		names[f] = key
		switch f {
		case fieldText:
			textKey = key
			row.Text = j.text(lineNo, key, raw)
		case fieldCategory:
			row.Category = strings.TrimSpace(j.optionalString(lineNo, key, raw))
		case fieldTags:
			row.Tags = j.tags(lineNo, key, raw)
		case fieldSplit:
			value := j.optionalString(lineNo, key, raw)
			split, ok := parseSplit(value)
			if !ok {
				j.ps.add(lineNo, key, "%s", unknownSplit(value))
			}
			row.Split = split
		}
	}
	if textKey == "" {
		j.ps.add(lineNo, "", "missing text field (name it %s)", textNames)
		return
	}
	if row.Text != "" && !checkDuplicate(j.seen, j.ps, lineNo, textKey, row.Text) && j.ps.count() == before {
		j.rows = append(j.rows, row)
	}
}

// member is one key and value of a JSON object.
type member struct {
	key   string
	value json.RawMessage
}

// objectMembers lists the members of a valid JSON object in file order, so
// that problems come out in the order a user reads them.
func objectMembers(object []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(object))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("read object: %w", err)
	}
	var members []member
	for dec.More() {
		token, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read key: %w", err)
		}
		key, _ := token.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("read value of %q: %w", key, err)
		}
		members = append(members, member{key: key, value: value})
	}
	return members, nil
}

// text decodes the text field, which must be a non-empty string.
func (j *jsonlReader) text(lineNo int, key string, raw json.RawMessage) string {
	var s string
	if kind := jsonKind(raw); kind != "string" {
		j.ps.add(lineNo, key, "field %q must be a string, not %s", key, kind)
		return ""
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		j.ps.add(lineNo, key, "field %q: %v", key, err)
		return ""
	}
	if len(s) > MaxCellBytes {
		j.ps.add(lineNo, key, "%s", cellTooBig(len(s)))
		return ""
	}
	s = strings.TrimSpace(s)
	if s == "" {
		j.ps.add(lineNo, key, "text is empty")
	}
	return s
}

// optionalString decodes a field that must be a string or null.
func (j *jsonlReader) optionalString(lineNo int, key string, raw json.RawMessage) string {
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil {
		j.ps.add(lineNo, key, "field %q must be a string, not %s", key, jsonKind(raw))
		return ""
	}
	if s == nil {
		return ""
	}
	if len(*s) > MaxCellBytes {
		j.ps.add(lineNo, key, "%s", cellTooBig(len(*s)))
		return ""
	}
	return *s
}

// tags decodes the tags field: an array of strings, a string of tags
// separated by ';' or ',', or null. Array items are split the same way,
// because a CSV export could not keep a tag that contains a separator.
func (j *jsonlReader) tags(lineNo int, key string, raw json.RawMessage) []string {
	if jsonKind(raw) != "array" {
		return splitTags(nil, j.optionalString(lineNo, key, raw))
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		j.ps.add(lineNo, key, "field %q must be an array of strings or a string", key)
		return nil
	}
	if len(raw) > MaxCellBytes {
		j.ps.add(lineNo, key, "%s", cellTooBig(len(raw)))
		return nil
	}
	var tags []string
	for _, item := range list {
		tags = splitTags(tags, item)
	}
	return tags
}

// jsonKind names the type of a JSON value by its first byte, for messages.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}
