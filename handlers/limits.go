package handlers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"rustexpert/web"
)

// Limits are the per-client rate limits, the global generation gate and login throttling. A zero
// value turns its limit off.
type Limits struct {
	RequestsPerMinute int // requests of one client (user, API key, else IP); a full minute's worth may come at once
	TokensPerMinute   int // generated tokens of one client, charged after each answer
	// Generations answered at once (chat, arena, /v1) across all clients; GenerationQueue more may
	// wait up to QueueWait for a slot, the rest are told the server is busy.
	Generations     int
	GenerationQueue int
	QueueWait       time.Duration
	// LoginFailures is how many failed logins of one name or one IP are free; each further one
	// doubles a lockout that starts at LoginLockout (capped at an hour).
	LoginFailures int
	LoginLockout  time.Duration
	// Clock is the time for the limiters (nil: time.Now); After waits for the queue (nil: time.After).
	Clock func() time.Time
	After func(time.Duration) <-chan time.Time
}

// limits holds the state of every limit of one server.
type limits struct {
	now      func() time.Time
	requests *rateLimiter
	tokens   *rateLimiter
	gate     *genGate
	logins   *loginThrottle
}

func newLimits(l Limits) *limits {
	now := l.Clock
	if now == nil {
		now = time.Now
	}
	after := l.After
	if after == nil {
		after = time.After
	}
	return &limits{
		now:      now,
		requests: newRateLimiter(l.RequestsPerMinute, now),
		tokens:   newRateLimiter(l.TokensPerMinute, now),
		gate:     newGenGate(l.Generations, l.GenerationQueue, l.QueueWait, after),
		logins:   newLoginThrottle(l.LoginFailures, l.LoginLockout, now),
	}
}

// maxLimiterClients bounds a limiter's table; past it, clients whose buckets are full (idle) are dropped.
const maxLimiterClients = 10_000

// rateLimiter is a token bucket per client: perMinute/60 refill every second, up to perMinute.
// A bucket may go below zero when a cost is charged after the fact (generated tokens); the client
// then waits until it is back above zero.
type rateLimiter struct {
	perMinute float64
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	level float64
	at    time.Time
}

func newRateLimiter(perMinute int, now func() time.Time) *rateLimiter {
	return &rateLimiter{perMinute: float64(perMinute), now: now, buckets: map[string]*bucket{}}
}

// off reports whether the limit is turned off.
func (l *rateLimiter) off() bool { return l.perMinute <= 0 }

// bucketLocked returns the client's bucket refilled to now.
func (l *rateLimiter) bucketLocked(client string) *bucket {
	now := l.now()
	b, ok := l.buckets[client]
	if !ok {
		if len(l.buckets) >= maxLimiterClients {
			l.pruneLocked(now)
		}
		b = &bucket{level: l.perMinute, at: now}
		l.buckets[client] = b
		return b
	}
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.level = math.Min(l.perMinute, b.level+elapsed.Minutes()*l.perMinute)
		b.at = now
	}
	return b
}

// pruneLocked drops the buckets that have refilled completely: they behave like new ones.
func (l *rateLimiter) pruneLocked(now time.Time) {
	for k, b := range l.buckets {
		if b.level+now.Sub(b.at).Minutes()*l.perMinute >= l.perMinute {
			delete(l.buckets, k)
		}
	}
}

// take spends cost if the client's bucket holds it; otherwise it returns how long until it does.
func (l *rateLimiter) take(client string, cost float64) (time.Duration, bool) {
	if l.off() {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(client)
	if b.level >= cost {
		b.level -= cost
		return 0, true
	}
	return l.waitFor(cost - b.level), false
}

// positive reports whether the client's bucket is above zero (it may spend), else how long until it is.
func (l *rateLimiter) positive(client string) (time.Duration, bool) {
	if l.off() {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(client)
	if b.level > 0 {
		return 0, true
	}
	return l.waitFor(-b.level + 1), false
}

// charge spends cost after the fact; the bucket may go below zero.
func (l *rateLimiter) charge(client string, cost float64) {
	if l.off() || cost <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucketLocked(client).level -= cost
}

// waitFor is how long the bucket takes to gain missing.
func (l *rateLimiter) waitFor(missing float64) time.Duration {
	return time.Duration(math.Ceil(missing / l.perMinute * 60 * float64(time.Second)))
}

// errBusy means every generation slot and every place in the queue is taken, or the wait ran out.
var errBusy = errors.New("the server is busy answering other questions; try again in a few seconds")

// genGate lets a fixed number of generations run at once; a bounded number more wait in line for
// a limited time.
type genGate struct {
	slots chan struct{} // nil: no cap
	queue chan struct{}
	wait  time.Duration
	after func(time.Duration) <-chan time.Time
}

func newGenGate(n, queue int, wait time.Duration, after func(time.Duration) <-chan time.Time) *genGate {
	if n <= 0 {
		return &genGate{}
	}
	return &genGate{slots: make(chan struct{}, n), queue: make(chan struct{}, max(queue, 0)), wait: wait, after: after}
}

// acquire takes a generation slot, waiting in the queue when all are taken; the returned function
// gives the slot back. It fails with errBusy when the queue is full or the wait ends, and with the
// context's error when the caller leaves.
func (g *genGate) acquire(ctx context.Context) (func(), error) {
	if g.slots == nil {
		return func() {}, nil
	}
	release := func() { <-g.slots }
	select {
	case g.slots <- struct{}{}:
		return release, nil
	default:
	}
	select {
	case g.queue <- struct{}{}:
	default:
		return nil, errBusy
	}
	defer func() { <-g.queue }()
	select {
	case g.slots <- struct{}{}:
		return release, nil
	case <-g.after(g.wait):
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// apiKeyKey holds the id of a /v1 request's API key in its context.
const apiKeyKey ctxKey = 1

// busyRetryAfter is the Retry-After of a busy answer.
const busyRetryAfter = 5 * time.Second

// clientOf names the client a request is counted against: its session's user, else its API key,
// else its IP (RealIP has put the proxy's forwarded address into RemoteAddr).
func clientOf(r *http.Request) string {
	if sess, ok := sessionFrom(r.Context()); ok {
		return "user:" + strconv.FormatInt(sess.User.ID, 10)
	}
	if id, ok := r.Context().Value(apiKeyKey).(int64); ok {
		return "key:" + strconv.FormatInt(id, 10)
	}
	return "ip:" + clientIP(r)
}

// clientIP is the request's address without its port.
func clientIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// limitRequests refuses a client's requests past its per-minute rate with 429 and Retry-After.
func (s *Server) limitRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wait, ok := s.limits.requests.take(clientOf(r), 1); !ok {
			s.refuse(w, r, http.StatusTooManyRequests, wait, "rate_limit_exceeded",
				fmt.Sprintf("too many requests; try again in %s", roundUp(wait)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// startGeneration is what every path that runs a model calls first: it checks the client's token
// budget and takes a generation slot. When it may not start, it has answered the request (429 or
// 503, with Retry-After) and returns false. Otherwise the caller must call done with the tokens it
// generated: that gives the slot back and charges the tokens to the client.
func (s *Server) startGeneration(w http.ResponseWriter, r *http.Request) (done func(tokens int), ok bool) {
	client := clientOf(r)
	if wait, ok := s.limits.tokens.positive(client); !ok {
		s.refuse(w, r, http.StatusTooManyRequests, wait, "rate_limit_exceeded",
			fmt.Sprintf("you have used your generated tokens for this minute; try again in %s", roundUp(wait)))
		return nil, false
	}
	release, err := s.limits.gate.acquire(r.Context())
	if errors.Is(err, errBusy) {
		s.refuse(w, r, http.StatusServiceUnavailable, busyRetryAfter, "server_busy", "busy, try again in a few seconds: "+errBusy.Error())
		return nil, false
	}
	if err != nil {
		return nil, false // the client left while waiting
	}
	var once sync.Once
	return func(tokens int) {
		once.Do(func() {
			release()
			s.limits.tokens.charge(client, float64(tokens))
		})
	}, true
}

// refuse answers a request that a limit stops: with Retry-After, as OpenAI error JSON on /v1, as the
// error area's fragment for HTMX, as a "busy" event for event streams (public.go), as plain text for
// scripts, else as an error page.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, retry time.Duration, code, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(retry, time.Second).Seconds()))))
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		s.apiError(w, r, &apiProblem{status: status, code: code, msg: msg})
	case isHTMX(r):
		w.Header().Set("HX-Retarget", "#errors")
		w.Header().Set("HX-Reswap", "innerHTML")
		s.render(w, r, status, web.ErrorFragment(msg, nil))
	case acceptsEventStream(r):
		refuseStream(w, status, retry, msg)
	case wantsJSON(r):
		http.Error(w, msg, status)
	default:
		s.render(w, r, status, web.ErrorView(web.ErrorPage{Nav: s.nav(r, ""), Status: status, Message: msg}))
	}
}

// roundUp writes a wait as whole seconds (at least one).
func roundUp(d time.Duration) string {
	secs := int(math.Ceil(d.Seconds()))
	if secs < 1 {
		secs = 1
	}
	if secs == 1 {
		return "1 second"
	}
	return strconv.Itoa(secs) + " seconds"
}

// estimateTokens guesses the tokens of text the model wrote before it was stopped (no usage then).
func estimateTokens(text string) int { return (len(text) + 3) / 4 }

// Login throttling defaults when a lockout is asked for without its length, and the longest lockout.
const (
	maxLoginLockout   = time.Hour
	loginForgetAfter  = 24 * time.Hour
	maxThrottledNames = 10_000
)

// loginThrottle counts failed logins per user name and per IP. Past the free failures, each
// further one locks the name (or IP) out for twice as long as the one before.
type loginThrottle struct {
	free    int
	lockout time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[string]*loginFailures
}

type loginFailures struct {
	count       int
	lockedUntil time.Time
	last        time.Time
}

func newLoginThrottle(free int, lockout time.Duration, now func() time.Time) *loginThrottle {
	if lockout <= 0 {
		lockout = time.Second
	}
	return &loginThrottle{free: free, lockout: lockout, now: now, entries: map[string]*loginFailures{}}
}

// loginKeys are the throttle's keys of a login attempt: its name (case-insensitive, as names are
// unique) and its IP.
func loginKeys(name, ip string) []string {
	return []string{"name:" + strings.ToLower(strings.TrimSpace(name)), "ip:" + ip}
}

// locked returns how long the attempt must still wait, or false when it may try now.
func (t *loginThrottle) locked(keys ...string) (time.Duration, bool) {
	if t.free <= 0 {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var wait time.Duration
	for _, k := range keys {
		if e, ok := t.entries[k]; ok && e.lockedUntil.After(now) {
			wait = max(wait, e.lockedUntil.Sub(now))
		}
	}
	return wait, wait > 0
}

// fail records a failed attempt.
func (t *loginThrottle) fail(keys ...string) {
	if t.free <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.entries) >= maxThrottledNames {
		t.pruneLocked(now)
	}
	for _, k := range keys {
		e, ok := t.entries[k]
		if !ok {
			e = &loginFailures{}
			t.entries[k] = e
		}
		e.count++
		e.last = now
		if over := e.count - t.free; over > 0 {
			e.lockedUntil = now.Add(lockoutFor(t.lockout, over))
		}
	}
}

// lockoutFor is base doubled for every failure past the first one over the free count, capped.
func lockoutFor(base time.Duration, over int) time.Duration {
	d := base
	for i := 1; i < over && d < maxLoginLockout; i++ {
		d *= 2
	}
	return min(d, maxLoginLockout)
}

// succeed forgets the failures of a key (the name that logged in).
func (t *loginThrottle) succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, key)
}

func (t *loginThrottle) pruneLocked(now time.Time) {
	for k, e := range t.entries {
		if now.Sub(e.last) > loginForgetAfter && !e.lockedUntil.After(now) {
			delete(t.entries, k)
		}
	}
}
