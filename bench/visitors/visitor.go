package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Questions the visitors ask; the arena's ask for one sentence, since its answers may run to 512 tokens.
var (
	chatQuestions = []string{
		"What is a Rust crate?",
		"How do I read a file into a String?",
		"What does the ? operator do?",
		"Why can I not borrow a value mutably twice?",
		"What is the difference between String and &str?",
		"How do I iterate over a HashMap?",
		"When should I use Box<T>?",
		"What does #[derive(Debug)] do?",
	}
	arenaQuestions = []string{
		"In one sentence: what does Vec::push do?",
		"In one sentence: what is a lifetime in Rust?",
		"In one sentence: what is Option<T>?",
		"In one sentence: what does cargo build do?",
		"In one sentence: what is a trait?",
		"In one sentence: what does the move keyword do?",
	}
	votes = []string{"a", "b", "a", "b", "tie", "both_bad"}
)

const userAgent = "rustexpert-bench-visitors"

// runPhase runs n visitors until the duration ends and waits for their open streams. With probe
// set, /healthz is fetched every 100 ms meanwhile, as the baseline under the same load.
func runPhase(ctx context.Context, base string, o options, n int, duration time.Duration, st, probe *stats) {
	transport := &http.Transport{MaxIdleConns: 4 * n, MaxIdleConnsPerHost: 4 * n, IdleConnTimeout: time.Minute}
	defer transport.CloseIdleConnections()
	deadline := time.Now().Add(duration)
	probeCtx, stopProbe := context.WithCancel(ctx)
	var probing sync.WaitGroup
	if probe != nil {
		probing.Go(func() { probeHealth(probeCtx, base, probe) })
	}
	var wg sync.WaitGroup
	for id := range n {
		wg.Go(func() { newVisitor(base, transport, o, id, deadline, st).visit(ctx) })
	}
	wg.Wait()
	stopProbe()
	probing.Wait()
}

// healthIdle fetches /healthz n times one after another before the load: the idle baseline.
func healthIdle(ctx context.Context, base string, n int) *stats {
	st := newStats()
	client := &http.Client{Timeout: 10 * time.Second}
	for range n {
		fetchHealth(ctx, client, base, st)
	}
	return st
}

// probeHealth fetches /healthz every 100 ms until ctx ends.
func probeHealth(ctx context.Context, base string, st *stats) {
	client := &http.Client{Timeout: 10 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fetchHealth(ctx, client, base, st)
		}
	}
}

func fetchHealth(ctx context.Context, client *http.Client, base string, st *stats) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			st.pageError(routeHealth, err.Error())
		}
		return
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	st.page(routeHealth, time.Since(start))
	if res.StatusCode != http.StatusOK {
		st.pageError(routeHealth, fmt.Sprintf("status %d", res.StatusCode))
	}
}

const routeHealth = "GET /healthz"

// visitor is one anonymous browser: its own cookie jar and client address.
type visitor struct {
	base     string
	client   *http.Client
	addr     string // its X-Forwarded-For
	rng      *rand.Rand
	o        options
	deadline time.Time
	st       *stats
	assets   map[string]bool // static files fetched (the browser caches them)
}

func newVisitor(base string, transport http.RoundTripper, o options, id int, deadline time.Time, st *stats) *visitor {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &visitor{
		base: base,
		client: &http.Client{Transport: transport, Jar: jar,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		addr:     fmt.Sprintf("10.%d.%d.%d", 100+id/62500, id/250%250, id%250+1),
		rng:      rand.New(rand.NewPCG(o.seed, uint64(id))),
		o:        o,
		deadline: deadline,
		st:       st,
		assets:   map[string]bool{},
	}
}

// visit arrives at a random moment of the first think time, then alternates chat and arena rounds
// until the deadline.
func (v *visitor) visit(ctx context.Context) {
	v.sleep(ctx, time.Duration(v.rng.Int64N(int64(v.o.thinkMax)+1)))
	for i := 0; i < v.o.maxLoops && v.open(ctx); i++ {
		v.chat(ctx)
		v.think(ctx) // after a failed step too, so that errors cannot make a visitor spin
		if !v.open(ctx) {
			return
		}
		v.arena(ctx)
		v.think(ctx)
		v.st.round()
	}
}

func (v *visitor) open(ctx context.Context) bool {
	return ctx.Err() == nil && time.Now().Before(v.deadline)
}

func (v *visitor) think(ctx context.Context) {
	span := int64(v.o.thinkMax - v.o.thinkMin)
	v.sleep(ctx, v.o.thinkMin+time.Duration(v.rng.Int64N(span+1)))
}

func (v *visitor) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

var (
	csrfAttr    = regexp.MustCompile(`data-csrf="([^"]+)"`)
	modelSelect = regexp.MustCompile(`(?s)<select name="model_(\d+)"(.*?)</select>`)
	selected    = regexp.MustCompile(`<option value="(\d+)" selected`)
	assetRef    = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)
	chatPath    = regexp.MustCompile(`^/chat/(\d+)\?`)
	arenaPath   = regexp.MustCompile(`^/arena/(\d+)$`)
)

// chat opens the chat page, asks a new question of its default columns with small answers, opens
// the chat and reads every column's stream, as chat.js does.
func (v *visitor) chat(ctx context.Context) {
	const route = "GET /chat"
	page, ok := v.page(ctx, route, http.MethodGet, "/chat", nil, nil, http.StatusOK)
	if !ok {
		return
	}
	v.fetchAssets(ctx, page.body)
	csrf, columns := csrfOf(page.body), chatModels(page.body)
	if csrf == "" || len(columns) == 0 {
		v.st.pageError(route, "the page has no CSRF token or no model picked for a column")
		return
	}
	v.think(ctx)
	maxTokens := strconv.Itoa(v.o.maxTokens)
	form := url.Values{"csrf": {csrf}, "question": {pick(v.rng, chatQuestions)}}
	for col, id := range columns {
		form.Set("model_"+col, id)
		form.Set("temperature_"+col, "0.7")
		form.Set("max_tokens_"+col, maxTokens)
	}
	created, ok := v.page(ctx, "POST /chat", http.MethodPost, "/chat", form, nil, http.StatusSeeOther)
	if !ok {
		return
	}
	m := chatPath.FindStringSubmatch(created.location)
	if m == nil {
		v.st.pageError("POST /chat", fmt.Sprintf("redirect to %q, want /chat/{id}?…", created.location))
		return
	}
	shown, ok := v.page(ctx, "GET /chat/{id}", http.MethodGet, created.location, nil, nil, http.StatusOK)
	if !ok {
		return
	}
	n := strings.Count(shown.body, `data-testid="chat-column"`)
	if n == 0 {
		v.st.pageError("GET /chat/{id}", "the chat page shows no columns")
		return
	}
	targets := make([]string, n)
	for col := range targets {
		targets[col] = fmt.Sprintf("/chat/%s/stream/%d?temperature=0.7&max_tokens=%s", m[1], col, maxTokens)
	}
	v.streams(ctx, "chat", targets)
}

// arena starts a battle, reads both sides' streams, votes once both answered and reads the
// leaderboard, as arena.js and its pages do.
func (v *visitor) arena(ctx context.Context) {
	page, ok := v.page(ctx, "GET /arena", http.MethodGet, "/arena", nil, nil, http.StatusOK)
	if !ok {
		return
	}
	v.fetchAssets(ctx, page.body)
	csrf := csrfOf(page.body)
	if csrf == "" {
		v.st.pageError("GET /arena", "the page has no CSRF token")
		return
	}
	v.think(ctx)
	form := url.Values{"csrf": {csrf}, "question": {pick(v.rng, arenaQuestions)}}
	created, ok := v.page(ctx, "POST /arena", http.MethodPost, "/arena", form, nil, http.StatusSeeOther)
	if !ok {
		return
	}
	if !arenaPath.MatchString(created.location) {
		v.st.pageError("POST /arena", fmt.Sprintf("redirect to %q, want /arena/{id}", created.location))
		return
	}
	battle, ok := v.page(ctx, "GET /arena/{id}", http.MethodGet, created.location, nil, nil, http.StatusOK)
	if !ok {
		return
	}
	v.fetchAssets(ctx, battle.body)
	sides := v.streams(ctx, "arena", []string{created.location + "/stream/a", created.location + "/stream/b"})
	if sides[0].outcome == outDone && sides[1].outcome == outDone {
		v.think(ctx)
		v.vote(ctx, created.location, csrf)
	}
	v.page(ctx, "GET /arena/leaderboard", http.MethodGet, "/arena/leaderboard", nil, nil, http.StatusOK)
}

// vote posts the battle's vote as arena.js does and checks that the names come back.
func (v *visitor) vote(ctx context.Context, battle, csrf string) {
	const route = "POST /arena/{id}/vote"
	hdr := http.Header{"Accept": {"application/json"}, "X-Csrf-Token": {csrf}}
	res, ok := v.page(ctx, route, http.MethodPost, battle+"/vote", url.Values{"vote": {pick(v.rng, votes)}}, hdr, http.StatusOK)
	if !ok {
		return
	}
	var d struct {
		Models [2]string `json:"models"`
	}
	if err := json.Unmarshal([]byte(res.body), &d); err != nil || d.Models[0] == "" || d.Models[1] == "" {
		v.st.pageError(route, fmt.Sprintf("the answer does not name both models: %s", snippet(res.body)))
		return
	}
	v.st.vote()
}

// streams reads the event streams at once, as a page's EventSources do, and records each.
func (v *visitor) streams(ctx context.Context, kind string, targets []string) []streamResult {
	out := make([]streamResult, len(targets))
	if !v.o.streams {
		return out
	}
	var wg sync.WaitGroup
	for i, target := range targets {
		wg.Go(func() { out[i] = v.stream(ctx, target) })
	}
	wg.Wait()
	for _, r := range out {
		if ctx.Err() == nil {
			v.st.stream(kind, r)
		}
	}
	return out
}

// fetchAssets fetches the page's stylesheets, scripts and icon that this visitor has not fetched yet.
func (v *visitor) fetchAssets(ctx context.Context, body string) {
	for _, m := range assetRef.FindAllStringSubmatch(body, -1) {
		if !v.assets[m[1]] {
			v.assets[m[1]] = true
			v.page(ctx, routeAssets, http.MethodGet, m[1], nil, nil, http.StatusOK)
		}
	}
}

const routeAssets = "GET /static/*"

// response is a page's answer.
type response struct {
	status   int
	body     string
	location string
}

// page sends one request as a browser would (its cookie, its address; POSTs with Origin and a form)
// and records its latency, to the whole body. An answer other than want, or none, is recorded as an
// error of the route; ok reports whether the answer was want.
func (v *visitor) page(ctx context.Context, route, method, target string, form url.Values, hdr http.Header, want int) (response, bool) {
	ctx, cancel := context.WithTimeout(ctx, v.o.pageTimeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, v.base+target, body)
	if err != nil {
		v.st.pageError(route, err.Error())
		return response{}, false
	}
	v.browserHeaders(req, form != nil)
	for k, vals := range hdr {
		req.Header[k] = vals
	}
	start := time.Now()
	res, err := v.client.Do(req)
	if err != nil {
		if ctx.Err() == nil || time.Since(start) >= v.o.pageTimeout {
			v.st.pageError(route, err.Error())
		}
		return response{}, false
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	res.Body.Close()
	v.st.page(route, time.Since(start))
	out := response{status: res.StatusCode, body: string(b), location: res.Header.Get("Location")}
	if err != nil {
		v.st.pageError(route, "reading the body: "+err.Error())
		return out, false
	}
	if res.StatusCode != want {
		v.st.pageError(route, fmt.Sprintf("status %d, want %d: %s", res.StatusCode, want, snippet(out.body)))
		return out, false
	}
	return out, true
}

func (v *visitor) browserHeaders(req *http.Request, isForm bool) {
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-Forwarded-For", v.addr)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if isForm {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", v.base)
	}
}

func csrfOf(body string) string {
	if m := csrfAttr.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// chatModels reads the new-chat form's picked model of each column (column → model id).
func chatModels(body string) map[string]string {
	out := map[string]string{}
	for _, m := range modelSelect.FindAllStringSubmatch(body, -1) {
		if s := selected.FindStringSubmatch(m[2]); s != nil {
			out[m[1]] = s[1]
		}
	}
	return out
}

func pick(rng *rand.Rand, list []string) string { return list[rng.IntN(len(list))] }

var (
	tags   = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<[^>]*>`)
	spaces = regexp.MustCompile(`\s+`)
)

// snippet is the start of a body's text, for error messages: from the page's first error box when
// it has one.
func snippet(body string) string {
	if i := strings.Index(body, `class="error`); i >= 0 {
		if j := strings.IndexByte(body[i:], '>'); j >= 0 {
			body = body[i+j+1:]
		}
	}
	text := strings.TrimSpace(spaces.ReplaceAllString(tags.ReplaceAllString(body, " "), " "))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return text
}
