package builtin

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"rustexpert/inference/chat"
)

// WarmChunk is the most tokens of a finished conversation prefilled at once
// while idle: a request that comes meanwhile waits for one chunk at most.
const WarmChunk = 64

// warmKept is how many finished conversations wait to be warmed (the chat
// page's three columns, when one base model answers them all, and one more);
// older ones are dropped.
const warmKept = 4

// warmPoll is how often a scheduler with a conversation to warm looks whether
// the other engines on its cores have become idle.
const warmPoll = 20 * time.Millisecond

// activity counts the schedulers that have work among the engines computing on
// the same cores: caches are warmed only while none has, so warming never
// slows an answer being written.
type activity struct{ busy atomic.Int32 }

// warmth is the scheduler's idle-time work. When an answer of a one-answer
// request ends, the conversation so far (the messages and the answer, as the
// chat template renders them) is prefilled in the background, in the prompt's
// own path, and kept in the prefix cache: the follow-up question, whose prompt
// starts with that conversation, then only prefills what is new. The answer's
// own cache is not reused instead: decoding computes it in another order than
// a prompt does (the follow-up would not get the answer a fresh engine gives),
// and its tokens are the model's, not always those the tokenizer makes of the
// text.
type warmth struct {
	act     *activity
	busy    bool               // this scheduler is counted in act
	warm    []conversation     // finished conversations, latest last
	warming *filling           // the conversation being prefilled, a chunk per idle loop
	idleReq chan chan struct{} // Idle's callers
	idlers  []chan struct{}    // callers told once nothing is left to do
}

func (w *warmth) setBusy(busy bool) {
	if busy != w.busy {
		w.busy = busy
		if busy {
			w.act.busy.Add(1)
		} else {
			w.act.busy.Add(-1)
		}
	}
}

func (w *warmth) warmPending() bool { return len(w.warm) > 0 || w.warming != nil }

// canWarm reports whether a conversation waits to be warmed and no engine on the
// cores has work (this one's own work is checked by the caller).
func (w *warmth) canWarm() bool { return w.warmPending() && w.act.busy.Load() == 0 }

// tellIdle releases Idle's callers when nothing is left to do.
func (w *warmth) tellIdle() {
	if w.warmPending() {
		return
	}
	for _, c := range w.idlers {
		close(c)
	}
	w.idlers = nil
}

// queueWarm keeps a finished answer's conversation for warming: its tokens as
// the follow-up's prompt will start, the answer's text tokenized the way a
// prompt is (a model does not always write the tokens the tokenizer would
// make of its text).
func (s *scheduler) queueWarm(c *choice) {
	if s.e.noWarm || c.job.n != 1 || c.text.Len() == 0 || c.job.msgs == nil {
		return
	}
	msgs := append(slices.Clip(c.job.msgs), chat.Message{Role: "assistant", Content: c.text.String()})
	text, err := s.e.template.Render(msgs, false)
	if err != nil {
		return
	}
	s.pushWarm(conversation{tokens: s.e.tok.EncodeChat(text), adapter: c.job.adapter})
}

// conversation is a finished conversation's tokens and the adapter that answered.
type conversation struct {
	tokens  []int
	adapter int
}

func (w *warmth) pushWarm(c conversation) {
	w.warm = append(w.warm, c)
	if len(w.warm) > warmKept {
		w.warm = slices.Delete(w.warm, 0, 1)
	}
}

// warmChunk prefills the next chunk of the latest finished conversation.
func (s *scheduler) warmChunk() {
	if !s.canWarm() {
		return
	}
	if s.warming == nil {
		c := s.warm[len(s.warm)-1]
		s.warm = s.warm[:len(s.warm)-1]
		seq, logits := s.prefix.lookup(s.e.model, c.adapter, c.tokens)
		if logits != nil {
			return // cached already
		}
		s.warming = &filling{prompt: c.tokens, seq: seq, from: seq.Len()}
	}
	f := s.warming
	if err := s.prefillChunks([]*filling{f}, WarmChunk); err != nil {
		s.warming = nil
		slog.Warn("warming a conversation's cache", slog.Any("error", err))
		return
	}
	if f.logits != nil {
		s.warming = nil
	}
}

// stopWarming sets the warming aside for a request: what it prefilled so far
// goes to the prefix cache, and the conversation waits to be finished later.
func (s *scheduler) stopWarming() {
	f := s.warming
	if f == nil {
		return
	}
	s.warming = nil
	if n := f.seq.Len(); n > f.from {
		s.prefix.store(s.e.model, f.prompt[:n], f.seq, nil)
	}
	s.pushWarm(conversation{tokens: f.prompt, adapter: f.seq.Adapter()})
}

// Idle waits until the engine has nothing left to do: no request in flight and
// no finished conversation waiting to be warmed (a warming that waits for other
// engines counts as work).
func (e *core) Idle(ctx context.Context) error {
	told := make(chan struct{})
	select {
	case e.sched.idleReq <- told:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.sched.stopped:
		return errStopped
	}
	select {
	case <-told:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.sched.stopped:
		return errStopped
	}
}
