package rag

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestIngestReportsProgress checks Source.OnProgress: one call once the files are listed, one per
// file in order, and counts that end at the report's; a second ingest writes nothing.
func TestIngestReportsProgress(t *testing.T) {
	st := openStore(t)
	dir := copyTree(t, "html/book")
	if err := os.WriteFile(filepath.Join(dir, "broken.html"), []byte("<html>\xff\xfe</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []Progress
	src := mustSource(t, "book")
	src.OnProgress = func(p Progress) { got = append(got, p) }
	rep, err := Ingest(context.Background(), st, src, dir, DefaultChunkOptions)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "broken.html", "ch04-02-references-and-borrowing.html", "ch17-00-oop.html"}
	var files []string
	for i, p := range got {
		files = append(files, p.File)
		if p.Source != "book" || p.Done != i || p.Total != 3 {
			t.Errorf("call %d: %+v, want book, %d/3", i, p, i)
		}
	}
	if !slices.Equal(files, want) {
		t.Fatalf("files %q, want %q", files, want)
	}
	last := got[len(got)-1]
	// ch17-00-oop.html is a redirect page: skipped, like the broken file.
	if rep.New != 1 || last.Written != 1 || last.Chunks != rep.Chunks || last.Chunks == 0 || last.Skipped != 2 || len(rep.Skipped) != 2 {
		t.Errorf("last progress %+v, report %+v", last, rep)
	}
	if got[1].Skipped != 1 || got[1].Written != 0 || got[2].Written != 1 || got[2].Skipped != 1 {
		t.Errorf("running counts %+v", got[1:3])
	}

	got = nil
	if _, err := Ingest(context.Background(), st, src, dir, DefaultChunkOptions); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[3].Done != 3 || got[3].Written != 0 || got[3].Chunks != 0 {
		t.Errorf("second ingest progress %+v, want 4 calls writing nothing", got)
	}
}
