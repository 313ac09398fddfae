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
	x := make([]float32, b.n*c.Hidden)
	e.embed(x, b)
	s := scratch{
		qkv:  make([]float32, b.n*3*c.Hidden),
		ctx:  make([]float32, b.n*c.Hidden),
		tmp:  make([]float32, b.n*c.Hidden),
		up:   make([]float32, b.n*c.Intermediate),
		gelu: make([]float32, b.n*c.Intermediate),
	}
	for i := range e.layers {
		e.layer(&e.layers[i], x, b, &s)
	}
	for i := range seqs {
		out[i] = e.pool(x[b.offs[i]*c.Hidden : (b.offs[i]+len(seqs[i]))*c.Hidden])
	}
}

// scratch is the working memory of one forward pass.
type scratch struct {
	qkv, ctx, tmp, up, gelu []float32
}

// embed writes word + position + token type (0) embeddings, normalized, for
// every token of b into x.
func (e *Encoder) embed(x []float32, b batch) {
	h := e.cfg.Hidden
	e.parallel(len(b.seqs), 1, func(lo, hi int) {
		pos := make([]float32, h)
		for i := lo; i < hi; i++ {
			for j, id := range b.seqs[i] {
				row := x[(b.offs[i]+j)*h : (b.offs[i]+j+1)*h]
				e.word.Row(id, row)
				e.position.Row(j, pos)
				addTo(row, pos)
				addTo(row, e.tokenType)
				e.embNorm.apply(row, float32(e.cfg.LayerNormEps))
			}
		}
	})
}

// layer runs one transformer block on x in place.
func (e *Encoder) layer(l *layer, x []float32, b batch, s *scratch) {
	n, eps := b.n, float32(e.cfg.LayerNormEps)
	e.apply(&l.qkv, s.qkv, x, n)
	e.attention(s.qkv, s.ctx, b)
	e.apply(&l.out, s.tmp, s.ctx, n)
	e.addNorm(x, s.tmp, l.attnNorm, n, eps)
	e.apply(&l.up, s.up, x, n)
	e.parallel(len(s.up), 4096, func(lo, hi int) { gelu(s.up[lo:hi], s.gelu[lo:hi]) })
	e.apply(&l.down, s.tmp, s.up, n)
	e.addNorm(x, s.tmp, l.ffnNorm, n, eps)
}

// apply computes out = x·Wᵀ + bias for n vectors, the weight rows split
// across workers in tiles of 16.
func (e *Encoder) apply(l *linear, out, x []float32, n int) {
	rows := l.w.Rows
	tiles := (rows + 15) / 16
	e.parallel(tiles, 1, func(lo, hi int) {
		r0, r1 := lo*16, min(hi*16, rows)
		l.w.MulMat(out, x, n, r0, r1)
		for t := range n {
			addTo(out[t*rows+r0:t*rows+r1], l.bias[r0:r1])
		}
	})
}

// addNorm sets x to LayerNorm(x + y) for each of n vectors.
func (e *Encoder) addNorm(x, y []float32, ln layerNorm, n int, eps float32) {
	h := len(ln.weight)
	e.parallel(n, 16, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			row := x[t*h : (t+1)*h]
			addTo(row, y[t*h:(t+1)*h])
			ln.apply(row, eps)
		}
	})
}

// attention computes, for each sequence and head, softmax(q·kᵀ/√d)·v into
// ctx. qkv holds each token's query, key and value vectors one after the
// other.
func (e *Encoder) attention(qkv, ctx []float32, b batch) {
	heads := e.cfg.Heads
	e.parallel(len(b.seqs)*heads, 1, func(lo, hi int) {
		var a attnScratch
		for job := lo; job < hi; job++ {
			s := job / heads
			e.attendHead(qkv, ctx, b.offs[s], len(b.seqs[s]), job%heads, &a)
		}
	})
}

// attnScratch is one worker's attention buffers.
type attnScratch struct {
	q, k, vt, scores, out []float32
}

func (a *attnScratch) size(l, d int) {
	a.q = grow(a.q, l*d)
	a.k = grow(a.k, l*d)
	a.vt = grow(a.vt, l*d)
	a.scores = grow(a.scores, l*l)
	a.out = grow(a.out, l*d)
}

func grow(v []float32, n int) []float32 {
	if cap(v) < n {
		return make([]float32, n)
	}
	return v[:n]
}

// attendHead runs head h over the l tokens from off: both products go
// through the blocked multiply, keys and transposed values as matrices.
func (e *Encoder) attendHead(qkv, ctx []float32, off, l, h int, a *attnScratch) {
	hid := e.cfg.Hidden
	d := hid / e.cfg.Heads
	a.size(l, d)
	scale := float32(1 / math.Sqrt(float64(d)))
	for i := range l {
		row := qkv[(off+i)*3*hid:]
		q, k, v := row[h*d:(h+1)*d], row[hid+h*d:hid+(h+1)*d], row[2*hid+h*d:2*hid+(h+1)*d]
		for j := range d {
			a.q[i*d+j] = q[j] * scale
			a.vt[j*l+i] = v[j]
		}
		copy(a.k[i*d:(i+1)*d], k)
	}
	tensor.F32Matrix(l, d, a.k).MulMat(a.scores, a.q, l, 0, l)
	for i := range l {
		tensor.Softmax(a.scores[i*l : (i+1)*l])
	}
	tensor.F32Matrix(d, l, a.vt).MulMat(a.out, a.scores, l, 0, d)
	for i := range l {
		copy(ctx[(off+i)*hid+h*d:(off+i)*hid+(h+1)*d], a.out[i*d:(i+1)*d])
	}
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

// apply normalizes x in place: (x - mean) / √(var + eps) · weight + bias.
func (ln layerNorm) apply(x []float32, eps float32) {
	var sum, sq float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(len(x))
	for _, v := range x {
		d := float64(v) - mean
		sq += d * d
	}
	inv := 1 / math.Sqrt(sq/float64(len(x))+float64(eps))
	for i, v := range x {
		x[i] = float32((float64(v)-mean)*inv)*ln.weight[i] + ln.bias[i]
	}
}

// gelu applies x·Φ(x) = x/2·(1 + erf(x/√2)) in place, the exact GELU, with
// erf from Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7) and
// its exponential from tensor.Exp. buf is scratch of len(x) floats.
func gelu(x, buf []float32) {
	buf = buf[:len(x)]
	for i, v := range x {
		buf[i] = -0.5 * v * v
	}
	tensor.Exp(buf)
	for i, v := range x {
		bits := math.Float32bits(v)
		z := math.Float32frombits(bits&^signBit) * (1 / math.Sqrt2)
		t := 1 / (1 + 0.3275911*z)
		p := t * (0.254829592 + t*(-0.284496736+t*(1.421413741+t*(-1.453152027+t*1.061405429))))
		erf := math.Float32frombits(math.Float32bits(1-p*buf[i]) | bits&signBit) // erf(|z|) with v's sign
		x[i] = 0.5 * v * (1 + erf)
	}
}

const signBit = 1 << 31

func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

// parallel runs fn over [0,n) on up to e.workers goroutines.
func (e *Encoder) parallel(n, minChunk int, fn func(lo, hi int)) {
	tensor.Parallel(e.workers, n, minChunk, fn)
}
