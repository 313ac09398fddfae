// Package sheet reads the prompts of a prompt sheet for the benchmarks.
package sheet

import (
	"encoding/csv"
	"fmt"
	"os"
)

// Prompts returns the texts of the sheet's prompts of category (a CSV file
// with text and category columns, like the starter sheet).
func Prompts(path, category string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	text, okText := col["text"]
	cat, okCat := col["category"]
	if !okText || !okCat {
		return nil, fmt.Errorf("%s: needs text and category columns", path)
	}
	var out []string
	for _, r := range rows[1:] {
		if r[cat] == category {
			out = append(out, r[text])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no prompts of category %q", path, category)
	}
	return out, nil
}
