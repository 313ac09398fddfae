package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestRAGIngestReportSurvivesReopen stores a source's last ingest, replaces it with the next
// one, and reads it back after the database is closed and opened again.
func TestRAGIngestReportSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	st, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ada, err := st.CreateUser(t.Context(), "ada", "password123", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	first := RAGIngestReport{Source: "book", Folder: "/docs/book", StartedBy: "ada", StartedAt: start, FinishedAt: start.Add(time.Second),
		Files: 3, New: 2, Chunks: 14, Skipped: 1, Skips: []RAGSkip{{Path: "print.html", Reason: "redirect page"}}}
	if err := st.SaveRAGIngestReport(as(t, ada), first); err != nil {
		t.Fatal(err)
	}
	second := RAGIngestReport{Source: "book", Folder: "/docs/book", StartedBy: "ada", StartedAt: start.Add(time.Hour),
		FinishedAt: start.Add(time.Hour + 2*time.Second), Files: 3, Changed: 1, Unchanged: 1, Chunks: 6}
	if err := st.SaveRAGIngestReport(as(t, ada), second); err != nil {
		t.Fatal(err)
	}
	other := RAGIngestReport{Source: "tokio", Folder: "/docs/tokio", StartedAt: start, FinishedAt: start, Error: "list /docs/tokio: permission denied"}
	if err := st.SaveRAGIngestReport(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.RAGIngestReports(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	second.Skips = []RAGSkip{}
	other.Skips = []RAGSkip{}
	if want := []RAGIngestReport{second, other}; !reflect.DeepEqual(got, want) {
		t.Fatalf("reports after reopening:\n got %+v\nwant %+v", got, want)
	}
	rows := auditRows(t, st, "rag.ingest")
	if len(rows) != 3 || rows[0].Target != "tokio" || rows[0].Actor != "system" || rows[2].Actor != "ada" ||
		!strings.Contains(rows[2].Details, `"new":2`) || !strings.Contains(rows[2].Details, `"folder":"/docs/book"`) {
		t.Errorf("audit rows %+v", rows)
	}
}

func TestRAGIngestReportLimits(t *testing.T) {
	st := openTest(t)
	at := time.Now()
	for _, bad := range []RAGIngestReport{
		{Folder: "/docs"},
		{Source: strings.Repeat("s", 65), Folder: "/docs"},
		{Source: "bo\nok", Folder: "/docs"},
		{Source: "book"},
		{Source: "book", Folder: "/docs", New: -1},
	} {
		bad.StartedAt, bad.FinishedAt = at, at
		if err := st.SaveRAGIngestReport(t.Context(), bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", bad, err)
		}
	}
	var skips []RAGSkip
	for i := range MaxRAGSkips + 5 {
		skips = append(skips, RAGSkip{Path: fmt.Sprintf("p%d.html", i), Reason: "not UTF-8"})
	}
	rep := RAGIngestReport{Source: "std", Folder: "/docs/std", StartedAt: at, FinishedAt: at, Skips: skips, Error: strings.Repeat("é", 2000)}
	if err := st.SaveRAGIngestReport(t.Context(), rep); err != nil {
		t.Fatal(err)
	}
	got, err := st.RAGIngestReports(t.Context())
	if err != nil || len(got) != 1 {
		t.Fatalf("reports %+v, %v", got, err)
	}
	if got[0].Skipped != MaxRAGSkips+5 || len(got[0].Skips) != MaxRAGSkips || got[0].Skips[MaxRAGSkips-1].Path != "p999.html" {
		t.Errorf("skipped %d, %d kept", got[0].Skipped, len(got[0].Skips))
	}
	if len(got[0].Error) > maxRAGErrorLen+len("…") || !strings.HasSuffix(got[0].Error, "é…") {
		t.Errorf("error of %d bytes: %q…", len(got[0].Error), got[0].Error[:20])
	}
}

func TestRAGSourceVectors(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	for _, src := range []string{"book", "std"} {
		doc := RAGDocument{Source: src, Path: "a.html", URL: "https://x/" + src, Title: src, SHA256: "00"}
		if err := st.PutRAGDocument(ctx, doc, []RAGChunk{{Seq: 0, Title: "a", Text: "one"}, {Seq: 1, Title: "b", Text: "two"}}); err != nil {
			t.Fatal(err)
		}
	}
	passages, err := st.RAGPassagesToEmbed(ctx, "m1", 10)
	if err != nil || len(passages) != 4 {
		t.Fatalf("passages %+v, %v", passages, err)
	}
	// book: both chunks from m1; std: one from m1, one without a vector.
	put := func(model string, ids ...int64) {
		var vs []RAGVector
		for _, id := range ids {
			vs = append(vs, RAGVector{ChunkID: id, Vector: []float32{1, 0}})
		}
		if err := st.PutRAGVectors(ctx, model, vs); err != nil {
			t.Fatal(err)
		}
	}
	put("m1", passages[0].ChunkID, passages[1].ChunkID, passages[2].ChunkID)
	got, err := st.RAGSourceVectors(ctx, "m1")
	if err != nil || !reflect.DeepEqual(got, map[string]int{"book": 2, "std": 1}) {
		t.Errorf("m1 vectors per source %v, %v", got, err)
	}
	if got, err := st.RAGSourceVectors(ctx, "none"); err != nil || len(got) != 0 {
		t.Errorf("unknown model %v, %v", got, err)
	}
	// Another model's vectors replace m1's.
	put("m2", passages[3].ChunkID)
	if got, err := st.RAGSourceVectors(ctx, "m1"); err != nil || len(got) != 0 {
		t.Errorf("m1 vectors after m2's arrived: %v, %v", got, err)
	}
	if got, err := st.RAGSourceVectors(ctx, "m2"); err != nil || !reflect.DeepEqual(got, map[string]int{"std": 1}) {
		t.Errorf("m2 vectors per source %v, %v", got, err)
	}
}
