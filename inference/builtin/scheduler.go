package builtin

import (
	"context"
	"errors"
	"slices"

	"rustexpert/inference/llama"
)

// MaxBatch is the most answers decoded together; further requests wait.
const MaxBatch = 16

var errStopped = errors.New("the model engine has stopped")

// scheduler owns the model's compute: one goroutine prefills new requests and
// decodes every running answer one token per step, in one batch.
type scheduler struct {
	e       *Engine
	queue   chan *job
	quit    chan struct{}
	stopped chan struct{}
	running []*choice
	waiting []*job
	prefix  prefixCache
}

func newScheduler(e *Engine) *scheduler {
	s := &scheduler{e: e, queue: make(chan *job), quit: make(chan struct{}), stopped: make(chan struct{})}
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
		if !s.collect() {
			s.failAll(errStopped)
			return
		}
		s.admit()
		s.dropCancelled()
		s.step()
	}
}

// collect takes newly submitted jobs: it blocks while there is nothing to do.
// It returns false when the scheduler must stop.
func (s *scheduler) collect() bool {
	if len(s.running) == 0 && len(s.waiting) == 0 {
		select {
		case j := <-s.queue:
			s.waiting = append(s.waiting, j)
		case <-s.quit:
			return false
		}
	}
	for {
		select {
		case j := <-s.queue:
			s.waiting = append(s.waiting, j)
		case <-s.quit:
			return false
		default:
			return true
		}
	}
}

// admit prefills waiting jobs while the batch has room for all their answers.
func (s *scheduler) admit() {
	for len(s.waiting) > 0 {
		j := s.waiting[0]
		if len(s.running) > 0 && len(s.running)+j.n > MaxBatch {
			return
		}
		s.waiting = s.waiting[1:]
		if err := j.ctx.Err(); err != nil {
			j.finish(err)
			continue
		}
		s.start(j)
	}
}

// start prefills a job's prompt once, then gives each answer a copy of the
// cache and samples its first token.
func (s *scheduler) start(j *job) {
	e := s.e
	seq, logits, err := s.prefill(j.prompt)
	if err != nil {
		j.finish(err)
		return
	}
	for i := range j.n {
		c := &choice{job: j, index: i, seq: seq, stream: e.tok.NewStream(),
			sampler: llama.NewSampler(j.sampling, j.seed+uint64(i))}
		if i < j.n-1 {
			c.seq = seq.Clone()
		}
		j.choices = append(j.choices, c)
		for _, t := range j.prompt {
			c.sampler.Observe(t)
		}
		s.advance(c, slices.Clone(logits))
	}
	s.finishDone(j)
}

// prefill runs the part of the prompt no cached prompt shares and returns
// the sequence and the next-token logits.
func (s *scheduler) prefill(prompt []int) (*llama.Sequence, []float32, error) {
	m := s.e.model
	seq, logits := s.prefix.lookup(m, prompt)
	if logits != nil {
		return seq, logits, nil
	}
	rest := prompt[seq.Len():]
	steps := make([]llama.Step, len(rest))
	for i, t := range rest {
		steps[i] = llama.Step{Seq: seq, Token: t, Logits: i == len(rest)-1}
	}
	out, err := m.Prompt(steps)
	if err != nil {
		return nil, nil, err
	}
	logits = out[len(out)-1]
	s.prefix.store(m, prompt, seq, logits)
	return seq, logits, nil
}

// advance samples c's next token; a finished answer leaves the batch.
func (s *scheduler) advance(c *choice, logits []float32) {
	token := c.sampler.Next(logits)
	room := s.e.model.ContextLen - c.seq.Len() - 1
	if c.accept(token, s.e.stopIDs, room) {
		s.running = append(s.running, c)
	}
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
	for i, c := range batch {
		if c.job.err == nil && !isClosed(c.job.done) {
			s.advance(c, out[i])
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
