package main

import (
	"bytes"
	"database/sql"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"rustexpert/inference/openaitest"
	"rustexpert/store"
)

// TestDiskFullGivesClearErrorsAndLosesNothing fills the server's disk while it runs: the file
// size limit of the server process (RLIMIT_FSIZE) drops to 0, so every write SQLite or the app
// makes to a file fails the way a full disk fails it. Importing prompts,
// submitting a label, writing a dataset snapshot and creating a job then answer 507 with a
// message naming the cause; a job whose answers come back meanwhile cannot store them; no
// snapshot file is left behind. When the space returns the same server writes again, and after a
// restart everything committed before is there and the job resumes to the end.
func TestDiskFullGivesClearErrorsAndLosesNothing(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"RUSTEXPERT_DATA": dir, "RUSTEXPERT_PASSWORD": "correct horse battery", "RUSTEXPERT_MODELS": t.TempDir()}
	cli(t, env, "users", "add", "--admin", "alice")
	cli(t, env, "prompts", "import", writePromptSheet(t, "p", 6))
	fast := openaitest.NewServer(openaitest.Options{})
	t.Cleanup(fast.Close)
	gated, gate, requests := gatedModel(t, 4)
	cli(t, env, "models", "add", "fast", "--endpoint", fast.URL())
	cli(t, env, "models", "add", "gated", "--endpoint", gated.URL+"/v1")
	serverEnv := []string{"RUSTEXPERT_MODELS=" + env["RUSTEXPERT_MODELS"]}

	srv := startServerWith(t, dir, serverEnv)
	b := login(t, srv.base)
	createJob(t, b, "1", http.StatusSeeOther)
	waitJob(t, dir, 1, store.JobSucceeded)
	for range 4 {
		if _, status := labelNext(b); status != http.StatusSeeOther {
			t.Fatalf("label: %d", status)
		}
	}
	if res := b.post("/datasets", url.Values{"kind": {"dpo"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("snapshot: %d", res.StatusCode)
	}
	// Job 2 stores 4 answers, then its model holds the next ones until the disk is full.
	createJob(t, b, "2", http.StatusSeeOther)
	for deadline := time.Now().Add(10 * time.Second); requests.Load() < 6 || countRows(t, dir, "responses") < 16; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("job 2 did not get going: %d requests, %d answers", requests.Load(), countRows(t, dir, "responses"))
		}
	}
	before := tableCounts(t, dir)
	files := datasetFiles(t, dir)
	answersBefore := jobAnswers(t, dir, 2)
	if len(files) != 1 || before["labels"] != 4 || before["prompts"] != 6 || before["responses"] != 16 {
		t.Fatalf("before the disk fills: %v, files %v", before, files)
	}

	restore := fillDisk(t, srv)
	close(gate) // job 2's answers come back now and cannot be stored
	waitLog(t, srv, "finish job")
	if log := srv.logText(); !strings.Contains(log, "save answer") || !strings.Contains(log, "disk full") {
		t.Errorf("the server log does not tell why answers were not stored:\n%s", log)
	}
	check := func(what string, res *http.Response, body string) {
		t.Helper()
		if res.StatusCode != http.StatusInsufficientStorage || !strings.Contains(body, "disk is full") || !strings.Contains(body, "not saved") {
			t.Errorf("%s on a full disk: %d %q", what, res.StatusCode, firstLine(body))
		}
	}
	res, body := b.upload("/prompts/import", "more.csv", readFile(t, writePromptSheet(t, "q", 3)))
	check("prompt import", res, body)
	item, status := labelNext(b)
	if status != http.StatusInsufficientStorage {
		t.Errorf("label on a full disk: %d", status)
	}
	res, body = b.postBody("/datasets", url.Values{"kind": {"dpo"}})
	check("snapshot", res, body)
	res, body = b.postBody("/generate", jobForm("1"))
	check("new job", res, body)
	if got := datasetFiles(t, dir); strings.Join(got, " ") != strings.Join(files, " ") {
		t.Errorf("dataset files after a snapshot on a full disk: %v, want %v", got, files)
	}
	if page := b.get("/prompts"); !strings.Contains(page, "p 1:") {
		t.Errorf("the prompts page does not read on a full disk")
	}

	restore()
	if got, status := labelNext(b); status != http.StatusSeeOther || got != item {
		t.Fatalf("label once the space returned: %d for %v (the full disk refused %v)", status, got, item)
	}
	srv.kill(t)
	srv = startServerWith(t, dir, serverEnv)
	waitJob(t, dir, 2, store.JobSucceeded)
	after := tableCounts(t, dir)
	want := map[string]int{"prompts": 6, "labels": 5, "datasets": 1, "responses": 24, "generation_jobs": 2}
	for table, n := range want {
		if after[table] != n {
			t.Errorf("%s after the restart: %d, want %d", table, after[table], n)
		}
	}
	got := jobAnswers(t, dir, 2)
	for key, text := range answersBefore {
		if got[key] != text {
			t.Errorf("job 2 answer %s changed or vanished: %q, was %q", key, got[key], text)
		}
	}
	if len(got) != 12 {
		t.Errorf("job 2 has %d answers after the resume, want 12", len(got))
	}
	if got := datasetFiles(t, dir); strings.Join(got, " ") != strings.Join(files, " ") {
		t.Errorf("dataset files after the restart: %v, want %v", got, files)
	}
}

// fillDisk makes the server's disk full: its soft RLIMIT_FSIZE drops to 0, so every write it
// makes to a regular file fails with EFBIG (Go ignores SIGXFSZ), as writes fail on a full disk.
// restore puts the old limit back.
func fillDisk(t *testing.T, srv *server) (restore func()) {
	t.Helper()
	pid := srv.cmd.Process.Pid
	old := fileSizeLimit(t, pid, nil)
	full := syscall.Rlimit{Cur: 0, Max: old.Max}
	fileSizeLimit(t, pid, &full)
	return func() { fileSizeLimit(t, pid, &old) }
}

// fileSizeLimit sets the RLIMIT_FSIZE of process pid to set when not nil, and returns the
// limit it had (prlimit(2); the syscall package has no wrapper for another process).
func fileSizeLimit(t *testing.T, pid int, set *syscall.Rlimit) syscall.Rlimit {
	t.Helper()
	var old syscall.Rlimit
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_FSIZE,
		uintptr(unsafe.Pointer(set)), uintptr(unsafe.Pointer(&old)), 0, 0); errno != 0 {
		t.Fatalf("prlimit %d RLIMIT_FSIZE: %v", pid, errno)
	}
	return old
}

// gatedModel is an OpenAI-protocol test stand-in that answers the first free requests at once
// and holds the others until gate is closed; requests counts what arrived.
func gatedModel(t *testing.T, free int64) (*httptest.Server, chan struct{}, *atomic.Int64) {
	h := openaitest.Handler(openaitest.Options{})
	gate := make(chan struct{})
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/chat/completions") && requests.Add(1) > free {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, gate, &requests
}

// writePromptSheet writes a CSV of n prompts "<prefix> i: …" and returns its path.
func writePromptSheet(t *testing.T, prefix string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("text,category,tags,split\n")
	for i := 1; i <= n; i++ {
		b.WriteString(prefix + " " + string(rune('0'+i)) + ": why does this closure need `move`?,closures,,train\n")
	}
	path := filepath.Join(t.TempDir(), prefix+".csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jobForm(model string) url.Values {
	form := url.Values{"model": {model}, "n": {"2"}}
	for _, k := range []string{"1", "2"} {
		form.Set("temperature_"+k, "0."+k)
		form.Set("top_p_"+k, "0.95")
		form.Set("max_tokens_"+k, "64")
	}
	return form
}

func createJob(t *testing.T, b *browser, model string, want int) {
	t.Helper()
	if res := b.post("/generate", jobForm(model)); res.StatusCode != want {
		t.Fatalf("create a job of model %s: %d, want %d", model, res.StatusCode, want)
	}
}

// waitJob polls the database until job id has status (at most 20 s).
func waitJob(t *testing.T, dir string, id int64, status string) store.Job {
	t.Helper()
	var job store.Job
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		withStore(t, dir, func(st *store.Store) { job, _ = st.Job(t.Context(), id) })
		if job.Status == status {
			return job
		}
	}
	t.Fatalf("job %d: %s %d/%d, want %s", id, job.Status, job.Done, job.Total, status)
	return job
}

// waitLog waits until the server logged text (at most 20 s).
func waitLog(t *testing.T, srv *server, text string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(srv.logText(), text); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server never logged %q:\n%s", text, srv.logText())
		}
	}
}

// labelNext labels the next comparison of the queue with its first answer as the better one
// and returns the comparison and the submission's status (0 when the queue is empty).
func labelNext(b *browser) (store.Item, int) {
	b.t.Helper()
	res, err := b.http.Get(b.base + "/annotate")
	if err != nil {
		b.t.Fatal(err)
	}
	res.Body.Close()
	m := regexp.MustCompile(`^/annotate/(\d+)/(\d+)$`).FindStringSubmatch(res.Header.Get("Location"))
	if m == nil {
		return store.Item{}, 0
	}
	answers := regexp.MustCompile(`name="best" value="(\d+)"`).FindAllStringSubmatch(b.get(m[0]), -1)
	if len(answers) < 2 {
		b.t.Fatalf("%s shows %d answers", m[0], len(answers))
	}
	res, err = b.http.PostForm(b.base+m[0], url.Values{"csrf": {b.csrf}, "verdict": {"pair"}, "best": {answers[0][1]}})
	if err != nil {
		b.t.Fatal(err)
	}
	res.Body.Close()
	job, _ := strconv.ParseInt(m[1], 10, 64)
	prompt, _ := strconv.ParseInt(m[2], 10, 64)
	return store.Item{JobID: job, PromptID: prompt}, res.StatusCode
}

// postBody posts a form and returns the response with its body.
func (b *browser) postBody(path string, form url.Values) (*http.Response, string) {
	form.Set("csrf", b.csrf)
	res, err := b.http.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// upload posts a file as the form field "file", as the import form does.
func (b *browser) upload(path, name string, content []byte) (*http.Response, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", b.csrf)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// tableCounts counts the rows of the tables this test changes, read beside the server.
func tableCounts(t *testing.T, dir string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, table := range []string{"prompts", "labels", "datasets", "responses", "generation_jobs"} {
		counts[table] = countRows(t, dir, table)
	}
	return counts
}

func countRows(t *testing.T, dir, table string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "rustexpert.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// jobAnswers maps "prompt/slot" to the answer text of every stored answer of a job.
func jobAnswers(t *testing.T, dir string, job int64) map[string]string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "rustexpert.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT prompt_id || '/' || slot, text FROM responses WHERE job_id = ?`, job)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	answers := map[string]string{}
	for rows.Next() {
		var key, text string
		if err := rows.Scan(&key, &text); err != nil {
			t.Fatal(err)
		}
		answers[key] = text
	}
	return answers
}

// datasetFiles lists data/datasets, temporary files included.
func datasetFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "datasets"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
