package sheet

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLibreOfficeExportsImportUnchanged reads files that LibreOffice Calc really wrote (see
// testdata/libreoffice/README.md) and expects exactly the cells of the sheet they came from.
func TestLibreOfficeExportsImportUnchanged(t *testing.T) {
	want := sourceTexts(t)
	for name, format := range map[string]Format{"calc.xlsx": XLSX, "calc.csv": CSV, "calc.tsv": TSV, "calc-utf16.txt": TSV} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "libreoffice", name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := Read(f, format)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(want) {
				t.Fatalf("%d rows, want %d", len(rows), len(want))
			}
			for i, r := range rows {
				got := []string{r.Text, r.Category, strings.Join(r.Tags, ";"), r.Split}
				for j := range got {
					if got[j] != want[i][j] {
						t.Errorf("row %d column %d: %q, want %q", i+1, j+1, got[j], want[i][j])
					}
				}
			}
		})
	}
}

// sourceTexts reads the source sheet with the standard library's CSV reader.
func sourceTexts(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "libreoffice", "source.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return records[1:]
}
