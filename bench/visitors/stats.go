package main

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// Stream outcomes. Busy is the intended answer of a full server; every other outcome but done is
// a failure.
const (
	outDone        = "done"
	outBusy        = "busy"
	outRateLimited = "rate-limited"
	outFailed      = "failed"
	outError       = "error"
	outCapped      = "capped"
)

var outcomes = []string{outDone, outBusy, outRateLimited, outFailed, outError, outCapped}

// problems counts failures by kind and keeps the first few distinct messages of each.
type problems struct {
	count map[string]int
	first map[string][]string
}

const firstMessages = 3

func newProblems() problems {
	return problems{count: map[string]int{}, first: map[string][]string{}}
}

func (p *problems) add(kind, msg string) {
	p.count[kind]++
	if len(p.first[kind]) < firstMessages && !slices.Contains(p.first[kind], msg) {
		p.first[kind] = append(p.first[kind], msg)
	}
}

func (p problems) total() int {
	n := 0
	for _, c := range p.count {
		n += c
	}
	return n
}

func (p problems) kinds() []string { return slices.Sorted(maps.Keys(p.count)) }

func (p problems) clone() problems {
	return problems{count: maps.Clone(p.count), first: maps.Clone(p.first)}
}

// streamResult is what one event stream gave a visitor.
type streamResult struct {
	outcome    string
	msg        string        // the failure's message, or the busy event's
	ttfb       time.Duration // until the response's headers (the server sends them once a slot is taken)
	firstDelta time.Duration // until the first piece of text (0: none)
	total      time.Duration
	tokens     int
}

// stats is what the visitors of one phase measured; safe for concurrent use.
type stats struct {
	mu         sync.Mutex
	pages      map[string][]time.Duration // route → latency of every response
	pageErrors problems                   // route → unexpected statuses and transport errors
	streams    map[string]map[string]int  // kind (chat, arena) → outcome → count
	streamErrs problems                   // "kind outcome" → messages
	ttfb       map[string][]time.Duration // "kind outcome" → time to first byte
	firstDelta map[string][]time.Duration // kind → time to first text of done streams
	streamTime map[string][]time.Duration // kind → whole time of done streams
	tokens     int
	votes      int
	rounds     int
}

func newStats() *stats {
	return &stats{pages: map[string][]time.Duration{}, pageErrors: newProblems(), streams: map[string]map[string]int{},
		streamErrs: newProblems(), ttfb: map[string][]time.Duration{}, firstDelta: map[string][]time.Duration{},
		streamTime: map[string][]time.Duration{}}
}

func (s *stats) page(route string, latency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages[route] = append(s.pages[route], latency)
}

func (s *stats) pageError(route, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageErrors.add(route, msg)
}

func (s *stats) stream(kind string, r streamResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[kind] == nil {
		s.streams[kind] = map[string]int{}
	}
	s.streams[kind][r.outcome]++
	key := kind + " " + r.outcome
	s.ttfb[key] = append(s.ttfb[key], r.ttfb)
	switch r.outcome {
	case outDone:
		s.tokens += r.tokens
		s.streamTime[kind] = append(s.streamTime[kind], r.total)
		if r.firstDelta > 0 {
			s.firstDelta[kind] = append(s.firstDelta[kind], r.firstDelta)
		}
	case outBusy:
	default:
		s.streamErrs.add(key, r.msg)
	}
}

func (s *stats) vote() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.votes++
}

func (s *stats) round() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rounds++
}

// unintended counts the failures: page errors and every stream outcome other than done and busy.
func (s *stats) unintended() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pageErrors.total() + s.streamErrs.total()
}

// quantiles are a latency distribution's summary (nearest rank).
type quantiles struct {
	n                   int
	p50, p95, p99, peak time.Duration
}

func summarize(d []time.Duration) quantiles {
	if len(d) == 0 {
		return quantiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return quantiles{n: len(s), p50: at(0.50), p95: at(0.95), p99: at(0.99), peak: s[len(s)-1]}
}
