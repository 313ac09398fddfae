package builtin

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"rustexpert/inference"
)

// followUp is the conversation after question's answer, with the next question.
func followUp(question, answer, next string) inference.Request {
	return inference.Request{Messages: []inference.Message{
		{Role: "user", Content: question}, {Role: "assistant", Content: answer}, {Role: "user", Content: next}}}
}

func chatOK(t *testing.T, e *Engine, req inference.Request) inference.Result {
	t.Helper()
	res, err := e.Chat(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// newEngine loads the bundled model into an engine of the test's own, closed when it ends.
func newEngine(t *testing.T) *Engine {
	t.Helper()
	engine(t) // skips when the model is not fetched
	e, err := Load(Spec{Base: bundledPath()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func idleWithin(e *Engine, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return e.Idle(ctx)
}

// After an answer, the engine prefills the conversation while idle, so the follow-up question
// reuses the cache of the question and the answer, and gets the answer a fresh engine gives.
func TestFollowUpReusesTheConversation(t *testing.T) {
	warmed := newEngine(t)
	first := ask("What does the ? operator do in Rust?")
	first.Params.MaxTokens = 40
	answer := chatOK(t, warmed, first)
	if err := idleWithin(warmed, time.Minute); err != nil {
		t.Fatal(err)
	}
	next := followUp("What does the ? operator do in Rust?", answer.Choices[0].Text, "Show it in a function that reads a file.")
	next.Params.MaxTokens = 24
	got := chatOK(t, warmed, next)

	firstLen, answerLen := len(warmed.promptIDs(t, first)), answer.Usage.CompletionTokens
	if c := got.Usage.CachedTokens; c < firstLen+answerLen*3/4 || c >= got.Usage.PromptTokens {
		t.Errorf("the follow-up reused %d of its %d prompt tokens; the first prompt had %d, its answer %d",
			c, got.Usage.PromptTokens, firstLen, answerLen)
	}

	fresh := newEngine(t)
	want := chatOK(t, fresh, next)
	if want.Usage.CachedTokens != 0 {
		t.Errorf("a fresh engine reused %d tokens", want.Usage.CachedTokens)
	}
	if got.Choices[0].Text != want.Choices[0].Text {
		t.Errorf("after warming: %q, fresh engine: %q", got.Choices[0].Text, want.Choices[0].Text)
	}
}

// A request that comes while a conversation is being warmed (its answer is long enough for
// several chunks) is answered as a fresh engine answers it, and the warming ends afterwards.
func TestRequestDuringWarmingIsAnswered(t *testing.T) {
	e := newEngine(t)
	first := ask("Explain lifetimes in Rust in detail.")
	first.Params.MaxTokens = 5 * WarmChunk
	answer := chatOK(t, e, first)
	other := ask("Name a Rust web framework.")
	other.Params.MaxTokens = 8
	got := chatOK(t, e, other)
	if want := chatOK(t, engine(t), other); got.Choices[0].Text != want.Choices[0].Text {
		t.Errorf("during warming: %q, alone: %q", got.Choices[0].Text, want.Choices[0].Text)
	}
	if err := idleWithin(e, time.Minute); err != nil {
		t.Fatal(err)
	}
	next := followUp("Explain lifetimes in Rust in detail.", answer.Choices[0].Text, "Give an example.")
	next.Params.MaxTokens = 4
	firstLen := len(e.promptIDs(t, first))
	if c := chatOK(t, e, next).Usage.CachedTokens; c < firstLen+answer.Usage.CompletionTokens*3/4 {
		t.Errorf("the follow-up reused %d tokens; the first prompt had %d, its answer %d",
			c, firstLen, answer.Usage.CompletionTokens)
	}
}

// Setting a warming aside for a request keeps what it prefilled in the prefix cache and the
// conversation in the queue, to be finished later.
func TestStopWarmingKeepsTheWarmedPart(t *testing.T) {
	e := engine(t)
	if err := idleWithin(e, time.Minute); err != nil {
		t.Fatal(err)
	}
	tokens := e.promptIDs(t, ask(strings.Repeat("Borrowing rules keep references valid. ", 20)))
	if len(tokens) <= WarmChunk {
		t.Fatalf("%d tokens fit one chunk", len(tokens))
	}
	s := &scheduler{e: e.core, warmth: warmth{act: &activity{}}} // the engine's own scheduler is idle
	s.warm = []conversation{{tokens: tokens}}
	s.warmChunk()
	if s.warming == nil || s.warming.seq.Len() != WarmChunk {
		t.Fatalf("after one chunk: %+v", s.warming)
	}
	s.stopWarming()
	if s.warming != nil || len(s.warm) != 1 || len(s.prefix.entries) != 1 {
		t.Fatalf("after stopping: warming %v, %d queued, %d cached", s.warming, len(s.warm), len(s.prefix.entries))
	}
	if kept := s.prefix.entries[0]; !slices.Equal(kept.tokens, tokens[:WarmChunk]) || kept.logits != nil {
		t.Errorf("kept %d tokens (logits %v), want the first %d without logits", len(kept.tokens), kept.logits != nil, WarmChunk)
	}
	s.warmChunk()
	if s.warming == nil || s.warming.from != WarmChunk {
		t.Fatalf("the warming did not resume from the kept part: %+v", s.warming)
	}
}

// An engine does not warm while another engine on the same cores writes an answer: Idle waits
// for the warming, which waits for the other engine.
func TestWarmingWaitsForOtherEngines(t *testing.T) {
	engine(t)
	pool := NewPool()
	defer pool.Close()
	quiet, err := pool.Get(Spec{Base: bundledPath()})
	if err != nil {
		t.Fatal(err)
	}
	busy, err := pool.Get(Spec{Base: bundledPath(), ContextLength: 4096})
	if err != nil {
		t.Fatal(err)
	}
	long := ask("Write a long story about a crab who learns Rust.")
	long.Params = inference.Params{Temperature: 1, MaxTokens: 400, Seed: seed(3)}
	started := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		_, err := busy.Chat(context.Background(), long, func(inference.Delta) {
			select {
			case started <- struct{}{}:
			default:
			}
		})
		done <- err
	}()
	<-started
	short := ask("Say hi.")
	short.Params.MaxTokens = 4
	chatOK(t, quiet, short)
	err = idleWithin(quiet, 300*time.Millisecond)
	select {
	case <-done:
		t.Skip("the long answer ended before the check")
	default:
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Idle while the other engine answers: %v, want a timeout (warming waits)", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := idleWithin(quiet, time.Minute); err != nil {
		t.Fatalf("Idle after the other engine finished: %v", err)
	}
}

// Waiting jobs are taken to be prefilled together, except one whose prompt shares more with a
// prompt being prefilled than with the cache: it waits until that prompt is cached, then costs
// no prefill.
func TestJobsPrefillTogetherUnlessOneWaitsForTheOther(t *testing.T) {
	e := engine(t)
	if err := idleWithin(e, time.Minute); err != nil {
		t.Fatal(err)
	}
	newJob := func(question string) *job {
		j, err := e.newJob(context.Background(), ask(question))
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	long := strings.Repeat("A future that is pinned may hold references into itself. ", 8)
	a, b := newJob(long+"What does Pin guarantee?"), newJob("How do I share a Vec between threads?")
	again := newJob(long + "What does Pin guarantee?")
	if len(a.prompt) < shareWait+40 {
		t.Fatalf("a prompt of %d tokens", len(a.prompt))
	}
	s := &scheduler{e: e.core, warmth: warmth{act: &activity{}}} // the engine's own scheduler is idle
	s.waiting = []*job{a, b, again}
	s.takeWaiting()
	if len(s.filling) != 2 || s.filling[0].j != a || s.filling[1].j != b || len(s.waiting) != 1 {
		t.Fatalf("took %d jobs, %d wait; want the first two taken, the repeated prompt waiting", len(s.filling), len(s.waiting))
	}
	if err := s.prefillChunks(s.filling, IdlePrefillChunk); err != nil {
		t.Fatal(err)
	}
	s.filling = nil
	s.takeWaiting()
	if len(s.filling) != 1 || s.filling[0].logits == nil || again.cached != len(again.prompt) {
		t.Fatalf("the repeated prompt after the first was cached: %d of %d tokens found", again.cached, len(again.prompt))
	}
}
