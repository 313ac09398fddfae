package sheet

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/xuri/excelize/v2"
)

// maxUnzipBytes bounds how much an .xlsx may unpack to, so that a small
// zip bomb cannot fill the disk or memory.
const maxUnzipBytes = 1 << 30

// readXLSX reads the first sheet of a workbook. The first non-empty row is
// the header (row 1 in any normal sheet); Row.Line is the spreadsheet row
// number, and cells come as displayed, so numbers and booleans read as the
// user sees them.
func readXLSX(data []byte, ps *problems) []Row {
	book, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: maxUnzipBytes})
	if err != nil {
		ps.add(0, "", "%s", openError(data, err))
		return nil
	}
	defer book.Close()
	sheets := book.GetSheetList()
	if len(sheets) == 0 {
		ps.add(0, "", "workbook has no sheets")
		return nil
	}
	iter, err := book.Rows(sheets[0])
	if err != nil {
		ps.add(0, "", "cannot read sheet %q: %v", sheets[0], err)
		return nil
	}
	defer iter.Close()
	var t *table
	for rowNum := 1; iter.Next(); rowNum++ {
		cells, err := iter.Columns()
		if err != nil {
			ps.add(rowNum, "", "cannot read row: %v", err)
			return tableRows(t)
		}
		if t != nil {
			t.add(rowNum, cells)
			continue
		}
		if isBlank(cells) {
			continue
		}
		var ok bool
		if t, ok = newTable(cells, rowNum, ps); !ok {
			return nil
		}
	}
	if err := iter.Error(); err != nil {
		ps.add(0, "", "cannot read sheet %q: %v", sheets[0], err)
	}
	if t == nil {
		ps.add(0, "", "sheet %q is empty; a header row is required", sheets[0])
	}
	return tableRows(t)
}

// tableRows returns the rows of t, which is nil before the header is read.
func tableRows(t *table) []Row {
	if t == nil {
		return nil
	}
	return t.rows
}

// openError explains why a file did not open as a workbook.
func openError(data []byte, err error) string {
	switch {
	case hasPrefix(data, oleMagic), errors.Is(err, excelize.ErrWorkbookFileFormat):
		return "not an .xlsx workbook: this looks like an old .xls file or a password-protected workbook; save it as .xlsx without a password"
	case !hasPrefix(data, zipMagic):
		return "not an .xlsx workbook (an .xlsx file is a zip archive); save the sheet as Excel Workbook (.xlsx)"
	}
	return fmt.Sprintf("cannot open the .xlsx workbook: %v", err)
}
