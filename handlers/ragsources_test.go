package handlers

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"

	"rustexpert/rag"
	"rustexpert/store"
)

// ragTestdata is the rag package's test copy of rustup's html docs folder.
func ragTestdata(t *testing.T, sub ...string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join(append([]string{"..", "rag", "testdata"}, sub...)...))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyDir copies a folder of the rag test data to a fresh folder the test may change.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// waitRAGTask follows the tasks' websocket until the server closes it after the running task
// ended, and returns every state it sent.
func waitRAGTask(t *testing.T, c *client) []ragTaskState {
	t.Helper()
	dialer := websocket.Dialer{Jar: c.http.Jar, HandshakeTimeout: 5 * time.Second}
	conn, _, err := dialer.Dial(wsURL(c.app, "/ws/rag/tasks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var got []ragTaskState
	for {
		var st ragTaskState
		err := conn.ReadJSON(&st)
		var closed *websocket.CloseError
		if errors.As(err, &closed) {
			if closed.Code != websocket.CloseNormalClosure {
				t.Fatalf("closed with %d %q", closed.Code, closed.Text)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, st)
	}
	if len(got) == 0 || got[len(got)-1].Running {
		t.Fatalf("the stream ended without a finished task: %+v", got)
	}
	return got
}

// startIngest posts the ingest form of a source and expects to be sent back to the page.
func startIngest(t *testing.T, c *client, source, folder string) {
	t.Helper()
	res := c.postForm("/rag/sources/"+source+"/ingest", url.Values{"folder": {folder}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/rag/sources" {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("ingest %s from %s: status %d, location %q: %s", source, folder, res.StatusCode, res.Header.Get("Location"), body)
	}
}

// ingestAndWait starts an ingest and waits for its final state.
func ingestAndWait(t *testing.T, c *client, source, folder string) ragTaskState {
	t.Helper()
	startIngest(t, c, source, folder)
	states := waitRAGTask(t, c)
	return states[len(states)-1]
}

// sourceRow is a source's row of the sources page.
func sourceRow(t *testing.T, doc *goquery.Document, source string) *goquery.Selection {
	t.Helper()
	row := doc.Find(`[data-testid="rag-source"][data-source="` + source + `"]`)
	if row.Length() != 1 {
		t.Fatalf("%d rows of %s", row.Length(), source)
	}
	return row
}

func cellInt(t *testing.T, row *goquery.Selection, id string) int {
	t.Helper()
	s := strings.TrimSpace(row.Find(`[data-testid="` + id + `"]`).First().Text())
	s, _, _ = strings.Cut(s, " ")
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s: %q is not a number", id, s)
	}
	return n
}

func sourceStats(t *testing.T, st *store.Store, source string) store.RAGSourceStats {
	t.Helper()
	stats, err := st.RAGSources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		if s.Source == source {
			return s
		}
	}
	return store.RAGSourceStats{Source: source}
}

// TestRAGSourcesIngestShowsCounts has an admin ingest two sources of the rag test data (the html
// root given, as rustup lays it out) and checks the table and the stored reports against the index.
func TestRAGSourcesIngestShowsCounts(t *testing.T) {
	a := newTestApp(t)
	admin := a.login("ada", "admin")
	before := admin.page("/rag/sources")
	if n := before.Find(`[data-testid="rag-source"]`).Length(); n != len(rag.Sources) {
		t.Fatalf("%d rows, want one per known source (%d)", n, len(rag.Sources))
	}
	if b := sourceRow(t, before, "book").Find(`[data-testid="rag-ingest"]`).Text(); b != "Ingest" {
		t.Errorf("button before any ingest %q", b)
	}

	html := ragTestdata(t, "html")
	book := ingestAndWait(t, admin, "book", html)
	if book.Kind != ragTaskIngest || book.Source != "book" || book.Folder != filepath.Join(html, "book") || book.Error != "" ||
		book.Total != 2 || book.Done != 2 || book.Written != 1 || book.Skipped != 1 || book.By != "ada" {
		t.Errorf("final state of book %+v", book)
	}
	codes := ingestAndWait(t, admin, "error-codes", html)
	if codes.Written != 1 || codes.Done != 1 || codes.Error != "" {
		t.Errorf("final state of error-codes %+v", codes)
	}

	doc := admin.page("/rag/sources")
	for _, name := range []string{"book", "error-codes"} {
		row := sourceRow(t, doc, name)
		want := sourceStats(t, a.store, name)
		if want.Documents != 1 || want.Chunks == 0 {
			t.Fatalf("%s in the index: %+v", name, want)
		}
		if cellInt(t, row, "rag-documents") != want.Documents || cellInt(t, row, "rag-chunks") != want.Chunks {
			t.Errorf("%s row: %s documents, %s chunks; index %+v", name, row.Find(`[data-testid="rag-documents"]`).Text(),
				row.Find(`[data-testid="rag-chunks"]`).Text(), want)
		}
		if cellInt(t, row, "rag-report-new") != 1 || cellInt(t, row, "rag-report-chunks") != want.Chunks {
			t.Errorf("%s report: %s", name, row.Find(`[data-testid="rag-report"]`).Text())
		}
		if b := row.Find(`[data-testid="rag-ingest"]`).Text(); b != "Re-ingest" {
			t.Errorf("%s button after an ingest %q", name, b)
		}
	}
	bookRow := sourceRow(t, doc, "book")
	if v, _ := bookRow.Find(`[data-testid="rag-folder"]`).Attr("value"); v != filepath.Join(html, "book") {
		t.Errorf("book folder prefilled with %q", v)
	}
	skip := bookRow.Find(`[data-testid="rag-skip"]`)
	if skip.Length() != 1 || !strings.Contains(skip.Text(), "ch17-00-oop.html") || !strings.Contains(skip.Text(), "redirect page") {
		t.Errorf("book skips %q", skip.Text())
	}
	if cellInt(t, bookRow, "rag-report-skipped") != 1 || cellInt(t, bookRow, "rag-report-files") != 2 {
		t.Errorf("book report: %s", bookRow.Find(`[data-testid="rag-report"]`).Text())
	}
	// The last task stays on the page, finished, with its bar full.
	bar := bookRow.Find(`[data-testid="rag-bar"]`)
	if bar.Length() != 0 {
		t.Errorf("book still shows a task after error-codes ran")
	}
	codesTask := sourceRow(t, doc, "error-codes").Find(`[data-testid="rag-task"]`)
	if run, _ := codesTask.Attr("data-running"); run != "false" || codesTask.Find("progress").AttrOr("value", "") != "1" ||
		codesTask.Find("progress").AttrOr("max", "") != "1" {
		t.Errorf("error-codes task: running %q, bar %q of %q", run, codesTask.Find("progress").AttrOr("value", ""), codesTask.Find("progress").AttrOr("max", ""))
	}
	if rows := auditRows(t, a, "rag.ingest"); len(rows) != 2 || rows[1].Target != "book" || rows[1].Actor != "ada" {
		t.Errorf("audit rows %+v", rows)
	}

	// The viewer sees the same table and reports, without forms.
	viewer := a.login("val", "viewer")
	vdoc := viewer.page("/rag/sources")
	if vdoc.Find(`[data-testid="rag-ingest-form"]`).Length() != 0 || vdoc.Find(`[data-testid="rag-embed-form"]`).Length() != 0 {
		t.Error("a viewer sees the ingest forms")
	}
	if cellInt(t, sourceRow(t, vdoc, "book"), "rag-documents") != 1 || sourceRow(t, vdoc, "book").Find(`[data-testid="rag-report"]`).Length() != 1 {
		t.Error("the viewer does not see book's counts and report")
	}
}

func auditRows(t *testing.T, a *testApp, action string) []store.AuditEntry {
	t.Helper()
	rows, err := a.store.ListAudit(t.Context(), store.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestRAGSourcesReingestTouchesOnlyChanged ingests a copy of the std pages, edits one, deletes
// another and ingests again: only the edited page is written, the rest is unchanged.
func TestRAGSourcesReingestTouchesOnlyChanged(t *testing.T) {
	a := newTestApp(t)
	admin := a.login("ada", "admin")
	dir := copyDir(t, ragTestdata(t, "html", "std"))
	first := ingestAndWait(t, admin, "std", dir)
	if first.Written != 5 || first.Total != 5 || first.Error != "" {
		t.Fatalf("first ingest %+v", first)
	}
	chunksBefore := sourceStats(t, a.store, "std").Chunks

	page := filepath.Join(dir, "sync", "struct.Barrier.html")
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "A barrier enables", "A barrier (edited) enables", 1)
	if edited == string(data) {
		t.Fatal("the edit changed nothing")
	}
	if err := os.WriteFile(page, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "net", "enum.Shutdown.html")); err != nil {
		t.Fatal(err)
	}
	second := ingestAndWait(t, admin, "std", dir)
	if second.Written != 1 || second.Total != 4 || second.Done != 4 {
		t.Errorf("re-ingest state %+v", second)
	}
	if !strings.Contains(second.Summary, "0 new, 1 changed, 3 unchanged (not touched), 1 removed") {
		t.Errorf("re-ingest summary %q", second.Summary)
	}
	row := sourceRow(t, admin.page("/rag/sources"), "std")
	for id, want := range map[string]int{"rag-report-new": 0, "rag-report-changed": 1, "rag-report-unchanged": 3, "rag-report-removed": 1, "rag-documents": 4} {
		if got := cellInt(t, row, id); got != want {
			t.Errorf("%s = %d, want %d", id, got, want)
		}
	}
	if !strings.Contains(row.Find(`[data-testid="rag-report-unchanged"]`).Text(), "not touched") {
		t.Errorf("the report does not say unchanged documents were left alone: %q", row.Find(`[data-testid="rag-report-unchanged"]`).Text())
	}
	reports, err := a.store.RAGIngestReports(t.Context())
	if err != nil || len(reports) != 1 {
		t.Fatalf("reports %+v, %v", reports, err)
	}
	if r := reports[0]; r.Changed != 1 || r.Unchanged != 3 || r.Removed != 1 || r.New != 0 || r.Chunks == 0 || r.Chunks >= chunksBefore || r.Files != 4 {
		t.Errorf("stored report %+v (chunks before %d)", r, chunksBefore)
	}
}

// newRAGTaskServer is the sources page's handlers over the test app's store and hub, with the
// ingest replaced by ingest, routed without sessions.
func newRAGTaskServer(a *testApp, ingest func(ctx context.Context, st rag.Store, src rag.Source, dir string) (rag.Report, error)) (*ragTasks, http.Handler) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil)), store: a.store, hub: a.hub, md: a.md, limits: newLimits(Limits{})}
	g := newRAGTasks(s)
	g.ingest = ingest
	r := chi.NewRouter()
	r.Get("/rag/sources", g.handlePage)
	r.Post("/rag/sources/{name}/ingest", g.handleIngest)
	r.Post("/rag/embed", g.handleEmbed)
	return g, r
}

func serve(h http.Handler, method, path string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestRAGSourcesOneTaskAtATime holds an ingest open and checks that a second ingest and embedding
// are refused as busy, that the page shows the running task, and that a new ingest starts once it
// has ended.
func TestRAGSourcesOneTaskAtATime(t *testing.T) {
	a := newTestApp(t)
	started, release := make(chan string, 2), make(chan struct{})
	g, h := newRAGTaskServer(a, func(ctx context.Context, st rag.Store, src rag.Source, dir string) (rag.Report, error) {
		started <- src.Name
		<-release
		return rag.Ingest(ctx, st, src, dir, rag.DefaultChunkOptions)
	})
	html := ragTestdata(t, "html")
	if rec := serve(h, http.MethodPost, "/rag/sources/book/ingest", url.Values{"folder": {html}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("first ingest: %d %s", rec.Code, rec.Body)
	}
	if name := <-started; name != "book" {
		t.Fatalf("started %s", name)
	}
	busy := serve(h, http.MethodPost, "/rag/sources/error-codes/ingest", url.Values{"folder": {html}})
	if busy.Code != http.StatusConflict {
		t.Fatalf("second ingest while one runs: %d", busy.Code)
	}
	doc, err := goquery.NewDocumentFromReader(busy.Body)
	if err != nil {
		t.Fatal(err)
	}
	msg := sourceRow(t, doc, "error-codes").Find(`[data-testid="rag-form-error"]`).Text()
	if !strings.Contains(msg, "busy: an ingest of book") || !strings.Contains(msg, "one runs at a time") {
		t.Errorf("busy message %q", msg)
	}
	running := sourceRow(t, doc, "book").Find(`[data-testid="rag-task"]`)
	if r, _ := running.Attr("data-running"); r != "true" {
		t.Errorf("the page does not show book's ingest running (data-running %q)", r)
	}

	close(release)
	g.mu.Lock()
	done := g.cur.done
	g.mu.Unlock()
	<-done
	if st := g.snapshot(); st.Running || st.Error != "" || st.Written != 1 {
		t.Fatalf("after release: %+v", st)
	}
	if rec := serve(h, http.MethodPost, "/rag/sources/error-codes/ingest", url.Values{"folder": {html}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("ingest after the first ended: %d %s", rec.Code, rec.Body)
	}
	<-started
	g.mu.Lock()
	done = g.cur.done
	g.mu.Unlock()
	<-done
	if st := g.snapshot(); st.Source != "error-codes" || st.Written != 1 {
		t.Errorf("second ingest %+v", st)
	}
}

// TestRAGSourcesOnlyAdminsStart checks that viewers and annotators cannot start an ingest or
// embedding, nor an admin's browser without the session's CSRF token, and that nothing ran.
func TestRAGSourcesOnlyAdminsStart(t *testing.T) {
	a := newTestApp(t)
	html := ragTestdata(t, "html")
	for _, role := range []string{"viewer", "annotator"} {
		c := a.login("u-"+role, role)
		if res := c.postForm("/rag/sources/book/ingest", url.Values{"folder": {html}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s ingest: status %d", role, res.StatusCode)
		}
		if res := c.postForm("/rag/embed", url.Values{}); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s embed: status %d", role, res.StatusCode)
		}
		if c.page("/rag/sources").Find(`[data-testid="rag-ingest-form"]`).Length() != 0 {
			t.Errorf("%s sees the forms", role)
		}
	}
	admin := a.login("ada", "admin")
	forged := admin.do(http.MethodPost, "/rag/sources/book/ingest", strings.NewReader(url.Values{"folder": {html}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if forged.StatusCode != http.StatusForbidden {
		t.Errorf("an admin's post without the CSRF token: status %d", forged.StatusCode)
	}
	if s := sourceStats(t, a.store, "book"); s.Documents != 0 {
		t.Errorf("book was ingested: %+v", s)
	}
	if rep, err := a.store.RAGIngestReports(t.Context()); err != nil || len(rep) != 0 {
		t.Errorf("reports %+v, %v", rep, err)
	}
}

// TestRAGSourcesBadFolderNamesIt checks each refused folder: the page comes back with the error
// in the source's row, naming the folder, and the folder as typed; nothing is started.
func TestRAGSourcesBadFolderNamesIt(t *testing.T) {
	a := newTestApp(t)
	admin := a.login("ada", "admin")
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("no pages here"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(empty, "notes.txt")
	missing := filepath.Join(empty, "no-such-folder")
	for _, tc := range []struct{ folder, want string }{
		{missing, "folder " + missing + " does not exist"},
		{file, file + " is not a folder"},
		{empty, "nothing to ingest in " + empty + ": it holds no mdBook .html pages of book"},
		{"docs/book", "folder docs/book: give an absolute path"},
		{"  ", "give the folder of book on the server"},
	} {
		res := admin.postForm("/rag/sources/book/ingest", url.Values{"folder": {tc.folder}})
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%q: status %d", tc.folder, res.StatusCode)
			continue
		}
		row := sourceRow(t, parse(t, res), "book")
		if msg := row.Find(`[data-testid="rag-form-error"]`).Text(); !strings.Contains(msg, tc.want) {
			t.Errorf("%q: error %q, want %q", tc.folder, msg, tc.want)
		}
		if v, _ := row.Find(`[data-testid="rag-folder"]`).Attr("value"); v != tc.folder {
			t.Errorf("%q: the form shows %q", tc.folder, v)
		}
	}
	if res := admin.postForm("/rag/sources/nonsense/ingest", url.Values{"folder": {empty}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown source: status %d", res.StatusCode)
	}
	if states := waitRAGTask(t, admin); len(states) != 1 || states[0].Kind != "" {
		t.Errorf("a task ran: %+v", states)
	}
}

// TestRAGSourcesEscapesSkippedNames ingests a folder with a skipped file whose name is markup.
func TestRAGSourcesEscapesSkippedNames(t *testing.T) {
	a := newTestApp(t)
	admin := a.login("ada", "admin")
	dir := t.TempDir()
	evil := `<img src=x onerror=alert(1)>.md`
	if err := os.WriteFile(filepath.Join(dir, evil), []byte("# Bad\n\n\xff\xfe not text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok.md"), []byte("# Spawning\n\nSpawn a task with `tokio::spawn`.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	final := ingestAndWait(t, admin, "tokio", dir)
	if final.Written != 1 || final.Skipped != 1 {
		t.Fatalf("final %+v", final)
	}
	res := admin.get("/rag/sources")
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "<img src=x") {
		t.Fatal("the skipped file's name reached the page as markup")
	}
	doc := parseBody(t, string(raw))
	if doc.Find("img").Length() != 0 {
		t.Error("an <img> element is on the page")
	}
	skip := sourceRow(t, doc, "tokio").Find(`[data-testid="rag-skip"]`)
	if skip.Find("code").Text() != evil || !strings.Contains(skip.Text(), "not UTF-8") {
		t.Errorf("skip shown as %q", skip.Text())
	}
}

// TestRAGSourcesDefaultFolder prefills a rustup source's folder with the toolchain's docs folder
// when there is one, and leaves the Markdown source's empty.
func TestRAGSourcesDefaultFolder(t *testing.T) {
	rustup := t.TempDir()
	html := filepath.Join(rustup, "toolchains", "stable-x86_64-unknown-linux-gnu", "share", "doc", "rust", "html")
	if err := os.MkdirAll(filepath.Join(html, "book"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RUSTUP_HOME", rustup)
	a := newTestApp(t)
	doc := a.login("ada", "admin").page("/rag/sources")
	if v, _ := sourceRow(t, doc, "book").Find(`[data-testid="rag-folder"]`).Attr("value"); v != filepath.Join(html, "book") {
		t.Errorf("book folder %q", v)
	}
	if v, _ := sourceRow(t, doc, "nomicon").Find(`[data-testid="rag-folder"]`).Attr("value"); v != "" {
		t.Errorf("nomicon (not in the toolchain's docs) folder %q", v)
	}
	if v, _ := sourceRow(t, doc, "tokio").Find(`[data-testid="rag-folder"]`).Attr("value"); v != "" {
		t.Errorf("tokio folder %q", v)
	}
}

// hashEmbedder makes a unit vector from a text's FNV hash: the same text, the same vector.
type hashEmbedder struct{}

func (hashEmbedder) Embed(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, text := range texts {
		h := fnv.New64a()
		h.Write([]byte(text))
		v := make([]float32, 8)
		x := h.Sum64()
		var norm float64
		for j := range v {
			v[j] = float32(int64(x>>(8*j))&0xff) + 1
			norm += float64(v[j]) * float64(v[j])
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(norm))
		}
		out[i] = v
	}
	return out, nil
}

// TestRAGSourcesEmbedMissing embeds an ingested source's chunks from the page and checks the
// vector counts before and after.
func TestRAGSourcesEmbedMissing(t *testing.T) {
	a := newTestApp(t)
	srv := httptest.NewServer(New(slog.New(slog.NewTextHandler(io.Discard, nil)), a.store, a.runner, a.hub, a.md,
		Config{DataDir: a.dataDir, Embedder: hashEmbedder{}, EmbedderModel: "hash-8"}))
	t.Cleanup(srv.Close)
	a.srv = srv
	admin := a.login("ada", "admin")
	ingestAndWait(t, admin, "book", ragTestdata(t, "html"))
	chunks := sourceStats(t, a.store, "book").Chunks

	doc := admin.page("/rag/sources")
	if got := doc.Find(`[data-testid="rag-missing"]`).Text(); got != strconv.Itoa(chunks) {
		t.Errorf("missing %q, want %d", got, chunks)
	}
	if got := sourceRow(t, doc, "book").Find(`[data-testid="rag-vectors"]`).Text(); got != "0 / "+strconv.Itoa(chunks) {
		t.Errorf("vectors before %q", got)
	}
	res := admin.postForm("/rag/embed", url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("embed: status %d", res.StatusCode)
	}
	states := waitRAGTask(t, admin)
	final := states[len(states)-1]
	if final.Kind != ragTaskEmbed || final.Done != chunks || final.Total != chunks || final.Summary != strconv.Itoa(chunks)+" chunks embedded" {
		t.Errorf("embed final %+v", final)
	}
	doc = admin.page("/rag/sources")
	if got := sourceRow(t, doc, "book").Find(`[data-testid="rag-vectors"]`).Text(); got != strconv.Itoa(chunks)+" / "+strconv.Itoa(chunks) {
		t.Errorf("vectors after %q", got)
	}
	if got := doc.Find(`[data-testid="rag-missing"]`).Text(); got != "0" {
		t.Errorf("missing after %q", got)
	}
	if doc.Find(`[data-testid="rag-embed"] [data-testid="rag-task"]`).Length() != 1 {
		t.Error("the embedding task is not shown in the embedding box")
	}
}

// TestRAGSourcesIngestErrorIsReported checks an ingest that stops with an error (its report is
// stored with the error and the folder, and shown) and one that panics (the task ends, the server
// goes on).
func TestRAGSourcesIngestErrorIsReported(t *testing.T) {
	a := newTestApp(t)
	fail := true
	g, h := newRAGTaskServer(a, func(ctx context.Context, st rag.Store, src rag.Source, dir string) (rag.Report, error) {
		if fail {
			return rag.Report{Source: src.Name, New: 1, Chunks: 3}, errors.New("read sub/page.html: input/output error")
		}
		panic("parser bug")
	})
	wait := func() ragTaskState {
		g.mu.Lock()
		done := g.cur.done
		g.mu.Unlock()
		<-done
		return g.snapshot()
	}
	html := ragTestdata(t, "html")
	if rec := serve(h, http.MethodPost, "/rag/sources/book/ingest", url.Values{"folder": {html}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("ingest: %d %s", rec.Code, rec.Body)
	}
	folder := filepath.Join(html, "book")
	want := "ingest book from " + folder + ": read sub/page.html: input/output error"
	if st := wait(); st.Running || st.Error != want {
		t.Errorf("state %+v, want error %q", st, want)
	}
	reports, err := a.store.RAGIngestReports(t.Context())
	if err != nil || len(reports) != 1 || reports[0].Error != want || reports[0].New != 1 || reports[0].Folder != folder {
		t.Fatalf("reports %+v, %v", reports, err)
	}
	doc, err := goquery.NewDocumentFromReader(serve(h, http.MethodGet, "/rag/sources", nil).Body)
	if err != nil {
		t.Fatal(err)
	}
	if msg := sourceRow(t, doc, "book").Find(`[data-testid="rag-report-error"]`).Text(); msg != "Stopped: "+want {
		t.Errorf("report error shown as %q", msg)
	}

	fail = false
	if rec := serve(h, http.MethodPost, "/rag/sources/error-codes/ingest", url.Values{"folder": {html}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("second ingest: %d %s", rec.Code, rec.Body)
	}
	if st := wait(); st.Running || !strings.Contains(st.Error, "internal error") {
		t.Errorf("after a panic: %+v", st)
	}
	if rec := serve(h, http.MethodGet, "/rag/sources", nil); rec.Code != http.StatusOK {
		t.Errorf("the page after a panic: %d", rec.Code)
	}
}
