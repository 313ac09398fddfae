package sheet

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
)

// sniffDelimiter returns the separator for a CSV or TSV file. A file sent as
// CSV whose header line has tabs but no commas is tab-separated (and the
// other way round), because users pick the format from the file name and
// spreadsheet programs are loose about extensions.
func sniffDelimiter(data []byte, f Format) rune {
	header := firstLine(data)
	hasTab := bytes.IndexByte(header, '\t') >= 0
	hasComma := bytes.IndexByte(header, ',') >= 0
	switch {
	case f == CSV && hasTab && !hasComma:
		return '\t'
	case f == TSV && hasComma && !hasTab:
		return ','
	case f == TSV:
		return '\t'
	}
	return ','
}

// firstLine returns the first line of data that is not empty or blank.
func firstLine(data []byte) []byte {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(line)) > 0 {
			return line
		}
	}
	return nil
}

// readDelimited reads a CSV or TSV file whose cells are separated by comma.
// It stops at the first error that encoding/csv cannot read past. Like
// encoding/csv, it reads a line break inside a quoted cell as "\n" even when
// the file has "\r\n".
func readDelimited(data []byte, comma rune, ps *problems) []Row {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.ReuseRecord = true

	header, err := r.Read()
	if err == io.EOF {
		ps.add(0, "", emptyFileMessage)
		return nil
	}
	if err != nil {
		addParseError(data, err, nil, len(header), ps)
		return nil
	}
	headerLine, _ := r.FieldPos(0)
	t, ok := newTable(header, headerLine, ps)
	if !ok {
		return nil
	}
	for {
		record, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// The partial record holds the cells before the broken one.
			addParseError(data, err, t, len(record), ps)
			break
		}
		line, _ := r.FieldPos(0)
		t.add(line, record)
	}
	return t.rows
}

// addParseError turns an encoding/csv error into a problem. The broken cell
// is the one after the cells of the partial record, cellIndex; t is nil
// while the header itself is being read.
func addParseError(data []byte, err error, t *table, cellIndex int, ps *problems) {
	column := strconv.Itoa(cellIndex + 1)
	if t != nil {
		column = t.columnName(cellIndex)
	}
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		ps.add(0, column, "cannot read file: %v", err)
		return
	}
	var msg string
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		msg = `stray " in a cell that does not start with a quote`
	case errors.Is(pe.Err, csv.ErrQuote) && isUnclosedQuote(data, pe):
		msg = `quoted cell is never closed: everything after its opening " up to the end of the file is one cell`
	case errors.Is(pe.Err, csv.ErrQuote):
		msg = `stray " after the closing quote of a quoted cell`
	default:
		msg = pe.Err.Error()
	}
	ps.add(pe.StartLine, column, "%s (line %d, byte %d); quote the whole cell and double each \" inside it, like \"say \"\"hi\"\"\"; reading stopped here",
		msg, pe.Line, pe.Column)
}

// isUnclosedQuote tells an unclosed quoted cell from a stray quote after a
// closing one: encoding/csv reports both as ErrQuote, but only the stray
// quote error points at a '"' byte.
func isUnclosedQuote(data []byte, pe *csv.ParseError) bool {
	offset := lineOffset(data, pe.Line) + pe.Column - 1
	return offset < 0 || offset >= len(data) || data[offset] != '"'
}

// lineOffset returns the byte offset where the 1-based line starts.
func lineOffset(data []byte, line int) int {
	offset := 0
	for range line - 1 {
		i := bytes.IndexByte(data[offset:], '\n')
		if i < 0 {
			return len(data)
		}
		offset += i + 1
	}
	return offset
}
