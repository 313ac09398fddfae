package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"rustexpert/checking"
	"rustexpert/eval"
	"rustexpert/handlers"
	"rustexpert/render"
	"rustexpert/store"
	"rustexpert/web"
)

const evalReportUsage = `usage: rustexpert eval report [--jobs ID,ID[,ID] [--held-out]] [--runs ID,ID[,ID[,ID]]] [--out-dir DIR] [--readme FILE] [--examples N]
Checks the jobs' unchecked answers with rustc, then writes each face-to-face report as Markdown to DIR and,
with --readme, replaces the part of FILE between "` + resultsBegin + `" and "` + resultsEnd + `" with the
summary tables and the first N held-out prompts side by side.`

// The README's results live between these two lines.
const (
	resultsBegin = "<!-- results:begin -->"
	resultsEnd   = "<!-- results:end -->"
)

// evalReport writes the face-to-face reports of generation jobs and eval runs.
func (e *cliEnv) evalReport(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("eval report", &cfg)
	jobs := fs.String("jobs", "", "generation jobs to compare, comma-separated (2 or 3)")
	heldOut := fs.Bool("held-out", false, "compare the jobs on held-out prompts only")
	runs := fs.String("runs", "", "eval runs of one bench to compare, comma-separated (2 to 4)")
	outDir := fs.String("out-dir", "", "folder for the full Markdown reports")
	readme := fs.String("readme", "", "file whose results part is replaced")
	examples := fs.Int("examples", 3, "prompts shown side by side in the README")
	if err := e.parseNoArgs(fs, &cfg, args); err != nil {
		return err
	}
	jobIDs, err := idList("--jobs", *jobs)
	if err != nil {
		return err
	}
	runIDs, err := idList("--runs", *runs)
	if err != nil {
		return err
	}
	if len(jobIDs) == 0 && len(runIDs) == 0 {
		return usageError{"eval report: give --jobs, --runs or both\n" + evalReportUsage}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(jobIDs) > 0 {
		if err := e.checkAllAnswers(ctx, st); err != nil {
			return err
		}
	}
	reports, names, err := buildReports(ctx, st, jobIDs, *heldOut, runIDs)
	if err != nil {
		return err
	}
	return e.writeReports(reports, names, *outDir, *readme, *examples, reportCommand(args))
}

// reportCommand is the command line shown with the results, without the local folders (--data, --db,
// --models), which mean nothing on another machine.
func reportCommand(args []string) string {
	kept := []string{"rustexpert", "eval", "report"}
	for i := 0; i < len(args); i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if strings.HasPrefix(args[i], "-") && (name == "data" || name == "db" || name == "models") {
			if !hasValue {
				i++
			}
			continue
		}
		kept = append(kept, args[i])
	}
	return strings.Join(kept, " ")
}

// idList reads "1,2,3"; empty is none.
func idList(flag, s string) ([]int64, error) {
	var ids []int64
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil || id < 1 {
			return nil, usageError{fmt.Sprintf("eval report: %s: %q is not an id", flag, part)}
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// checkAllAnswers runs the compiler over every answer not checked yet, as the server does in the background.
func (e *cliEnv) checkAllAnswers(ctx context.Context, st *store.Store) error {
	checker, err := eval.NewChecker(eval.Options{Clippy: true})
	if err != nil {
		return fmt.Errorf("eval report: the answers need compiling: %w", err)
	}
	r := checking.New(st, checker, slog.New(slog.NewTextHandler(e.stderr, nil)), 0)
	total := 0
	for {
		n, err := r.CheckPending(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		total += n
		fmt.Fprintf(e.stderr, "checked %d answers\n", total)
	}
	return nil
}

// buildReports returns the jobs' report first (its rows are the README's examples), then the runs'.
func buildReports(ctx context.Context, st *store.Store, jobIDs []int64, heldOut bool, runIDs []int64) ([]web.EvalReport, []string, error) {
	reports := handlers.NewReports(st, render.New())
	var out []web.EvalReport
	var names []string
	if len(jobIDs) > 0 {
		rep, err := reports.Jobs(ctx, jobIDs, heldOut)
		if err != nil {
			return nil, nil, fmt.Errorf("eval report: jobs: %w", err)
		}
		out, names = append(out, rep), append(names, "prompts.md")
		if heldOut {
			names[len(names)-1] = "heldout-prompts.md"
		}
	}
	if len(runIDs) > 0 {
		rep, err := reports.Runs(ctx, runIDs)
		if err != nil {
			return nil, nil, fmt.Errorf("eval report: runs: %w", err)
		}
		run, err := st.EvalRun(ctx, runIDs[0])
		if err != nil {
			return nil, nil, err
		}
		out, names = append(out, rep), append(names, fileSafe(run.Bench)+".md")
	}
	return out, names, nil
}

// fileSafe keeps letters, digits, dots and dashes of a bench name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

func (e *cliEnv) writeReports(reports []web.EvalReport, names []string, outDir, readme string, examples int, command string) error {
	var links []string
	for i, rep := range reports {
		if outDir == "" {
			links = append(links, "")
			continue
		}
		path := filepath.Join(outDir, names[i])
		if err := writeFileAtomic(path, []byte(handlers.Markdown(rep))); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s\n", path)
		links = append(links, filepath.ToSlash(relativeTo(readme, path)))
	}
	if readme == "" {
		return nil
	}
	section := handlers.ResultsSection(reports, links, examples, command)
	if err := replaceResults(readme, section); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "updated the results of %s\n", readme)
	return nil
}

// relativeTo is path as seen from the folder of file (path itself when there is no file or no relation).
func relativeTo(file, path string) string {
	if file == "" {
		return path
	}
	rel, err := filepath.Rel(filepath.Dir(file), path)
	if err != nil {
		return path
	}
	return rel
}

// replaceResults puts section between the results markers of the file, keeping everything else.
func replaceResults(path, section string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("eval report: %w", err)
	}
	text := string(data)
	begin, end := strings.Index(text, resultsBegin), strings.Index(text, resultsEnd)
	if begin < 0 || end < begin {
		return problemsError{fmt.Sprintf("%s: no results part: want a line %q followed by a line %q", path, resultsBegin, resultsEnd)}
	}
	text = text[:begin+len(resultsBegin)] + "\n" + section + "\n" + text[end:]
	return writeFileAtomic(path, []byte(text))
}

// writeFileAtomic writes data to path through a temporary file renamed into place.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeOutput(path, nil, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
