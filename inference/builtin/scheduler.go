package builtin

import (
	"context"
	"errors"
	"slices"
	"time"

	"rustexpert/inference/llama"
)

// MaxBatch is the most answers decoded together; further requests wait.
const MaxBatch = 16

// PrefillChunk is the most prompt tokens processed between two decoding
// steps, so a long prompt does not stall the answers being written.
const PrefillChunk = 128

// IdlePrefillChunk is the most prompt tokens processed at once while no answer
// is being written: a prompt in one call is cheaper than in several (a
// 200-token prompt in one call took 0.96× the time of 128 + 72 tokens), and
// the cap bounds the attention's scratch memory, which grows with the square
// of the chunk.
const IdlePrefillChunk = 512

var errStopped = errors.New("the model engine has stopped")

// scheduler owns the model's compute: one goroutine prefills new requests and
// decodes every running answer one token per step, in one batch.
type scheduler struct {
	e       *core
	queue   chan *job
	quit    chan struct{}
	stopped chan struct{}
	running []*choice
	waiting []*job
	prefix  prefixCache
	filling []*filling // the prompts being prefilled, a chunk each per loop
	warmth             // finished conversations prefilled while idle (warm.go)
}

// filling is a prompt being prefilled: a job's, or a finished conversation's
// being warmed (j nil).
type filling struct {
	j      *job
	prompt []int
	seq    *llama.Sequence
	from   int // positions the prefix cache had
	logits []float32
}

func newScheduler(e *core, act *activity) *scheduler {
	s := &scheduler{e: e, queue: make(chan *job), quit: make(chan struct{}), stopped: make(chan struct{}),
		warmth: warmth{act: act, idleReq: make(chan chan struct{})}}
	go s.loop()
	return s
}

func (s *scheduler) submit(ctx context.Context, j *job) error {
	select {
	case s.queue <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopped:
		return errStopped
	}
}

func (s *scheduler) stop() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.stopped
}

func (s *scheduler) loop() {
	defer close(s.stopped)
	for {
		s.setBusy(s.hasWork())
		if !s.collect() {
			s.setBusy(false)
			s.failAll(errStopped)
			return
		}
		if s.setBusy(s.hasWork()); !s.busy {
			s.warmChunk()
			continue
		}
		s.stopWarming()
		s.admit()
		s.dropCancelled()
		s.step()
	}
}

func (s *scheduler) hasWork() bool {
	return len(s.running) > 0 || len(s.waiting) > 0 || len(s.filling) > 0
}

// collect takes newly submitted jobs (and Idle's callers): it blocks while
// there is nothing to do, or only a warming that waits for other engines. It
// returns false when the scheduler must stop.
func (s *scheduler) collect() bool {
	if !s.hasWork() && !s.canWarm() {
		s.tellIdle()
		var poll <-chan time.Time
		if s.warmPending() {
			poll = time.After(warmPoll)
		}
		select {
		case j := <-s.queue:
			s.waiting = append(s.waiting, j)
		case w := <-s.idleReq:
			s.idlers = append(s.idlers, w)
		case <-poll:
		case <-s.quit:
			return false
		}
	}
	for {
		select {
		case j := <-s.queue:
			s.waiting = append(s.waiting, j)
		case w := <-s.idleReq:
			s.idlers = append(s.idlers, w)
		case <-s.quit:
			return false
		default:
			return true
		}
	}
}

// admit takes the waiting jobs the batch has room for and moves their
// prompts on by a chunk each, all in one call (the chat page's columns ask
// the models of one base model at once); a job whose prompt is done has its
// answers join the batch.
func (s *scheduler) admit() {
	s.takeWaiting()
	s.filling = slices.DeleteFunc(s.filling, func(f *filling) bool {
		if err := f.j.ctx.Err(); err != nil {
			f.j.finish(err)
			return true
		}
		return false
	})
	var need []*filling
	for _, f := range s.filling {
		if f.logits == nil {
			need = append(need, f)
		}
	}
	if len(need) > 0 {
		chunk := IdlePrefillChunk
		if len(s.running) > 0 {
			chunk = max(PrefillChunk/len(need), minPrefillShare)
		}
		if err := s.prefillChunks(need, chunk); err != nil {
			for _, f := range need {
				f.j.finish(err)
			}
			s.filling = slices.DeleteFunc(s.filling, func(f *filling) bool { return f.logits == nil })
		}
	}
	rest := s.filling[:0]
	for _, f := range s.filling {
		if f.logits != nil {
			s.start(f)
		} else {
			rest = append(rest, f)
		}
	}
	s.filling = rest
}

// minPrefillShare is the fewest tokens of each prompt in a chunk while answers
// are being written.
const minPrefillShare = 32

// takeWaiting moves the waiting jobs that are still wanted to the prompts
// being prefilled, in order, while the batch has room for their answers, and
// looks up the cached prefix of each prompt. A job whose prompt shares over
// shareWait tokens more with a prompt being prefilled than with the cache
// waits for that one to be cached (another sample slot of the same prompt
// then costs no prefill).
func (s *scheduler) takeWaiting() {
	for len(s.waiting) > 0 {
		j := s.waiting[0]
		busy := len(s.running) > 0 || len(s.filling) > 0
		if busy && s.answers()+j.n > MaxBatch || s.sharesFilling(j) {
			return
		}
		s.waiting = s.waiting[1:]
		if err := j.ctx.Err(); err != nil {
			j.finish(err)
			continue
		}
		seq, logits := s.prefix.lookup(s.e.model, j.adapter, j.prompt)
		j.cached = seq.Len()
		s.filling = append(s.filling, &filling{j: j, prompt: j.prompt, seq: seq, from: seq.Len(), logits: logits})
	}
}

// answers counts the answers being written and those of the prompts being prefilled.
func (s *scheduler) answers() int {
	n := len(s.running)
	for _, f := range s.filling {
		n += f.j.n
	}
	return n
}

// shareWait is how many more tokens a prompt must share with one being
// prefilled than with the cache for its job to wait (prompts that share only a
// system message go together).
const shareWait = 64

// sharesFilling reports whether j's prompt shares over shareWait tokens more
// with a prompt being prefilled for the same adapter than with the prefix cache.
func (s *scheduler) sharesFilling(j *job) bool {
	cached := s.prefix.longest(j.adapter, j.prompt)
	for _, f := range s.filling {
		if f.j.adapter == j.adapter && commonPrefix(f.prompt, j.prompt) > cached+shareWait {
			return true
		}
	}
	return false
}

// prefillChunks runs the next chunk (at most chunk tokens) of each prompt, all
// in one call; after a prompt's last chunk it sets its logits and remembers
// its cache.
func (s *scheduler) prefillChunks(fs []*filling, chunk int) error {
	m := s.e.model
	var steps []llama.Step
	last := make([]int, len(fs)) // each prompt's last step in steps, or -1
	for i, f := range fs {
		done := f.seq.Len()
		end := min(done+chunk, len(f.prompt))
		for p := done; p < end; p++ {
			steps = append(steps, llama.Step{Seq: f.seq, Token: f.prompt[p], Logits: p == len(f.prompt)-1})
		}
		last[i] = -1
		if end == len(f.prompt) {
			last[i] = len(steps) - 1
		}
	}
	out, err := m.Prompt(steps)
	if err != nil {
		return err
	}
	for i, f := range fs {
		if last[i] >= 0 {
			f.logits = out[last[i]]
			s.prefix.store(m, f.prompt, f.seq, f.logits)
		}
	}
	return nil
}

// start gives each of a prefilled job's answers a copy of the cache and
// samples its first token.
func (s *scheduler) start(f *filling) {
	e, j := s.e, f.j
	for i := range j.n {
		c := &choice{job: j, index: i, seq: f.seq, stream: e.tok.NewStream(),
			sampler: llama.NewSampler(j.sampling, j.seed+uint64(i))}
		if i < j.n-1 {
			c.seq = f.seq.Clone()
		}
		j.choices = append(j.choices, c)
		for _, t := range j.prompt {
			c.sampler.Observe(t)
		}
		s.advance(c, slices.Clone(f.logits))
	}
	s.finishDone(j)
}

// advance samples c's next token; a finished answer leaves the batch.
func (s *scheduler) advance(c *choice, logits []float32) { s.keep(c, c.sampler.Next(logits)) }

// keep gives c its next token: the answer stays in the batch unless it is finished.
func (s *scheduler) keep(c *choice, token int) {
	room := s.e.model.ContextLen - c.seq.Len() - 1
	if c.accept(token, s.e.stopIDs, room) {
		s.running = append(s.running, c)
		return
	}
	s.queueWarm(c)
}

// step decodes one token for every running answer.
func (s *scheduler) step() {
	if len(s.running) == 0 {
		return
	}
	batch := s.running
	s.running = nil
	steps := make([]llama.Step, len(batch))
	for i, c := range batch {
		steps[i] = llama.Step{Seq: c.seq, Token: c.next, Logits: true}
	}
	out, err := s.e.model.Forward(steps)
	if err != nil {
		for _, c := range batch {
			s.failJob(c.job, err)
		}
		return
	}
	live := make([]bool, len(batch))
	for i, c := range batch {
		live[i] = c.job.err == nil && !isClosed(c.job.done)
	}
	// The answers' samplers are independent (each its own random stream), so they draw on all
	// cores: with a small model's flat logits a draw costs as much as a tenth of a step.
	tokens := make([]int, len(batch))
	s.e.model.Parallel(len(batch), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if live[i] {
				tokens[i] = batch[i].sampler.Next(out[i])
			}
		}
	})
	for i, c := range batch {
		if live[i] {
			s.keep(c, tokens[i])
		}
	}
	for _, c := range batch {
		s.finishDone(c.job)
	}
}

// finishDone completes a job once none of its answers is running.
func (s *scheduler) finishDone(j *job) {
	if isClosed(j.done) {
		return
	}
	for _, c := range j.choices {
		if c.finish == "" {
			return
		}
	}
	if len(j.choices) == j.n {
		j.finish(nil)
	}
}

// dropCancelled ends the jobs whose callers went away.
func (s *scheduler) dropCancelled() {
	for _, c := range slices.Clone(s.running) {
		if err := c.job.ctx.Err(); err != nil {
			s.failJob(c.job, err)
		}
	}
}

func (s *scheduler) failJob(j *job, err error) {
	s.running = slices.DeleteFunc(s.running, func(c *choice) bool { return c.job == j })
	if !isClosed(j.done) {
		j.finish(err)
	}
}

func (s *scheduler) failAll(err error) {
	jobs := map[*job]bool{}
	for _, c := range s.running {
		jobs[c.job] = true
	}
	for j := range jobs {
		s.failJob(j, err)
	}
	for _, j := range s.waiting {
		j.finish(err)
	}
	s.waiting = nil
	for _, f := range s.filling {
		f.j.finish(err)
	}
	s.filling = nil
	for {
		select {
		case j := <-s.queue:
			j.finish(err)
		default:
			return
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
