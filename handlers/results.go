package handlers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"rustexpert/render"
	"rustexpert/store"
	"rustexpert/web"
)

// Reports builds the /eval page's face-to-face reports away from a request, for the command that writes
// the README's results.
type Reports struct{ s *Server }

// NewReports returns report builders over the store; md renders (and sanitizes) the answers.
func NewReports(st *store.Store, md *render.Renderer) Reports {
	return Reports{s: &Server{store: st, md: md}}
}

// Jobs compares 2–3 generation jobs on the prompts all of them answered (only held-out ones when heldOut).
func (r Reports) Jobs(ctx context.Context, ids []int64, heldOut bool) (web.EvalReport, error) {
	return r.s.evalReport(ctx, evalChoice{mode: web.EvalModeJobs, ids: ids, heldOut: heldOut})
}

// Runs compares 2–4 eval runs of one bench.
func (r Reports) Runs(ctx context.Context, ids []int64) (web.EvalReport, error) {
	return r.s.evalReport(ctx, evalChoice{mode: web.EvalModeRuns, ids: ids})
}

// Markdown is a report as the /eval page's Markdown export writes it.
func Markdown(rep web.EvalReport) string { return evalReportMarkdown(rep) }

// ResultsSection is the README's results: each report's summary table and chart, a link to its full
// Markdown, and the first examples rows of the first report side by side.
func ResultsSection(reports []web.EvalReport, links []string, examples int, command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Generated %s by `%s`.\n", time.Now().UTC().Format("2006-01-02"), command)
	for i, rep := range reports {
		fmt.Fprintf(&b, "\n### %s\n\n%s\n\n", inlineText(rep.Title), inlineText(rep.Note))
		writeTable(&b, rep.Summary.Headers, rep.Summary.Rows)
		if len(rep.Chart.Groups) > 0 {
			b.WriteString("\n")
			writeTable(&b, append([]string{""}, rep.Chart.Series...), chartRows(rep.Chart))
		}
		if i < len(links) && links[i] != "" {
			fmt.Fprintf(&b, "\nEvery answer with its check: [%s](%s).\n", links[i], links[i])
		}
	}
	if len(reports) == 0 || examples < 1 {
		return b.String()
	}
	first := reports[0]
	fmt.Fprintf(&b, "\n### Side by side: the first %d of %d\n\n", min(examples, len(first.Rows)), first.Total)
	for _, row := range first.Rows[:min(examples, len(first.Rows))] {
		writeRow(&b, first.Columns, row)
	}
	return b.String()
}
