package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"rustexpert/sheet"
	"rustexpert/store"
)

func (e *cliEnv) prompts(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"usage: rustexpert prompts import FILE | prompts export --format csv|jsonl|xlsx|tsv [--split S] [-o FILE]"}
	}
	switch args[0] {
	case "import":
		return e.promptsImport(ctx, args[1:])
	case "export":
		return e.promptsExport(ctx, args[1:])
	default:
		return usageError{fmt.Sprintf("unknown prompts command %q (want import or export)", args[0])}
	}
}

// promptsImport imports a sheet in one transaction; every problem is printed with its line.
func (e *cliEnv) promptsImport(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("prompts import", &cfg)
	format := fs.String("format", "", "csv, tsv, jsonl or xlsx (default: from the file name)")
	pos, err := e.parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: rustexpert prompts import [--format F] FILE"}
	}
	path := pos[0]
	f, err := sheetFormat(*format, path)
	if err != nil {
		return usageError{err.Error()}
	}
	rows, err := readSheet(path, f)
	if err == nil {
		st, openErr := openStore(ctx, cfg)
		if openErr != nil {
			return openErr
		}
		defer st.Close()
		var n int
		n, err = st.ImportPrompts(ctx, rows, "import:"+filepath.Base(path), 0)
		if err == nil {
			fmt.Fprintf(e.stdout, "imported %d prompts from %s\n", n, path)
			return nil
		}
	}
	var sheetErr *sheet.Error
	if errors.As(err, &sheetErr) {
		for _, p := range sheetErr.Problems {
			fmt.Fprintf(e.stderr, "%s: %s\n", path, p)
		}
		if sheetErr.More > 0 {
			fmt.Fprintf(e.stderr, "%s: … and %d more problems\n", path, sheetErr.More)
		}
		return problemsError{fmt.Sprintf("nothing imported: %d problems in %s", len(sheetErr.Problems)+sheetErr.More, path)}
	}
	return err
}

func sheetFormat(flagValue, path string) (sheet.Format, error) {
	if flagValue != "" {
		return sheet.ParseFormat(flagValue)
	}
	return sheet.DetectFormat(path)
}

func readSheet(path string, f sheet.Format) ([]sheet.Row, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	if info, err := file.Stat(); err == nil && info.Size() > sheet.MaxFileBytes {
		return nil, fmt.Errorf("%s is %d MB; the limit is %d MB", path, info.Size()>>20, sheet.MaxFileBytes>>20)
	}
	return sheet.Read(file, f)
}

func (e *cliEnv) promptsExport(ctx context.Context, args []string) error {
	var cfg Config
	fs := e.flags("prompts export", &cfg)
	format := fs.String("format", "jsonl", "csv, tsv, jsonl or xlsx")
	split := fs.String("split", "", "only this split (train or heldout)")
	category := fs.String("category", "", "only this category")
	out := fs.String("o", "", "output file (default stdout)")
	err := e.parseNoArgs(fs, &cfg, args)
	if err != nil {
		return err
	}
	f, err := sheet.ParseFormat(*format)
	if err != nil {
		return usageError{err.Error()}
	}
	if *split != "" && *split != store.SplitTrain && *split != store.SplitHeldout {
		return usageError{fmt.Sprintf("--split %q: want train or heldout", *split)}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	var rows []sheet.ExportRow
	err = st.EachPrompt(ctx, store.PromptFilter{Split: *split, Category: *category}, func(p store.Prompt) error {
		rows = append(rows, sheet.ExportRow{ID: p.ID, Text: p.Text, Category: p.Category, Tags: p.Tags, Split: p.Split, CreatedAt: p.CreatedAt})
		return nil
	})
	if err != nil {
		return err
	}
	return writeOutput(*out, e.stdout, func(w io.Writer) error { return sheet.Write(w, f, rows) })
}

// writeOutput writes to a file atomically (temp file + rename, so a half-written file never looks
// complete), or to stdout when path is empty.
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" {
		return write(stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil { // as a file created the usual way
		return err
	}
	return os.Rename(tmp.Name(), path)
}
