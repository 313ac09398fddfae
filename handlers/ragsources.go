package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"

	"rustexpert/rag"
	"rustexpert/rag/cratedocs"
	"rustexpert/store"
	"rustexpert/web"
)

// ragTaskTopic is the live topic of the docs sources page's background tasks.
const ragTaskTopic = "rag:tasks"

// Kinds of background task of the docs sources page.
const (
	ragTaskIngest = "ingest"
	ragTaskEmbed  = "embed"
)

// ragPublishEvery is the least time between two progress messages of a task; the state the page
// and a new websocket read follows every file.
const ragPublishEvery = 100 * time.Millisecond

// ragTaskState is a background task's progress as the page and the websocket show it.
type ragTaskState struct {
	Kind    string `json:"kind"`   // ingest or embed ("" when there has been no task)
	Source  string `json:"source"` // the source ingested
	Folder  string `json:"folder"`
	By      string `json:"by"`
	Running bool   `json:"running"`
	Done    int    `json:"done"` // files handled, or chunks embedded
	Total   int    `json:"total"`
	Written int    `json:"written"` // documents stored (new and changed)
	Chunks  int    `json:"chunks"`
	Skipped int    `json:"skipped"`
	File    string `json:"file"`              // the file just handled
	Summary string `json:"summary,omitempty"` // what the finished task did, in one line
	Error   string `json:"error,omitempty"`   // why it stopped
}

// key names the task's place on the page: its source's row, or the embedding box.
func (t ragTaskState) key() string {
	if t.Kind == ragTaskEmbed {
		return ragTaskEmbed
	}
	return t.Source
}

// ragTask is a running or finished background task.
type ragTask struct {
	state     ragTaskState
	started   time.Time
	published time.Time
	done      chan struct{} // closed when the task has ended and its report is stored
}

// ragTasks runs the docs sources page's background tasks (an ingest of one source, or embedding
// the chunks without a vector), one at a time per server, publishes their progress on the live
// hub and keeps the running or last one for the page.
type ragTasks struct {
	s      *Server
	ingest func(ctx context.Context, st rag.Store, src rag.Source, dir string) (rag.Report, error)
	getenv func(string) string // finds rustup's docs (RUSTUP_HOME, HOME)

	mu  sync.Mutex
	cur *ragTask
}

func newRAGTasks(s *Server) *ragTasks {
	return &ragTasks{s: s, getenv: os.Getenv, ingest: func(ctx context.Context, st rag.Store, src rag.Source, dir string) (rag.Report, error) {
		return rag.Ingest(ctx, st, cratedocs.Attach(src), dir, rag.DefaultChunkOptions)
	}}
}

// handlePage shows the sources table to everyone and the forms to admins.
func (g *ragTasks) handlePage(w http.ResponseWriter, r *http.Request) {
	vm, err := g.page(r)
	if err != nil {
		g.s.error(w, r, err)
		return
	}
	g.s.render(w, r, http.StatusOK, web.RAGSourcesView(vm))
}

// handleIngest starts an ingest of the source from the form's folder in the background and sends
// the browser back to the page, which follows its progress. The first ingest and a re-ingest are
// the same call: only new and changed documents are written. A bad folder or a running task is
// said in the source's row.
func (g *ragTasks) handleIngest(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	src, ok := rag.SourceByName(name)
	if !ok {
		g.s.error(w, r, fmt.Errorf("%w: no documentation source %q", store.ErrNotFound, name))
		return
	}
	typed := r.FormValue("folder")
	st, err := g.ingestStore()
	if err != nil {
		g.refuse(w, r, http.StatusConflict, name, typed, err)
		return
	}
	folder, err := ingestFolder(src, typed)
	if err != nil {
		g.refuse(w, r, http.StatusUnprocessableEntity, name, typed, err)
		return
	}
	u := userFrom(r)
	task, err := g.begin(ragTaskState{Kind: ragTaskIngest, Source: src.Name, Folder: folder, By: u.Name})
	if err != nil {
		g.refuse(w, r, http.StatusConflict, name, typed, err)
		return
	}
	ctx := store.WithActor(context.Background(), store.Actor{UserID: u.ID, Name: u.Name})
	go g.runIngest(ctx, task, st, src, folder)
	http.Redirect(w, r, "/rag/sources", http.StatusSeeOther)
}

// handleEmbed starts embedding every chunk that has no vector from the loaded embedder.
func (g *ragTasks) handleEmbed(w http.ResponseWriter, r *http.Request) {
	embed, err := g.embedder()
	if err != nil {
		g.refuse(w, r, http.StatusConflict, "", "", err)
		return
	}
	u := userFrom(r)
	task, err := g.begin(ragTaskState{Kind: ragTaskEmbed, By: u.Name})
	if err != nil {
		g.refuse(w, r, http.StatusConflict, "", "", err)
		return
	}
	go g.runEmbed(context.Background(), task, embed)
	http.Redirect(w, r, "/rag/sources", http.StatusSeeOther)
}

// handleSocket streams the tasks' progress: the running or last task at once, then each update
// until a task ends, the client leaves or falls too far behind.
func (g *ragTasks) handleSocket(w http.ResponseWriter, r *http.Request) {
	// Subscribe before reading the snapshot so that no update falls between the two.
	updates, unsubscribe := g.s.hub.Subscribe(ragTaskTopic)
	defer unsubscribe()
	snap := g.snapshot()
	upgrader := websocket.Upgrader{CheckOrigin: sameHost}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client already.
	}
	defer conn.Close()
	first, _ := json.Marshal(snap)
	gone := readUntilGone(conn)
	reason := streamProgress(conn, first, !snap.Running, updates, gone, ragTaskFinished, "task finished")
	g.s.log.Debug("rag task websocket closed", slog.String("reason", reason))
}

func ragTaskFinished(msg []byte) bool {
	var t ragTaskState
	return json.Unmarshal(msg, &t) == nil && !t.Running
}

// refuse shows the page again with why a request was refused: in the source's row (keeping the
// folder typed), or above the table.
func (g *ragTasks) refuse(w http.ResponseWriter, r *http.Request, status int, source, typed string, cause error) {
	vm, err := g.page(r)
	if err != nil {
		g.s.error(w, r, err)
		return
	}
	msg := formMessage(cause)
	shown := false
	for i := range vm.Sources {
		if source != "" && vm.Sources[i].Name == source {
			vm.Sources[i].FormError, vm.Sources[i].Folder, vm.Sources[i].FolderNote = msg, typed, ""
			shown = true
		}
	}
	if !shown {
		vm.Error = msg
	}
	g.s.render(w, r, status, web.RAGSourcesView(vm))
}

// ingestStore is where ingests write: the database, or the Qdrant collection when it can take them.
func (g *ragTasks) ingestStore() (rag.Store, error) {
	if g.s.cfg.RAG == nil {
		return g.s.store, nil
	}
	if st, ok := g.s.cfg.RAG.(rag.Store); ok {
		return st, nil
	}
	return nil, fmt.Errorf("%w: this server's documentation index cannot be written from here; use rustexpert rag ingest", store.ErrConflict)
}

// embedFunc embeds the chunks without a vector, telling progress the running count and the total.
type embedFunc func(ctx context.Context, progress func(done, total int)) (int, error)

// embedder is how the loaded embedder fills the missing vectors of this server's index.
func (g *ragTasks) embedder() (embedFunc, error) {
	emb, model := g.s.cfg.Embedder, g.s.cfg.EmbedderModel
	if emb == nil {
		return nil, fmt.Errorf("%w: no embedder is loaded (rustexpert models fetch, then restart the server)", store.ErrConflict)
	}
	if g.s.cfg.RAG == nil {
		return func(ctx context.Context, progress func(done, total int)) (int, error) {
			return rag.EmbedMissing(ctx, g.s.store, emb, model, progress)
		}, nil
	}
	type embedMissing interface {
		EmbedMissing(ctx context.Context, emb rag.Embedder, model string, progress func(done, total int)) (int, error)
	}
	if idx, ok := g.s.cfg.RAG.(embedMissing); ok {
		return func(ctx context.Context, progress func(done, total int)) (int, error) {
			return idx.EmbedMissing(ctx, emb, model, progress)
		}, nil
	}
	return nil, fmt.Errorf("%w: this server's documentation index cannot be embedded from here; use rustexpert rag embed", store.ErrConflict)
}

// begin makes t the running task, unless one is running already (ErrConflict: busy).
func (g *ragTasks) begin(t ragTaskState) (*ragTask, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur := g.cur; cur != nil && cur.state.Running {
		what := "embedding the chunks"
		if cur.state.Kind == ragTaskIngest {
			what = "an ingest of " + cur.state.Source
		}
		return nil, fmt.Errorf("%w: busy: %s (started by %s at %s) is running; one runs at a time, try again when it is done",
			store.ErrConflict, what, cur.state.By, formatJobTime(cur.started))
	}
	t.Running = true
	g.cur = &ragTask{state: t, started: time.Now(), done: make(chan struct{})}
	g.publishLocked(g.cur)
	return g.cur, nil
}

// update changes a running task's state and publishes it, at most every ragPublishEvery unless
// force is set.
func (g *ragTasks) update(t *ragTask, change func(*ragTaskState), force bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	change(&t.state)
	if force || time.Since(t.published) >= ragPublishEvery {
		g.publishLocked(t)
	}
}

// finish ends a task with what it did, publishes that and lets its waiters go on.
func (g *ragTasks) finish(t *ragTask, summary string, err error) {
	g.mu.Lock()
	t.state.Running, t.state.Summary, t.state.File = false, summary, ""
	if err != nil {
		t.state.Error = err.Error()
	}
	g.publishLocked(t)
	g.mu.Unlock()
	close(t.done)
}

// publishLocked sends a task's state to the page's websockets; g.mu is held, so the messages of a
// task leave in the order of its states.
func (g *ragTasks) publishLocked(t *ragTask) {
	msg, err := json.Marshal(t.state)
	if err != nil {
		return
	}
	t.published = time.Now()
	g.s.hub.Publish(ragTaskTopic, msg)
}

// snapshot is the running or last task's state (zero when there has been none).
func (g *ragTasks) snapshot() ragTaskState {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur == nil {
		return ragTaskState{}
	}
	return g.cur.state
}

// current is the running or last task and when it started.
func (g *ragTasks) current() (ragTaskState, time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur == nil {
		return ragTaskState{}, time.Time{}, false
	}
	return g.cur.state, g.cur.started, true
}

// runIngest ingests src from folder, merges the full-text index when something changed, stores
// the report as the source's last ingest and ends the task.
func (g *ragTasks) runIngest(ctx context.Context, t *ragTask, st rag.Store, src rag.Source, folder string) {
	defer g.recoverTask(t)
	src.OnProgress = func(p rag.Progress) {
		g.update(t, func(s *ragTaskState) {
			s.Done, s.Total, s.Written, s.Chunks, s.Skipped, s.File = p.Done, p.Total, p.Written, p.Chunks, p.Skipped, p.File
		}, p.Done == 0 || p.Done == p.Total)
	}
	rep, err := g.ingest(ctx, st, src, folder)
	if err != nil {
		err = fmt.Errorf("ingest %s from %s: %w", src.Name, folder, err)
	}
	if err == nil && g.s.cfg.RAG == nil && rep.New+rep.Changed+rep.Removed > 0 {
		if oerr := g.s.store.OptimizeRAGIndex(ctx); oerr != nil {
			g.s.log.Warn("merge the docs index after an ingest", slog.String("source", src.Name), slog.Any("error", oerr))
		}
	}
	state, started, _ := g.current()
	saved := ingestReport(rep, state, started, time.Now(), err)
	if serr := g.s.store.SaveRAGIngestReport(ctx, saved); serr != nil {
		g.s.log.Error("store the ingest report", slog.String("source", src.Name), slog.Any("error", serr))
		err = errors.Join(err, serr)
	}
	if err != nil {
		g.s.log.Warn("ingest stopped", slog.String("source", src.Name), slog.String("folder", folder), slog.Any("error", err))
	}
	g.finish(t, reportSummary(saved), err)
}

// runEmbed embeds the missing vectors and ends the task.
func (g *ragTasks) runEmbed(ctx context.Context, t *ragTask, embed embedFunc) {
	defer g.recoverTask(t)
	n, err := embed(ctx, func(done, total int) {
		g.update(t, func(s *ragTaskState) { s.Done, s.Total = done, total }, done == total)
	})
	if err != nil {
		err = fmt.Errorf("embedding stopped after %d chunks: %w", n, err)
		g.s.log.Warn("embed missing vectors", slog.Any("error", err))
	}
	g.finish(t, fmt.Sprintf("%d chunks embedded", n), err)
}

// recoverTask ends a task whose goroutine panicked, so the server goes on and the page says so.
func (g *ragTasks) recoverTask(t *ragTask) {
	v := recover()
	if v == nil {
		return
	}
	g.s.log.Error("docs task panicked", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
	g.finish(t, "", errors.New("internal error; the server log has the details"))
}

// ingestReport is what is stored of an ingest.
func ingestReport(rep rag.Report, t ragTaskState, started, finished time.Time, err error) store.RAGIngestReport {
	out := store.RAGIngestReport{Source: t.Source, Folder: t.Folder, StartedBy: t.By, StartedAt: started, FinishedAt: finished,
		Files: t.Total, New: rep.New, Changed: rep.Changed, Unchanged: rep.Unchanged, Removed: rep.Removed, Chunks: rep.Chunks,
		Skipped: len(rep.Skipped)}
	for _, s := range rep.Skipped {
		out.Skips = append(out.Skips, store.RAGSkip{Path: s.Path, Reason: s.Reason})
	}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

// reportSummary is an ingest report in one line.
func reportSummary(r store.RAGIngestReport) string {
	return fmt.Sprintf("%d new, %d changed, %d unchanged (not touched), %d removed, %d skipped; %d chunks written",
		r.New, r.Changed, r.Unchanged, r.Removed, r.Skipped, r.Chunks)
}

// ingestFolder checks the folder typed for src: an absolute path to a readable folder holding at
// least one of the source's pages. A rustup docs folder (holding the source's own subfolder, e.g.
// html/book) stands for that subfolder, as on the command line. Every error names the folder.
func ingestFolder(src rag.Source, typed string) (string, error) {
	folder := strings.TrimSpace(typed)
	if folder == "" {
		return "", fmt.Errorf("%w: give the folder of %s on the server", store.ErrInvalid, src.Name)
	}
	if !filepath.IsAbs(folder) {
		return "", fmt.Errorf("%w: folder %s: give an absolute path (one that starts with /)", store.ErrInvalid, folder)
	}
	folder = filepath.Clean(folder)
	if src.Subdir != "" && isDir(filepath.Join(folder, src.Subdir)) {
		folder = filepath.Join(folder, src.Subdir)
	}
	info, err := os.Stat(folder)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%w: folder %s does not exist on the server", store.ErrInvalid, folder)
	case errors.Is(err, fs.ErrPermission):
		return "", fmt.Errorf("%w: folder %s cannot be read (permission denied)", store.ErrInvalid, folder)
	case err != nil:
		return "", fmt.Errorf("%w: folder %s cannot be read: %v", store.ErrInvalid, folder, err)
	case !info.IsDir():
		return "", fmt.Errorf("%w: %s is not a folder", store.ErrInvalid, folder)
	}
	found, err := rag.HasFile(folder, src.Match)
	if err != nil {
		return "", fmt.Errorf("%w: folder %s cannot be read: %v", store.ErrInvalid, folder, err)
	}
	if !found {
		return "", fmt.Errorf("%w: nothing to ingest in %s: it holds no %s of %s", store.ErrInvalid, folder, pagesOf(src), src.Name)
	}
	return folder, nil
}

// pagesOf names the files a source reads.
func pagesOf(src rag.Source) string {
	switch src.Format {
	case rag.Markdown:
		return "Markdown (.md) files"
	case rag.Rustdoc:
		return "rustdoc .html pages"
	case rag.CrateDocs:
		return "crate folders (NAME-VERSION/src/*.rs)"
	}
	return "mdBook .html pages"
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// page builds the sources page: every source ingest knows, then any other stored source.
func (g *ragTasks) page(r *http.Request) (web.RAGSourcesPage, error) {
	ctx := r.Context()
	vm := web.RAGSourcesPage{Nav: g.s.nav(r, "Docs")}
	if _, err := g.ingestStore(); err != nil {
		vm.Note = formMessage(err)
	}
	stats, err := g.s.ragSources(ctx)
	if err != nil {
		return vm, err
	}
	reports, err := g.s.store.RAGIngestReports(ctx)
	if err != nil {
		return vm, err
	}
	vectors, err := g.vectorCounts(ctx)
	if err != nil {
		return vm, err
	}
	task, started, hasTask := g.current()
	rows := ragRows(stats, reports, vectors, rag.RustDocsDir(g.getenv), rag.CrateRegistryDir(g.getenv))
	for i := range rows {
		if hasTask && task.Kind == ragTaskIngest && task.Source == rows[i].Name {
			rows[i].Task = taskView(task, started)
		}
	}
	vm.Sources = rows
	if vm.Embed, err = g.embedBox(ctx, task, started, hasTask); err != nil {
		return vm, err
	}
	return vm, nil
}

// vectorCounts counts each source's chunks with a vector from the server's embedder model (nil:
// not counted, for an index other than the database's or without a model name).
func (g *ragTasks) vectorCounts(ctx context.Context) (map[string]int, error) {
	if g.s.cfg.RAG != nil || g.s.cfg.EmbedderModel == "" {
		return nil, nil
	}
	return g.s.store.RAGSourceVectors(ctx, g.s.cfg.EmbedderModel)
}

// embedBox is the embedding part of the page; nil without an embedder.
func (g *ragTasks) embedBox(ctx context.Context, task ragTaskState, started time.Time, hasTask bool) (*web.RAGEmbedBox, error) {
	if _, err := g.embedder(); err != nil {
		return nil, nil
	}
	box := &web.RAGEmbedBox{Model: g.s.cfg.EmbedderModel}
	if g.s.cfg.RAG == nil {
		n, err := g.s.store.CountRAGPassagesToEmbed(ctx, g.s.cfg.EmbedderModel)
		if err != nil {
			return nil, fmt.Errorf("count the chunks to embed: %w", err)
		}
		box.Missing = fmt.Sprint(n)
	}
	if hasTask && task.Kind == ragTaskEmbed {
		box.Task = taskView(task, started)
	}
	return box, nil
}

// ragRows is one row per known source, then one per stored source ingest does not know.
func ragRows(stats []store.RAGSourceStats, reports []store.RAGIngestReport, vectors map[string]int, docsRoot, registry string) []web.RAGSourceRow {
	byName := map[string]store.RAGSourceStats{}
	for _, st := range stats {
		byName[st.Source] = st
	}
	last := map[string]store.RAGIngestReport{}
	for _, rep := range reports {
		last[rep.Source] = rep
	}
	var rows []web.RAGSourceRow
	known := map[string]bool{}
	for _, src := range rag.Sources {
		known[src.Name] = true
		row := web.RAGSourceRow{Name: src.Name, Label: src.Label, Licence: src.Licence, Known: true}
		row.Folder, row.FolderNote = folderFor(src, last, docsRoot)
		if _, ingested := last[src.Name]; !ingested && src.Format == rag.CrateDocs {
			row.Folder, row.FolderNote = registryFolder(registry)
		}
		rows = append(rows, fillRow(row, byName[src.Name], last, vectors))
	}
	for _, st := range stats {
		if !known[st.Source] {
			rows = append(rows, fillRow(web.RAGSourceRow{Name: st.Source}, st, last, vectors))
		}
	}
	return rows
}

// registryFolder is the crates source's folder before its first ingest, and where it comes from.
func registryFolder(registry string) (string, string) {
	if registry == "" {
		return "", "no crate registry found (Debian's librust-*-dev packages or ~/.cargo/registry/src): give a folder"
	}
	return registry, "the crate registry found"
}

// folderFor is the folder a source's form starts with, and where it comes from.
func folderFor(src rag.Source, last map[string]store.RAGIngestReport, docsRoot string) (string, string) {
	if rep, ok := last[src.Name]; ok {
		return rep.Folder, "the last ingest's folder"
	}
	if src.Subdir == "" {
		return "", "its Markdown folder"
	}
	if docsRoot != "" && isDir(filepath.Join(docsRoot, src.Subdir)) {
		return filepath.Join(docsRoot, src.Subdir), "found in the Rust toolchain's docs"
	}
	return "", "no Rust docs found (rustup component add rust-docs): give a folder"
}

func fillRow(row web.RAGSourceRow, st store.RAGSourceStats, last map[string]store.RAGIngestReport, vectors map[string]int) web.RAGSourceRow {
	row.Documents, row.Chunks = st.Documents, st.Chunks
	row.Vectors = "—"
	if vectors != nil {
		row.Vectors = fmt.Sprintf("%d / %d", vectors[row.Name], st.Chunks)
	}
	row.Button = "Ingest"
	if rep, ok := last[row.Name]; ok {
		row.Last = reportView(rep)
		row.Button = "Re-ingest"
	} else if st.Documents > 0 {
		row.Button = "Re-ingest"
	}
	return row
}

func reportView(rep store.RAGIngestReport) *web.RAGReport {
	v := &web.RAGReport{Folder: rep.Folder, By: rep.StartedBy, Finished: formatJobTime(rep.FinishedAt), Files: rep.Files,
		New: rep.New, Changed: rep.Changed, Unchanged: rep.Unchanged, Removed: rep.Removed, Chunks: rep.Chunks,
		Skipped: rep.Skipped, MoreSkips: rep.Skipped - len(rep.Skips), Error: rep.Error}
	if took := rep.FinishedAt.Sub(rep.StartedAt); took >= 0 && !rep.StartedAt.IsZero() {
		v.Took = took.Round(10 * time.Millisecond).String()
	}
	for _, s := range rep.Skips {
		v.Skips = append(v.Skips, web.RAGSkipRow{Path: s.Path, Reason: s.Reason})
	}
	return v
}

func taskView(t ragTaskState, started time.Time) *web.RAGTask {
	by := t.By
	if by != "" {
		by += " at " + formatJobTime(started)
	}
	return &web.RAGTask{Key: t.key(), Running: t.Running, Folder: t.Folder, By: by, Done: t.Done, Total: t.Total,
		Written: t.Written, Chunks: t.Chunks, Skipped: t.Skipped, File: t.File, Error: t.Error, Summary: t.Summary}
}
