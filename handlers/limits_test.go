package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"rustexpert/generation"
	"rustexpert/inference"
	"rustexpert/store"
)

// fakeClock is a time the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestRateLimiterRefillsPerMinute(t *testing.T) {
	clock := newFakeClock()
	l := newRateLimiter(60, clock.now) // one a second
	for i := range 60 {
		if _, ok := l.take("a", 1); !ok {
			t.Fatalf("request %d of a full minute's burst refused", i+1)
		}
	}
	wait, ok := l.take("a", 1)
	if ok || wait != time.Second {
		t.Fatalf("61st request: ok %v, wait %v; want refused, 1s", ok, wait)
	}
	if _, ok := l.take("b", 1); !ok {
		t.Fatal("another client was limited by the first one's requests")
	}
	clock.add(500 * time.Millisecond)
	if wait, ok := l.take("a", 1); ok || wait != 500*time.Millisecond {
		t.Fatalf("after half a second: ok %v, wait %v; want refused, 500ms", ok, wait)
	}
	clock.add(500 * time.Millisecond)
	if _, ok := l.take("a", 1); !ok {
		t.Fatal("after a second one request should pass again")
	}
	clock.add(time.Hour)
	for i := range 60 {
		if _, ok := l.take("a", 1); !ok {
			t.Fatalf("after an idle hour, request %d refused: the bucket must refill to its cap only", i+1)
		}
	}
	if _, ok := l.take("a", 1); ok {
		t.Fatal("an idle hour filled the bucket past a minute's worth")
	}
}

func TestRateLimiterChargesAfterTheFact(t *testing.T) {
	clock := newFakeClock()
	l := newRateLimiter(600, clock.now) // 10 tokens a second
	if _, ok := l.positive("a"); !ok {
		t.Fatal("a new client has budget")
	}
	l.charge("a", 1000) // an answer longer than the budget: 400 in debt
	wait, ok := l.positive("a")
	if ok || wait != time.Duration(401)*time.Second/10 {
		t.Fatalf("in debt: ok %v, wait %v; want refused, 40.1s", ok, wait)
	}
	clock.add(40 * time.Second)
	if _, ok := l.positive("a"); ok {
		t.Fatal("the debt is not paid after 40 s")
	}
	clock.add(200 * time.Millisecond)
	if _, ok := l.positive("a"); !ok {
		t.Fatal("the debt is paid after 40.2 s")
	}
}

func TestRateLimiterOffAndPruned(t *testing.T) {
	clock := newFakeClock()
	off := newRateLimiter(0, clock.now)
	for range 1000 {
		if _, ok := off.take("a", 1); !ok {
			t.Fatal("a limit of 0 is off")
		}
	}
	off.charge("a", 1e9)
	if _, ok := off.positive("a"); !ok {
		t.Fatal("a token limit of 0 is off")
	}
	l := newRateLimiter(10, clock.now)
	for i := range maxLimiterClients {
		l.take(fmt.Sprint(i), 1)
	}
	clock.add(time.Minute)
	l.take("new", 1)
	if len(l.buckets) != 1 {
		t.Fatalf("%d buckets after pruning, want only the new client's", len(l.buckets))
	}
}

// manualAfter is a queue timer the test fires.
type manualAfter struct {
	mu    sync.Mutex
	waits []time.Duration
	fire  chan time.Time
}

func (m *manualAfter) after(d time.Duration) <-chan time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.waits = append(m.waits, d)
	return m.fire
}

// waitUntil yields until cond holds (goroutines of the test reach a state; no timing involved).
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1_000_000 {
		if cond() {
			return
		}
		runtime.Gosched()
	}
	t.Fatal("condition never held")
}

func TestGenGateQueuesThenRefuses(t *testing.T) {
	timer := &manualAfter{fire: make(chan time.Time)}
	g := newGenGate(1, 1, 20*time.Second, timer.after)
	release, err := g.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	queued := make(chan error, 1)
	go func() {
		rel, err := g.acquire(t.Context())
		if err == nil {
			rel()
		}
		queued <- err
	}()
	waitUntil(t, func() bool { return len(g.queue) == 1 })
	if _, err := g.acquire(t.Context()); !errors.Is(err, errBusy) {
		t.Fatalf("with the slot taken and the queue full: %v, want errBusy", err)
	}
	release()
	if err := <-queued; err != nil {
		t.Fatalf("the queued generation: %v, want the freed slot", err)
	}

	// A queued generation whose wait ends is told the server is busy.
	release, _ = g.acquire(t.Context())
	go func() {
		_, err := g.acquire(t.Context())
		queued <- err
	}()
	waitUntil(t, func() bool { return len(g.queue) == 1 })
	timer.fire <- time.Time{}
	if err := <-queued; !errors.Is(err, errBusy) {
		t.Fatalf("after the wait: %v, want errBusy", err)
	}
	if len(g.queue) != 0 || timer.waits[len(timer.waits)-1] != 20*time.Second {
		t.Fatalf("queue %d after the timeout, waits %v", len(g.queue), timer.waits)
	}

	// A caller who leaves while queued gets its context's error and frees its place.
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		_, err := g.acquire(ctx)
		queued <- err
	}()
	waitUntil(t, func() bool { return len(g.queue) == 1 })
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller who left: %v", err)
	}
	release()
	if len(g.slots) != 0 || len(g.queue) != 0 {
		t.Fatalf("slots %d, queue %d after everything ended", len(g.slots), len(g.queue))
	}
}

func TestGenGateOff(t *testing.T) {
	g := newGenGate(0, 0, 0, nil)
	for range 100 {
		if _, err := g.acquire(t.Context()); err != nil {
			t.Fatal("a gate of 0 is off")
		}
	}
}

func TestLoginThrottleDoublesTheLockout(t *testing.T) {
	clock := newFakeClock()
	th := newLoginThrottle(3, time.Minute, clock.now)
	keys := loginKeys("Ada", "10.0.0.1")
	for range 3 {
		if _, locked := th.locked(keys...); locked {
			t.Fatal("locked within the free failures")
		}
		th.fail(keys...)
	}
	if _, locked := th.locked(keys...); locked {
		t.Fatal("three free failures locked the name")
	}
	th.fail(keys...) // the fourth: one minute
	if wait, locked := th.locked(loginKeys("ada", "10.9.9.9")...); !locked || wait != time.Minute {
		t.Fatalf("the name (any case, other IP): locked %v for %v, want 1m", locked, wait)
	}
	if wait, locked := th.locked(loginKeys("bob", "10.0.0.1")...); !locked || wait != time.Minute {
		t.Fatalf("the IP (other name): locked %v for %v, want 1m", locked, wait)
	}
	clock.add(time.Minute)
	th.fail(keys...) // the fifth: two minutes
	if wait, _ := th.locked(keys...); wait != 2*time.Minute {
		t.Fatalf("fifth failure: wait %v, want 2m", wait)
	}
	for range 20 {
		th.fail(keys...)
	}
	if wait, _ := th.locked(keys...); wait != maxLoginLockout {
		t.Fatalf("many failures: wait %v, want the cap %v", wait, maxLoginLockout)
	}
	th.succeed(keys[0])
	if wait, locked := th.locked(loginKeys("ada", "10.9.9.9")...); locked {
		t.Fatalf("the name is still locked for %v after its success", wait)
	}
}

// newLimitedApp serves the API app with the limits; genFor answers every model.
func newLimitedApp(t *testing.T, genFor generation.GeneratorFor, lim Limits) *apiApp {
	t.Helper()
	a := newAPIApp(t, genFor)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(New(log, a.store, a.runner, a.hub, a.md, Config{DataDir: a.dataDir, GeneratorFor: genFor, Limits: lim}))
	t.Cleanup(srv.Close)
	a.srv = srv
	return a
}

func TestRequestLimitAnswers429(t *testing.T) {
	clock := newFakeClock()
	a := newLimitedApp(t, func(store.Model) (inference.Generator, error) { return piecesGenerator{"ok"}, nil },
		Limits{RequestsPerMinute: 4, Clock: clock.now})
	ada := a.login("ada", store.RoleAnnotator) // POST /login and GET /prompts as one IP, then as user ada
	ada.page("/prompts")
	ada.page("/prompts")
	ada.page("/prompts")
	res := ada.get("/prompts")
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "15" {
		t.Fatalf("5th request of the user: status %d, Retry-After %q; want 429, 15", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if body := readAll(t, res); !strings.Contains(body, "too many requests; try again in 15 seconds") {
		t.Fatalf("429 page does not say when to retry: %s", body)
	}
	// API keys have budgets of their own, answered as OpenAI errors.
	for range 4 {
		if res := a.call(http.MethodGet, "/v1/models", a.key, ""); res.StatusCode != http.StatusOK {
			t.Fatalf("API key: status %d", res.StatusCode)
		}
	}
	wantAPIError(t, a.call(http.MethodGet, "/v1/models", a.key, ""), http.StatusTooManyRequests, "rate_limit_exceeded")
	clock.add(15 * time.Second)
	ada.page("/prompts")
}

func TestTokenBudgetIsChargedAfterGeneration(t *testing.T) {
	clock := newFakeClock()
	a := newLimitedApp(t, func(store.Model) (inference.Generator, error) {
		return piecesGenerator{"a", "b", "c", "d", "e", "f"}, nil // 6 tokens
	}, Limits{TokensPerMinute: 5, Clock: clock.now})
	body := `{"model":"v1","messages":[{"role":"user","content":"hi"}]}`
	if res := a.call(http.MethodPost, "/v1/chat/completions", a.key, body); res.StatusCode != http.StatusOK {
		t.Fatalf("first answer: status %d: %s", res.StatusCode, readAll(t, res))
	}
	res := a.call(http.MethodPost, "/v1/chat/completions", a.key, body)
	if res.Header.Get("Retry-After") != "24" {
		t.Fatalf("Retry-After %q, want 24 (1 token of debt + 1 at 5 a minute)", res.Header.Get("Retry-After"))
	}
	e := wantAPIError(t, res, http.StatusTooManyRequests, "rate_limit_exceeded")
	if !strings.Contains(e.Error.Message, "tokens") {
		t.Fatalf("message %q does not name the token budget", e.Error.Message)
	}
	// A chat column of a user is counted against the user.
	ada := a.login("ada", store.RoleAnnotator)
	m, _ := a.store.ModelByName(t.Context(), "v1")
	id := startChat(t, ada, "hello?", 64, m)
	if s := readColumnStream(t, ada.get(fmt.Sprintf("/chat/%d/stream/0", id))); s.text() != "abcdef" {
		t.Fatalf("chat answer %q", s.text())
	}
	ada.postForm(fmt.Sprintf("/chat/%d/turns", id), url.Values{"question": {"again?"}})
	res = ada.do(http.MethodGet, fmt.Sprintf("/chat/%d/stream/0", id), nil, http.Header{"Accept": {"text/event-stream"}})
	if ev := readBusyEvent(t, res); ev.Status != http.StatusTooManyRequests || !strings.Contains(ev.Message, "generated tokens") {
		t.Fatalf("second chat answer over the budget: %+v", ev)
	}
	clock.add(24 * time.Second)
	if res := a.call(http.MethodPost, "/v1/chat/completions", a.key, body); res.StatusCode != http.StatusOK {
		t.Fatalf("after the wait: status %d", res.StatusCode)
	}
}

// piecesGenerator sends its pieces (one token each), streaming or not.
type piecesGenerator []string

func (g piecesGenerator) Chat(_ context.Context, _ inference.Request, onDelta func(inference.Delta)) (inference.Result, error) {
	for _, p := range g {
		if onDelta != nil {
			onDelta(inference.Delta{Text: p})
		}
	}
	return inference.Result{Choices: []inference.Choice{{Text: strings.Join(g, ""), FinishReason: "stop"}},
		Usage: inference.Usage{CompletionTokens: len(g)}}, nil
}

// heldGenerator answers once release closes; started gets a value when a request begins.
type heldGenerator struct {
	started chan struct{}
	release chan struct{}
}

func (g heldGenerator) Chat(ctx context.Context, _ inference.Request, onDelta func(inference.Delta)) (inference.Result, error) {
	g.started <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return inference.Result{}, ctx.Err()
	}
	if onDelta != nil {
		onDelta(inference.Delta{Text: "done"})
	}
	return inference.Result{Choices: []inference.Choice{{Text: "done", FinishReason: "stop"}}, Usage: inference.Usage{CompletionTokens: 1}}, nil
}

func TestGenerationGateAnswersBusy(t *testing.T) {
	gen := heldGenerator{started: make(chan struct{}, 4), release: make(chan struct{})}
	a := newLimitedApp(t, func(store.Model) (inference.Generator, error) { return gen, nil }, Limits{Generations: 1})
	body := `{"model":"v1","messages":[{"role":"user","content":"hi"}]}`
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+a.key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- 0
			return
		}
		res.Body.Close()
		first <- res.StatusCode
	}()
	<-gen.started

	res := a.call(http.MethodPost, "/v1/chat/completions", a.key, body)
	if res.Header.Get("Retry-After") != "5" {
		t.Fatalf("busy answer: Retry-After %q, want 5", res.Header.Get("Retry-After"))
	}
	if e := wantAPIError(t, res, http.StatusServiceUnavailable, "server_busy"); !strings.Contains(e.Error.Message, "busy, try again in a few seconds") {
		t.Fatalf("busy message %q", e.Error.Message)
	}
	ada := a.login("ada", store.RoleAnnotator)
	m, _ := a.store.ModelByName(t.Context(), "v1")
	id := startChat(t, ada, "hello?", 64, m)
	// A stream is told in an event its EventSource can read (see public_test.go).
	res = ada.do(http.MethodGet, fmt.Sprintf("/chat/%d/stream/0", id), nil, http.Header{"Accept": {"text/event-stream"}})
	if ev := readBusyEvent(t, res); ev.Status != http.StatusServiceUnavailable || ev.RetryAfter != 5 {
		t.Fatalf("chat stream while busy: %+v", ev)
	}
	if turns := columnOf(t, a.testApp, id, 0); len(turns) != 1 {
		t.Fatalf("a busy column stored %d turns, want the question only", len(turns))
	}

	close(gen.release)
	if code := <-first; code != http.StatusOK {
		t.Fatalf("the generation holding the slot: status %d", code)
	}
	if s := readColumnStream(t, ada.get(fmt.Sprintf("/chat/%d/stream/0", id))); s.text() != "done" {
		t.Fatalf("after the slot was freed the column answered %q", s.text())
	}
}

func TestSecurityHeaders(t *testing.T) {
	app := newTestApp(t)
	for _, path := range []string{"/login", "/static/app.css", "/healthz"} {
		res := app.newClient().get(path)
		h := res.Header
		want := map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "same-origin",
			"X-Frame-Options":        "DENY",
		}
		for k, v := range want {
			if h.Get(k) != v {
				t.Errorf("%s: %s %q, want %q", path, k, h.Get(k), v)
			}
		}
		csp := h.Get("Content-Security-Policy")
		for _, part := range []string{"frame-ancestors 'none'", "script-src 'self'", "object-src 'none'"} {
			if !strings.Contains(csp, part) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, part)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline code: %q", path, csp)
		}
		if pp := h.Get("Permissions-Policy"); !strings.Contains(pp, "camera=()") || !strings.Contains(pp, "geolocation=()") {
			t.Errorf("%s: Permissions-Policy %q", path, pp)
		}
	}
}

// BenchmarkRateLimiterTake is the cost the request limit adds to every request (1,000 clients).
func BenchmarkRateLimiterTake(b *testing.B) {
	l := newRateLimiter(1_000_000_000, time.Now)
	clients := make([]string, 1000)
	for i := range clients {
		clients[i] = fmt.Sprint("user:", i)
	}
	for i := 0; b.Loop(); i++ {
		l.take(clients[i%len(clients)], 1)
	}
}
