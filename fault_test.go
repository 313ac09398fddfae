package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"rustexpert/inference/openaitest"
	"rustexpert/store"
)

// TestMain lets the test binary act as the real server process when asked to, so the fault test
// can SIGKILL a server without building a second binary.
func TestMain(m *testing.M) {
	if args := os.Getenv("RUSTEXPERT_TEST_RUN"); args != "" {
		if err := run(context.Background(), strings.Fields(args), os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// server is the app running as a child process.
type server struct {
	cmd  *exec.Cmd
	base string

	mu  sync.Mutex
	log strings.Builder // the server's stderr so far
}

// logText returns what the server logged so far.
func (s *server) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func startServer(t *testing.T, dataDir string) *server {
	t.Helper()
	return startServerWith(t, dataDir, nil)
}

// startServerWith starts the app as a child process on a free port with the environment plus
// env (KEY=value), which overrides the test's own.
func startServerWith(t *testing.T, dataDir string, env []string) *server {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	serve := "serve --addr 127.0.0.1:0 --workers 2 --data " + dataDir
	cmd.Env = append(append(os.Environ(), "RUSTEXPERT_TEST_RUN="+serve), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	srv := &server{cmd: cmd}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		re := regexp.MustCompile(`url=(http://\S+)`)
		for sc.Scan() {
			srv.mu.Lock()
			srv.log.WriteString(sc.Text() + "\n")
			srv.mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case srv.base = <-found:
		return srv
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
		return nil
	}
}

func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
}

// slowModel is an OpenAI-protocol test stand-in that takes a while per answer, so a job is still
// running when the server is killed.
func slowModel(t *testing.T) *httptest.Server {
	h := openaitest.Handler(openaitest.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(40 * time.Millisecond)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// cli runs a subcommand in-process.
func cli(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	var out strings.Builder
	getenv := func(k string) string { return env[k] }
	if err := run(t.Context(), args, getenv, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatalf("rustexpert %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

type browser struct {
	t    *testing.T
	http *http.Client
	base string
	csrf string
}

func login(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, base: base, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
	res := b.post("/login", url.Values{"name": {"alice"}, "password": {"correct horse battery"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	body := b.get("/prompts")
	m := regexp.MustCompile(`data-csrf="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token")
	}
	b.csrf = m[1]
	return b
}

func (b *browser) get(path string) string {
	res, err := b.http.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return string(body)
}

func (b *browser) post(path string, form url.Values) *http.Response {
	if b.csrf != "" {
		form.Set("csrf", b.csrf)
	}
	res, err := b.http.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// TestSIGKILLLosesNoLabelAndJobResumes kills the real server process while a generation job runs
// and labels are being submitted, then restarts it: every label that was answered is there, and
// the job finishes with exactly one answer per prompt and slot.
func TestSIGKILLLosesNoLabelAndJobResumes(t *testing.T) {
	dir := t.TempDir()
	model := slowModel(t)
	env := map[string]string{"RUSTEXPERT_DATA": dir, "RUSTEXPERT_PASSWORD": "correct horse battery"}
	cli(t, env, "users", "add", "--admin", "alice")
	cli(t, env, "prompts", "import", filepath.Join("data", "prompts.csv"))
	cli(t, env, "models", "add", "slow", "--endpoint", model.URL+"/v1")

	srv := startServer(t, dir)
	b := login(t, srv.base)
	form := url.Values{"model": {"1"}, "n": {"2"}}
	for _, k := range []string{"1", "2"} {
		form.Set("temperature_"+k, "0."+k)
		form.Set("top_p_"+k, "0.95")
		form.Set("max_tokens_"+k, "256")
	}
	if res := b.post("/generate", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create job: %d", res.StatusCode)
	}

	// Label comparisons as they become ready, from several browsers at once, until the kill.
	var mu sync.Mutex
	var acknowledged []store.Item
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			labelUntil(stop, b, func(it store.Item) {
				mu.Lock()
				acknowledged = append(acknowledged, it)
				mu.Unlock()
			})
		}()
	}
	time.Sleep(3 * time.Second)
	srv.kill(t)
	close(stop)
	wg.Wait()
	if len(acknowledged) == 0 {
		t.Fatal("no label was submitted before the kill")
	}

	st, err := store.Open(t.Context(), filepath.Join(dir, "rustexpert.db"))
	if err != nil {
		t.Fatal(err)
	}
	job, _ := st.Job(t.Context(), 1)
	st.Close()
	if job.Status != store.JobRunning || job.Done >= job.Total {
		t.Fatalf("the kill did not interrupt the job: %s %d/%d", job.Status, job.Done, job.Total)
	}
	doneAtKill := job.Done

	srv = startServer(t, dir)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && job.Status != store.JobSucceeded {
		time.Sleep(300 * time.Millisecond)
		st, err := store.Open(t.Context(), filepath.Join(dir, "rustexpert.db"))
		if err != nil {
			t.Fatal(err)
		}
		job, _ = st.Job(t.Context(), 1)
		st.Close()
	}
	if job.Status != store.JobSucceeded || job.Done != job.Total {
		t.Fatalf("job after restart: %s %d/%d", job.Status, job.Done, job.Total)
	}

	st, err = store.Open(t.Context(), filepath.Join(dir, "rustexpert.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	labels, err := st.ListLabels(t.Context(), store.LabelFilter{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[store.Item]bool{}
	for _, l := range labels {
		stored[l.Item] = true
	}
	for _, it := range acknowledged {
		if !stored[it] {
			t.Errorf("label of %+v was acknowledged but is lost", it)
		}
	}
	tasks, err := st.PendingTasks(t.Context(), job)
	if err != nil || len(tasks) != 0 {
		t.Fatalf("%d answers missing after the resume (%v)", len(tasks), err)
	}
	t.Logf("%d comparisons labelled before the kill, all stored; job resumed at %d of %d answers", len(stored), doneAtKill, job.Total)
}

// labelUntil labels the next comparison of the queue, again and again, until stop is closed;
// ack is called for each submission the server answered with its redirect.
func labelUntil(stop <-chan struct{}, b *browser, ack func(store.Item)) {
	re := regexp.MustCompile(`^/annotate/(\d+)/(\d+)$`)
	ids := regexp.MustCompile(`name="best" value="(\d+)"`)
	for {
		select {
		case <-stop:
			return
		default:
		}
		res, err := b.http.Get(b.base + "/annotate")
		if err != nil {
			return
		}
		res.Body.Close()
		m := re.FindStringSubmatch(res.Header.Get("Location"))
		if m == nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		page, err := b.http.Get(b.base + m[0])
		if err != nil {
			return
		}
		body, _ := io.ReadAll(page.Body)
		page.Body.Close()
		answers := ids.FindAllStringSubmatch(string(body), -1)
		if len(answers) < 2 {
			continue
		}
		res, err = b.http.PostForm(b.base+m[0], url.Values{"csrf": {b.csrf}, "verdict": {"pair"}, "best": {answers[0][1]}})
		if err != nil {
			return // killed mid-request: not acknowledged
		}
		res.Body.Close()
		if res.StatusCode == http.StatusSeeOther {
			job, _ := strconv.ParseInt(m[1], 10, 64)
			prompt, _ := strconv.ParseInt(m[2], 10, 64)
			ack(store.Item{JobID: job, PromptID: prompt})
		}
	}
}
