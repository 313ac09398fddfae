package sftdata

import (
	"fmt"
	"io"
	"strings"
)

// PrintSummary writes the counts of a build: rows kept per source and kind, pairs dropped per
// reason, items the miners left out, and token statistics.
func PrintSummary(w io.Writer, s Summary) {
	fmt.Fprintf(w, "rows kept: %d\n", s.Rows)
	for _, src := range sortedKeys(s.Mined) {
		var kinds []string
		for _, k := range sortedKeys(s.Kept[src]) {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, s.Kept[src][k]))
		}
		kept := strings.Join(kinds, ", ")
		if kept == "" {
			kept = "none"
		}
		fmt.Fprintf(w, "  %-16s mined %5d, kept %s; %d files or items left out by the miner\n", src, s.Mined[src], kept, s.Skipped[src])
	}
	for _, sk := range s.SkipSeen {
		if sk.Reason == "no such folder" {
			fmt.Fprintf(w, "  %s: no such folder, left out\n", sk.Path)
		}
	}
	if len(s.Crates) > 0 {
		fmt.Fprintf(w, "crates: %s\n", strings.Join(s.Crates, " "))
	}
	if len(s.Missing) > 0 {
		fmt.Fprintf(w, "crates not in the registry: %s\n", strings.Join(s.Missing, " "))
	}
	fmt.Fprintln(w, "dropped:")
	if len(s.Dropped) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, r := range sortedKeys(s.Dropped) {
		fmt.Fprintf(w, "  %-48s %d\n", r, s.Dropped[r])
	}
	fmt.Fprintf(w, "tokens per row, %s: min %d, median %d, p95 %d, max %d\n", s.Counting,
		s.Tokens.Min, s.Tokens.Median, s.Tokens.P95, s.Tokens.Max)
}
