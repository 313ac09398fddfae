package sheet

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// exportColumn is one column of a CSV, TSV or XLSX export.
type exportColumn struct {
	name  string
	width float64 // in characters, for XLSX
}

// exportColumns lists the columns of an export. Read ignores id and
// created_at, so an export imports again.
func exportColumns() []exportColumn {
	return []exportColumn{{"id", 8}, {"text", 80}, {"category", 18}, {"tags", 24}, {"split", 10}, {"created_at", 22}}
}

// Write writes rows as a file of format f.
func Write(w io.Writer, f Format, rows []ExportRow) error {
	var err error
	switch f {
	case CSV:
		err = writeDelimited(w, ',', rows)
	case TSV:
		err = writeDelimited(w, '\t', rows)
	case JSONL:
		err = writeJSONL(w, rows)
	case XLSX:
		err = writeXLSX(w, rows)
	default:
		return fmt.Errorf("write sheet: unknown format %q", f)
	}
	if err != nil {
		return fmt.Errorf("write %s sheet: %w", f, err)
	}
	return nil
}

// formatTime writes created_at as RFC 3339 in UTC, or "" when unknown.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func writeDelimited(w io.Writer, comma rune, rows []ExportRow) error {
	cw := csv.NewWriter(w)
	cw.Comma = comma
	columns := exportColumns()
	record := make([]string, len(columns))
	for i, c := range columns {
		record[i] = c.name
	}
	if err := cw.Write(record); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	for _, row := range rows {
		record[0] = strconv.FormatInt(row.ID, 10)
		record[1] = row.Text
		record[2] = row.Category
		record[3] = strings.Join(row.Tags, ";")
		record[4] = row.Split
		record[5] = formatTime(row.CreatedAt)
		if err := cw.Write(record); err != nil {
			return fmt.Errorf("write row %d: %w", row.ID, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}

// jsonRow is one line of a JSON Lines export.
type jsonRow struct {
	ID        int64    `json:"id"`
	Text      string   `json:"text"`
	Category  string   `json:"category"`
	Tags      []string `json:"tags"`
	Split     string   `json:"split"`
	CreatedAt string   `json:"created_at"`
}

func writeJSONL(w io.Writer, rows []ExportRow) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	// Prompts are full of < > & in Rust code; escaping them helps no one.
	enc.SetEscapeHTML(false)
	for _, row := range rows {
		tags := row.Tags
		if tags == nil {
			tags = []string{}
		}
		line := jsonRow{ID: row.ID, Text: row.Text, Category: row.Category, Tags: tags, Split: row.Split, CreatedAt: formatTime(row.CreatedAt)}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("write row %d: %w", row.ID, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}

// exportSheetName is the name of the single sheet of an XLSX export.
const exportSheetName = "prompts"

// xlsxStyles are the cell styles of an XLSX export.
type xlsxStyles struct {
	header, text, other int
}

func writeXLSX(w io.Writer, rows []ExportRow) error {
	book := excelize.NewFile()
	defer book.Close()
	if err := book.SetSheetName(book.GetSheetName(0), exportSheetName); err != nil {
		return fmt.Errorf("name sheet: %w", err)
	}
	styles, err := newXLSXStyles(book)
	if err != nil {
		return err
	}
	sw, err := book.NewStreamWriter(exportSheetName)
	if err != nil {
		return fmt.Errorf("start sheet: %w", err)
	}
	// The stream writer needs widths and panes before the first row.
	columns := exportColumns()
	for i, c := range columns {
		if err := sw.SetColWidth(i+1, i+1, c.width); err != nil {
			return fmt.Errorf("set column width: %w", err)
		}
	}
	panes := &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}
	if err := sw.SetPanes(panes); err != nil {
		return fmt.Errorf("freeze header: %w", err)
	}
	header := make([]any, len(columns))
	for i, c := range columns {
		header[i] = excelize.Cell{StyleID: styles.header, Value: c.name}
	}
	if err := sw.SetRow("A1", header); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	for i, row := range rows {
		cellName, err := excelize.CoordinatesToCellName(1, i+2)
		if err != nil {
			return fmt.Errorf("row %d: %w", row.ID, err)
		}
		values := []any{
			excelize.Cell{StyleID: styles.other, Value: row.ID},
			excelize.Cell{StyleID: styles.text, Value: row.Text},
			excelize.Cell{StyleID: styles.other, Value: row.Category},
			excelize.Cell{StyleID: styles.other, Value: strings.Join(row.Tags, ";")},
			excelize.Cell{StyleID: styles.other, Value: row.Split},
			excelize.Cell{StyleID: styles.other, Value: formatTime(row.CreatedAt)},
		}
		if err := sw.SetRow(cellName, values); err != nil {
			return fmt.Errorf("write row %d: %w", row.ID, err)
		}
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("finish sheet: %w", err)
	}
	if err := book.Write(w); err != nil {
		return fmt.Errorf("write workbook: %w", err)
	}
	return nil
}

// newXLSXStyles makes a bold header, wrapped text, and top-aligned cells so
// that short cells line up with the first line of a tall wrapped prompt.
func newXLSXStyles(book *excelize.File) (xlsxStyles, error) {
	var s xlsxStyles
	var err error
	if s.header, err = book.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}}); err != nil {
		return s, fmt.Errorf("header style: %w", err)
	}
	wrap := &excelize.Alignment{WrapText: true, Vertical: "top"}
	if s.text, err = book.NewStyle(&excelize.Style{Alignment: wrap}); err != nil {
		return s, fmt.Errorf("text style: %w", err)
	}
	top := &excelize.Alignment{Vertical: "top"}
	if s.other, err = book.NewStyle(&excelize.Style{Alignment: top}); err != nil {
		return s, fmt.Errorf("cell style: %w", err)
	}
	return s, nil
}
