package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"rustexpert/inference/openaitest"
	"rustexpert/store"
)

// pageDeadline is how long a page may take while a model hangs before the test calls the page
// blocked: a hang detector, not a speed measurement.
const pageDeadline = 5 * time.Second

// TestSlowOrDeadEndpointNeverBlocksPages registers a model whose server accepts connections
// and never answers and one whose port is closed. A chat column and a /v1 request against the
// hanging one wait while every page still answers, then end with an error once the configured
// timeout (RUSTEXPERT_MODEL_TIMEOUT, per attempt, retried 3 times) has passed. A generation job
// against the dead one fails with a message, and a job of a working model queued behind it
// finishes.
func TestSlowOrDeadEndpointNeverBlocksPages(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"RUSTEXPERT_DATA": dir, "RUSTEXPERT_PASSWORD": "correct horse battery", "RUSTEXPERT_MODELS": t.TempDir()}
	cli(t, env, "users", "add", "--admin", "alice")
	cli(t, env, "prompts", "import", writePromptSheet(t, "p", 3))
	fast := openaitest.NewServer(openaitest.Options{})
	t.Cleanup(fast.Close)
	cli(t, env, "models", "add", "hang", "--endpoint", "http://"+hangingEndpoint(t)+"/v1")
	cli(t, env, "models", "add", "dead", "--endpoint", "http://"+closedPort(t)+"/v1")
	cli(t, env, "models", "add", "fast", "--endpoint", fast.URL())
	key := strings.TrimSpace(cli(t, env, "keys", "add", "probe", "--user", "alice"))
	srv := startServerWith(t, dir, []string{"RUSTEXPERT_MODELS=" + env["RUSTEXPERT_MODELS"], "RUSTEXPERT_MODEL_TIMEOUT=400ms"})
	b := login(t, srv.base)

	res := b.post("/chat", url.Values{"model_0": {"1"}, "temperature_0": {"0.7"}, "max_tokens_0": {"64"}, "question": {"Why does this closure need move?"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("start a chat: %d", res.StatusCode)
	}
	began := time.Now()
	var wg sync.WaitGroup
	var chatBody, apiBody string
	var apiStatus int
	var chatTook time.Duration
	wg.Add(2)
	go func() {
		defer wg.Done()
		chatBody = b.get("/chat/1/stream/0")
		chatTook = time.Since(began)
	}()
	go func() {
		defer wg.Done()
		apiStatus, apiBody = apiChat(t, srv.base, key, "hang")
	}()
	hanging := make(chan struct{})
	go func() { wg.Wait(); close(hanging) }()
	rounds := 0
	for waiting := true; waiting; rounds++ {
		checkPages(t, b)
		select {
		case <-hanging:
			waiting = false
		case <-time.After(250 * time.Millisecond):
		}
	}
	if rounds < 3 {
		t.Errorf("the pages were checked %d times while the model hung, want several", rounds)
	}
	// Four attempts of 400 ms each, with backoff between them: at least 1.6 s.
	if chatTook < 1600*time.Millisecond || chatTook > 30*time.Second {
		t.Errorf("the chat answer against the hanging model ended after %s", chatTook)
	}
	if !strings.Contains(chatBody, "event: failed") || !strings.Contains(chatBody, "model hang") {
		t.Errorf("the chat stream against the hanging model ended without a failure: %q", chatBody)
	}
	if apiStatus != http.StatusBadGateway || !strings.Contains(apiBody, "timed out after 400ms") {
		t.Errorf("/v1 against the hanging model: %d %s", apiStatus, apiBody)
	}
	if log := srv.logText(); !strings.Contains(log, "timed out after 400ms") {
		t.Errorf("the server log does not say the model timed out:\n%s", log)
	}

	t.Logf("the chat answer against the hanging model failed after %s; the pages were checked %d times meanwhile", chatTook.Round(time.Millisecond), rounds)

	// A job of the dead model, then one of a working model behind it.
	jobsBegan := time.Now()
	createJob(t, b, "2", http.StatusSeeOther)
	createJob(t, b, "3", http.StatusSeeOther)
	for st := ""; st != store.JobFailed; {
		checkPages(t, b)
		withStore(t, dir, func(s *store.Store) {
			job, err := s.Job(t.Context(), 1)
			if err != nil {
				t.Fatal(err)
			}
			st = job.Status
		})
		if time.Since(began) > 60*time.Second {
			t.Fatalf("the job of the dead model did not fail: %s", st)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("the job of the dead model (6 answers) failed after %s", time.Since(jobsBegan).Round(time.Millisecond))
	var dead store.Job
	withStore(t, dir, func(s *store.Store) { dead, _ = s.Job(t.Context(), 1) })
	if dead.Done != 0 || dead.Errors != 6 || !strings.Contains(dead.LastError, "6 answers failed") || !strings.Contains(dead.LastError, "connection refused") {
		t.Errorf("job of the dead model: %s, %d done, %d errors, %q", dead.Status, dead.Done, dead.Errors, dead.LastError)
	}
	if log := srv.logText(); !strings.Contains(log, "connection refused") {
		t.Errorf("the server log does not say the model refused connections")
	}
	if job := waitJob(t, dir, 2, store.JobSucceeded); job.Done != 6 {
		t.Errorf("job of the working model: %d of 6 answers", job.Done)
	}
	if page := b.get("/generate/jobs/1"); !strings.Contains(page, "6 answers failed") || !strings.Contains(page, "connection refused") {
		t.Errorf("the dead model's job page does not say why it failed")
	}
}

// checkPages fetches the pages a user moves between and fails the test when one does not
// answer 200 within pageDeadline.
func checkPages(t *testing.T, b *browser) {
	t.Helper()
	client := *b.http
	client.Timeout = pageDeadline
	for _, path := range []string{"/healthz", "/prompts", "/chat", "/generate"} {
		res, err := client.Get(b.base + path)
		if err != nil {
			t.Fatalf("%s while a model hangs: %v", path, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s while a model hangs: %d", path, res.StatusCode)
		}
	}
}

// apiChat asks model a question through /v1/chat/completions and returns the status and body.
func apiChat(t *testing.T, base, key, model string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions",
		strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// hangingEndpoint is a server that accepts connections, reads what comes and never answers;
// it returns its address.
func hangingEndpoint(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, bufio.NewReader(c))
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// closedPort returns a local address nothing listens on (a port just released).
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
