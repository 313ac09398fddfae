package llama

import (
	"fmt"
	"math"

	"rustexpert/inference/tensor"
)

// Forward processes generated tokens in one batch: one new token for each of
// several sequences (or several tokens of one). Each step's key and value join
// its sequence's cache; a step attends to its own sequence up to its position.
// It returns next-token logits for the steps that ask for them (nil for the
// others).
func (m *Model) Forward(steps []Step) ([][]float32, error) { return m.forward(steps, false) }

// Prompt is Forward for prompt tokens: the same result up to rounding, through
// a blocked matrix multiply that is several times faster for many tokens.
func (m *Model) Prompt(steps []Step) ([][]float32, error) { return m.forward(steps, true) }

func (m *Model) forward(steps []Step, prompt bool) ([][]float32, error) {
	if err := checkSteps(m, steps); err != nil {
		return nil, err
	}
	pos, err := m.positions(steps)
	if err != nil {
		return nil, err
	}
	n, h := len(steps), m.Hidden
	x := make([]float32, n*h)
	for i, s := range steps {
		m.embed.Row(s.Token, x[i*h:(i+1)*h])
	}
	b := m.newBuffers(n)
	b.prompt = prompt
	for l := range m.layers {
		m.attentionBlock(l, steps, pos, x, b)
		m.feedForwardBlock(l, x, b, n)
	}
	return m.logits(steps, x), nil
}

// positions gives each step its position and grows the caches; it refuses a
// batch that would run past the context length.
func (m *Model) positions(steps []Step) ([]int, error) {
	pos := make([]int, len(steps))
	next := map[*Sequence]int{}
	for i, s := range steps {
		p, ok := next[s.Seq]
		if !ok {
			p = s.Seq.n
		}
		if p >= m.ContextLen {
			return nil, fmt.Errorf("the sequence reaches position %d, past the model's context length of %d tokens", p+1, m.ContextLen)
		}
		pos[i] = p
		next[s.Seq] = p + 1
	}
	for seq, p := range next {
		seq.grow(m, p)
	}
	return pos, nil
}

// grow makes room for n positions in every layer's cache.
func (s *Sequence) grow(m *Model, n int) {
	size := n * m.kvDim()
	for l := range s.k {
		if cap(s.k[l]) < size {
			c := max(size, 2*cap(s.k[l]), 64*m.kvDim())
			s.k[l] = append(make([]float32, 0, c), s.k[l]...)
			s.v[l] = append(make([]float32, 0, c), s.v[l]...)
		}
		s.k[l] = s.k[l][:size]
		s.v[l] = s.v[l][:size]
	}
	s.n = n
}

type buffers struct {
	norm, q, k, v, att, proj, gate, up []float32
	prompt                             bool // prompt tokens: blocked matrix multiply
}

func (m *Model) newBuffers(n int) *buffers {
	return &buffers{
		norm: make([]float32, n*m.Hidden), q: make([]float32, n*m.qDim()),
		k: make([]float32, n*m.kvDim()), v: make([]float32, n*m.kvDim()),
		att: make([]float32, n*m.qDim()), proj: make([]float32, n*m.Hidden),
		gate: make([]float32, n*m.FFN), up: make([]float32, n*m.FFN),
	}
}

func (m *Model) attentionBlock(l int, steps []Step, pos []int, x []float32, b *buffers) {
	ly := &m.layers[l]
	n := len(steps)
	m.rmsNorm(b.norm, x, ly.attnNorm, n)
	in := &input{x: b.norm, n: n}
	m.apply(&ly.q, b.q, in, b.prompt)
	m.apply(&ly.k, b.k, in, b.prompt)
	m.apply(&ly.v, b.v, in, b.prompt)
	kv := m.kvDim()
	for i, s := range steps {
		m.rope(b.q[i*m.qDim():(i+1)*m.qDim()], pos[i])
		m.rope(b.k[i*kv:(i+1)*kv], pos[i])
		copy(s.Seq.k[l][pos[i]*kv:], b.k[i*kv:(i+1)*kv])
		copy(s.Seq.v[l][pos[i]*kv:], b.v[i*kv:(i+1)*kv])
	}
	m.parallel(n*m.Heads, 1, func(lo, hi int) {
		scores := make([]float32, 0, 256)
		for t := lo; t < hi; t++ {
			i, head := t/m.Heads, t%m.Heads
			scores = m.attend(b.att, b.q, steps[i].Seq, l, i, head, pos[i], scores)
		}
	})
	m.apply(&ly.o, b.proj, &input{x: b.att, n: n}, b.prompt)
	addTo(x, b.proj)
}

// attend writes one head's attention output for step i.
func (m *Model) attend(out, q []float32, seq *Sequence, l, i, head, pos int, scores []float32) []float32 {
	d, kv := m.HeadDim, m.kvDim()
	kvHead := head / (m.Heads / m.KVHeads)
	qv := q[i*m.qDim()+head*d : i*m.qDim()+(head+1)*d]
	scale := float32(1 / math.Sqrt(float64(d)))
	scores = scores[:0]
	keys, values := seq.k[l], seq.v[l]
	for j := 0; j <= pos; j++ {
		k := keys[j*kv+kvHead*d : j*kv+(kvHead+1)*d]
		scores = append(scores, tensor.Dot(qv, k)*scale)
	}
	tensor.Softmax(scores)
	o := out[i*m.qDim()+head*d : i*m.qDim()+(head+1)*d]
	clear(o)
	for j, w := range scores {
		tensor.Axpy(o, w, values[j*kv+kvHead*d:j*kv+(kvHead+1)*d])
	}
	return scores
}

func (m *Model) feedForwardBlock(l int, x []float32, b *buffers, n int) {
	ly := &m.layers[l]
	m.rmsNorm(b.norm, x, ly.ffnNorm, n)
	in := &input{x: b.norm, n: n}
	m.apply(&ly.gate, b.gate, in, b.prompt)
	m.apply(&ly.up, b.up, in, b.prompt)
	tensor.SiLUMul(b.gate, b.up)
	m.apply(&ly.down, b.proj, &input{x: b.gate, n: n}, b.prompt)
	addTo(x, b.proj)
}

// logits applies the final norm and the output projection to the steps that
// ask for logits.
func (m *Model) logits(steps []Step, x []float32) [][]float32 {
	h := m.Hidden
	var rows []float32
	var idx []int
	for i, s := range steps {
		if s.Logits {
			rows = append(rows, x[i*h:(i+1)*h]...)
			idx = append(idx, i)
		}
	}
	out := make([][]float32, len(steps))
	if len(idx) == 0 {
		return out
	}
	normed := make([]float32, len(rows))
	m.rmsNorm(normed, rows, m.norm, len(idx))
	all := make([]float32, len(idx)*m.Vocab)
	in := &input{x: normed, n: len(idx)}
	if xq := m.quantized(in, m.output, false); xq != nil {
		m.parallel(m.output.Rows, 256, func(lo, hi int) { m.output.MulRowsQ8(all, xq, lo, hi) })
	} else {
		m.parallel(m.output.Rows, 256, func(lo, hi int) { m.output.MulRows(all, normed, len(idx), lo, hi) })
	}
	for j, i := range idx {
		out[i] = all[j*m.Vocab : (j+1)*m.Vocab : (j+1)*m.Vocab]
	}
	return out
}

func (m *Model) rmsNorm(out, x, w []float32, n int) {
	h := m.Hidden
	for b := range n {
		xs, os := x[b*h:(b+1)*h], out[b*h:(b+1)*h]
		var sum float32
		for _, v := range xs {
			sum += v * v
		}
		inv := float32(1 / math.Sqrt(float64(sum/float32(h)+m.NormEps)))
		for i, v := range xs {
			os[i] = w[i] * (v * inv)
		}
	}
}

// rope rotates every head of v (heads × HeadDim) by the angles of position pos.
func (m *Model) rope(v []float32, pos int) {
	d, half := m.HeadDim, m.HeadDim/2
	for i := range half {
		angle := float32(pos) * m.invFreq[i]
		sin, cos := math.Sincos(float64(angle))
		s, c := float32(sin), float32(cos)
		for h := 0; h < len(v); h += d {
			a, b := h+i, h+i+half
			if m.RopePairs {
				a, b = h+2*i, h+2*i+1
			}
			x0, x1 := v[a], v[b]
			v[a] = x0*c - x1*s
			v[b] = x0*s + x1*c
		}
	}
}
