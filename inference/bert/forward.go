package bert

import (
	"math"
	"strings"

	"rustexpert/inference/tensor"
)

// maxBatchTokens bounds how many tokens go through the encoder together.
// Texts are packed one after the other without padding; only attention
// keeps them apart.
const maxBatchTokens = 2048

// Embed returns one embedding per text (Dim floats, unit length when the
// model normalizes). Texts longer than the model's max_seq_length are cut,
// as sentence-transformers does.
func (e *Encoder) Embed(texts []string) ([][]float32, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	seqs := make([][]int, len(texts))
	for i, t := range texts {
		if e.cfg.LowerCase {
			t = strings.ToLower(t)
		}
		seqs[i] = e.tok.Encode(t)
	}
	out := make([][]float32, len(texts))
	for start := 0; start < len(seqs); {
		end, tokens := start, 0
		for end < len(seqs) && (end == start || tokens+len(seqs[end]) <= maxBatchTokens) {
			tokens += len(seqs[end])
			end++
		}
		e.forward(seqs[start:end], out[start:end])
		start = end
	}
	return out, nil
}

// batch is several token sequences packed one after the other.
type batch struct {
	seqs [][]int
	offs []int // first token of each sequence
	n    int   // tokens in all
}

func newBatch(seqs [][]int) batch {
	b := batch{seqs: seqs, offs: make([]int, len(seqs))}
	for i, s := range seqs {
		b.offs[i] = b.n
		b.n += len(s)
	}
	return b
}

// forward runs the encoder on seqs and writes their pooled embeddings to
// out.
func (e *Encoder) forward(seqs [][]int, out [][]float32) {
	c := e.cfg
	b := newBatch(seqs)
	s, _ := e.scratch.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	defer e.scratch.Put(s)
	s.size(b.n, c, e.workers)
	e.embed(s, b)
	for i := range e.layers {
		e.layer(&e.layers[i], b, s)
	}
	for i := range seqs {
		out[i] = e.pool(s.x[b.offs[i]*c.Hidden : (b.offs[i]+len(seqs[i]))*c.Hidden])
	}
}

// scratch is the working memory of one forward pass, kept between calls
// in Encoder.scratch.
type scratch struct {
	x, qkv, ctx, tmp, up []float32
	workers              []worker
}

// worker is the working memory of one of the goroutines of a forward pass.
type worker struct {
	panels tensor.PanelScratch
	attn   attnScratch
	pos    []float32
}

// size makes room for n tokens and workers goroutines.
func (s *scratch) size(n int, c Config, workers int) {
	s.x = grow(s.x, n*c.Hidden)
	s.qkv = grow(s.qkv, n*3*c.Hidden)
	s.ctx = grow(s.ctx, n*c.Hidden)
	s.tmp = grow(s.tmp, n*c.Hidden)
	s.up = grow(s.up, n*c.Intermediate)
	if len(s.workers) < workers {
		s.workers = make([]worker, workers)
	}
}

// embed writes word + position + token type (0) embeddings, normalized, for
// every token of b into s.x.
func (e *Encoder) embed(s *scratch, b batch) {
	h := e.cfg.Hidden
	e.parallel(s, len(b.seqs), 1, func(w *worker, lo, hi int) {
		w.pos = grow(w.pos, h)
		for i := lo; i < hi; i++ {
			for j, id := range b.seqs[i] {
				row := s.x[(b.offs[i]+j)*h : (b.offs[i]+j+1)*h]
				e.word.Row(id, row)
				e.position.Row(j, w.pos)
				addTo(row, w.pos)
				addTo(row, e.tokenType)
			}
		}
		x := s.x[b.offs[lo]*h : (b.offs[hi-1]+len(b.seqs[hi-1]))*h]
		tensor.AddLayerNorm(x, nil, e.embNorm.weight, e.embNorm.bias, float32(e.cfg.LayerNormEps))
	})
}

// layer runs one transformer block on s.x in place.
func (e *Encoder) layer(l *layer, b batch, s *scratch) {
	eps := float32(e.cfg.LayerNormEps)
	h, inter := e.cfg.Hidden, e.cfg.Intermediate
	x := s.x
	e.apply(s, &l.qkv, s.qkv, x, b.n, nil)
	e.attention(s, b)
	e.apply(s, &l.out, s.tmp, s.ctx, b.n, func(t0, t1 int) {
		tensor.AddLayerNorm(x[t0*h:t1*h], s.tmp[t0*h:t1*h], l.attnNorm.weight, l.attnNorm.bias, eps)
	})
	e.apply(s, &l.up, s.up, x, b.n, func(t0, t1 int) { tensor.GELU(s.up[t0*inter : t1*inter]) })
	e.apply(s, &l.down, s.tmp, s.up, b.n, func(t0, t1 int) {
		tensor.AddLayerNorm(x[t0*h:t1*h], s.tmp[t0*h:t1*h], l.ffnNorm.weight, l.ffnNorm.bias, eps)
	})
}

// blockTokens is the number of tokens that go through a layer together
// (a multiple of tensor.PanelGroup): their inputs stay in the core's cache
// while every weight panel passes.
const blockTokens = 8 * tensor.PanelGroup

// apply computes out = x·Wᵀ + bias for n vectors and then runs then (when
// not nil) on the finished vectors [t0,t1), possibly several times on
// disjoint ranges. Batches of several blocks are split by blocks of tokens,
// each finished while it is in its core's cache; smaller ones by weight
// panels.
func (e *Encoder) apply(s *scratch, l *linear, out, x []float32, n int, then func(t0, t1 int)) {
	rows, cols := l.w.Rows, l.w.Cols
	if n >= 2*e.workers*blockTokens {
		e.parallel(s, n, blockTokens, func(w *worker, t0, t1 int) {
			l.w.Mul(out[t0*rows:], rows, x[t0*cols:], cols, t1-t0, 0, rows, l.bias, &w.panels)
			if then != nil {
				then(t0, t1)
			}
		})
		return
	}
	// About four pieces per worker: each pads the last group of vectors.
	panels := (rows + tensor.PanelRows - 1) / tensor.PanelRows
	step := max(1, panels/(4*e.workers)) * tensor.PanelRows
	e.parallel(s, rows, step, func(w *worker, r0, r1 int) {
		l.w.Mul(out, rows, x, cols, n, r0, r1, l.bias, &w.panels)
	})
	if then != nil {
		e.parallel(s, n, 16, func(_ *worker, t0, t1 int) { then(t0, t1) })
	}
}

// attention computes, for each sequence and head, softmax(q·kᵀ/√d)·v from
// s.qkv (each token's query, key and value vectors one after the other)
// into s.ctx.
func (e *Encoder) attention(s *scratch, b batch) {
	heads := e.cfg.Heads
	e.parallel(s, len(b.seqs)*heads, 1, func(w *worker, lo, hi int) {
		for job := lo; job < hi; job++ {
			q := job / heads
			e.attendHead(s.qkv, s.ctx, b.offs[q], len(b.seqs[q]), job%heads, &w.attn, &w.panels)
		}
	})
}

// attnScratch is one worker's attention buffers.
type attnScratch struct {
	scores []float32
	k, v   tensor.Panels
}

// attendHead runs head h over the l tokens from off: the queries times the
// keys, packed, then the probabilities times the values, packed from their
// transpose, straight into ctx.
func (e *Encoder) attendHead(qkv, ctx []float32, off, l, h int, a *attnScratch, ps *tensor.PanelScratch) {
	if l == 0 {
		return
	}
	hid := e.cfg.Hidden
	d := hid / e.cfg.Heads
	a.scores = grow(a.scores, l*l)
	scale := float32(1 / math.Sqrt(float64(d)))
	base := qkv[off*3*hid:]
	a.k.Pack(l, d, base[hid+h*d:], 3*hid, 1)
	a.k.Mul(a.scores, l, base[h*d:], 3*hid, l, 0, l, nil, ps)
	tensor.ScaledSoftmax(a.scores, l, scale)
	a.v.Pack(d, l, base[2*hid+h*d:], 1, 3*hid)
	a.v.Mul(ctx[off*hid+h*d:], hid, a.scores, l, l, 0, d, nil, ps)
}

func grow(v []float32, n int) []float32 {
	if cap(v) < n {
		return make([]float32, n)
	}
	return v[:n]
}

// pool averages the token vectors x (Hidden floats each) and normalizes the
// mean to unit length when the model does.
func (e *Encoder) pool(x []float32) []float32 {
	h := e.cfg.Hidden
	n := len(x) / h
	sum := make([]float64, h)
	for t := range n {
		for j, v := range x[t*h : (t+1)*h] {
			sum[j] += float64(v)
		}
	}
	out := make([]float32, h)
	norm := 0.0
	for j := range sum {
		sum[j] /= float64(max(n, 1))
		norm += sum[j] * sum[j]
	}
	scale := 1.0
	if e.cfg.Normalize {
		scale = 1 / max(math.Sqrt(norm), 1e-12)
	}
	for j := range sum {
		out[j] = float32(sum[j] * scale)
	}
	return out
}

func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}
