package handlers

import (
	"fmt"
	"strings"

	"rustexpert/web"
)

// chartCells is the width of a text bar in the Markdown report.
const chartCells = 20

// evalReportMarkdown writes the comparison the page shows as Markdown: the summary table, the chart as
// text bars and, per problem or prompt, each answer in a code fence under its verdict. Answers and
// prompts stay inside fences longer than any backtick run they hold, so no answer text becomes Markdown
// (or HTML) of the report.
func evalReportMarkdown(rep web.EvalReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\nrustexpert face-to-face report, generated %s.\n\n%s\n\n", inlineText(rep.Title), rep.Generated, inlineText(rep.Note))
	b.WriteString("## Summary\n\n")
	writeTable(&b, rep.Summary.Headers, rep.Summary.Rows)
	if len(rep.Chart.Groups) > 0 {
		b.WriteString("\n## Chart\n\n")
		writeTable(&b, append([]string{""}, rep.Chart.Series...), chartRows(rep.Chart))
	}
	fmt.Fprintf(&b, "\n## Per %s\n\n", rep.Subject)
	if rep.Total > len(rep.Rows) {
		fmt.Fprintf(&b, "The first %d of %d are shown.\n\n", len(rep.Rows), rep.Total)
	}
	for _, row := range rep.Rows {
		writeRow(&b, rep.Columns, row)
	}
	return b.String()
}

// writeTable writes a Markdown table; every cell is escaped inline text.
func writeTable(b *strings.Builder, headers []string, rows [][]string) {
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + inlineText(c) + " |")
		}
		b.WriteString("\n")
	}
	line(headers)
	b.WriteString("|" + strings.Repeat("---|", len(headers)) + "\n")
	for _, r := range rows {
		line(r)
	}
}

// chartRows draws each value as a bar of block characters with the number after it.
func chartRows(c web.EvalChart) [][]string {
	rows := make([][]string, 0, len(c.Groups))
	for _, g := range c.Groups {
		row := []string{g.Label}
		for _, v := range g.Values {
			full := int(max(0, min(1, v))*chartCells + 0.5)
			row = append(row, fmt.Sprintf("%s%s %.3f", strings.Repeat("█", full), strings.Repeat("░", chartCells-full), v))
		}
		rows = append(rows, row)
	}
	return rows
}

func writeRow(b *strings.Builder, columns []string, row web.EvalRow) {
	held := ""
	if row.HeldOut {
		held = " (held-out)"
	}
	fmt.Fprintf(b, "### %s%s\n\n", inlineText(row.Name), held)
	if row.Prompt != "" {
		b.WriteString(fenced(row.Prompt, "text") + "\n")
	}
	for i, cell := range row.Cells {
		if cell.Missing {
			fmt.Fprintf(b, "**%s**: no answer\n\n", inlineText(columns[i]))
			continue
		}
		fmt.Fprintf(b, "**%s**: %s\n\n", inlineText(columns[i]), inlineText(cell.Badge.Text))
		if cell.Badge.Detail != "" {
			b.WriteString(fenced(cell.Badge.Detail, "text") + "\n")
		}
		language := "markdown"
		if cell.Code {
			language = "rust"
		}
		b.WriteString(fenced(cell.Text, language) + "\n")
	}
}

// inlineEscapes keep text one table cell of plain text: no cell breaks, line breaks, HTML or emphasis.
var inlineEscapes = strings.NewReplacer("\\", "\\\\", "|", "\\|", "<", "&lt;", ">", "&gt;", "*", "\\*", "_", "\\_",
	"`", "\\`", "[", "\\[", "]", "\\]", "\r\n", " ", "\n", " ", "\r", " ")

func inlineText(s string) string { return inlineEscapes.Replace(s) }
