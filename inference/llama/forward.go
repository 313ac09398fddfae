package llama

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

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
	defer runtime.KeepAlive(m) // its weights' arena (ownArena) must outlive the last kernel
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
	b := m.newBuffers(n, prompt, pos)
	b.adapters = stepAdapters(steps)
	last := len(m.layers) - 1
	for l := range last {
		m.attentionBlock(l, steps, pos, x, b)
		m.feedForwardBlock(l, x, b, n)
	}
	return m.lastLayer(last, steps, pos, x, b), nil
}

// lastLayer runs the last layer and returns the logits. Past the keys and values that join the
// caches, the last layer's work only feeds logits: the steps that ask for none (most of a
// prompt) stop after their keys and values, and the rest runs on the others alone. Each
// step's results are the bits it would get in any batch, so those are unchanged.
func (m *Model) lastLayer(l int, steps []Step, pos []int, x []float32, b *buffers) [][]float32 {
	var keep []int
	for i, s := range steps {
		if s.Logits {
			keep = append(keep, i)
		}
	}
	if len(keep) == len(steps) {
		m.attentionBlock(l, steps, pos, x, b)
		m.feedForwardBlock(l, x, b, len(steps))
		return m.logits(steps, x)
	}
	m.storeKeys(l, steps, pos, x, b) // every step's; the kept steps' again below, the same bits
	out := make([][]float32, len(steps))
	if len(keep) == 0 {
		return out
	}
	ks, kp, kx := pick(steps, keep), pick(pos, keep), m.pickRows(x, keep)
	kb := m.newBuffers(len(keep), b.prompt, kp)
	kb.adapters = stepAdapters(ks)
	m.attentionBlock(l, ks, kp, kx, kb)
	m.feedForwardBlock(l, kx, kb, len(keep))
	for j, lg := range m.logits(ks, kx) {
		out[keep[j]] = lg
	}
	return out
}

// storeKeys is the part of attentionBlock that puts the steps' keys and values of layer l in
// their caches, with the same bits, on b's buffers (made for these steps).
func (m *Model) storeKeys(l int, steps []Step, pos []int, x []float32, b *buffers) {
	ly := &m.layers[l]
	n, kv := len(steps), m.kvDim()
	m.rmsNorm(b.norm, x, ly.attnNorm, n)
	m.applyAll([]*linear{&ly.k, &ly.v}, [][]float32{b.k, b.v}, &input{x: b.norm, n: n, mem: &b.mem, adapters: b.adapters}, b.prompt)
	for i := range n {
		m.headNorm(b.k[i*kv:(i+1)*kv], ly.kNorm)
		m.rope(b.k[i*kv:(i+1)*kv], b.angles(i))
		m.cache(l, steps[i], pos[i], b.k[i*kv:], b.v[i*kv:])
	}
}

// cache writes one step's key and value (kvDim values each, at the start of k and v) into its
// sequence's cache for layer l, at position p.
func (m *Model) cache(l int, s Step, p int, k, v []float32) {
	d := m.HeadDim
	for h := range m.KVHeads {
		if s.Seq.half() {
			tensor.ToF16(s.Seq.keys16(l, h, d)[p*d:(p+1)*d], k[h*d:(h+1)*d])
			tensor.ToF16(s.Seq.values16(l, h, d)[p*d:(p+1)*d], v[h*d:(h+1)*d])
			continue
		}
		copy(s.Seq.keys(l, h, d)[p*d:(p+1)*d], k[h*d:(h+1)*d])
		copy(s.Seq.values(l, h, d)[p*d:(p+1)*d], v[h*d:(h+1)*d])
	}
}

// stepAdapters returns each step's LoRA adapter, or nil when none has one.
func stepAdapters(steps []Step) []int {
	if !slices.ContainsFunc(steps, func(s Step) bool { return s.Seq.adapter != 0 }) {
		return nil
	}
	ids := make([]int, len(steps))
	for i, s := range steps {
		ids[i] = s.Seq.adapter
	}
	return ids
}

// pick returns the elements of s at the indices idx.
func pick[T any](s []T, idx []int) []T {
	out := make([]T, len(idx))
	for j, i := range idx {
		out[j] = s[i]
	}
	return out
}

// pickRows returns the hidden-state rows of x at the indices idx.
func (m *Model) pickRows(x []float32, idx []int) []float32 {
	h := m.Hidden
	out := make([]float32, 0, len(idx)*h)
	for _, i := range idx {
		out = append(out, x[i*h:(i+1)*h]...)
	}
	return out
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

// grow makes room for n positions in every layer's cache: where it has
// fewer, each layer's keys and values move to blocks of twice as many
// positions (at least n and 64).
func (s *Sequence) grow(m *Model, n int) {
	if n > s.room {
		s.moveTo(m, max(n, 2*s.room, 64), s.n, s)
	}
	s.n = n
}

// moveTo gives s new blocks of room positions a head, holding the first n positions of
// from's keys and values (from may be s itself).
func (s *Sequence) moveTo(m *Model, room, n int, from *Sequence) {
	if from.half() {
		moveBlocks(s.k16, s.v16, from.k16, from.v16, m.KVHeads, m.HeadDim, from.room, room, n)
	} else {
		moveBlocks(s.k, s.v, from.k, from.v, m.KVHeads, m.HeadDim, from.room, room, n)
	}
	s.room = room
}

// moveBlocks gives every layer of k and v new blocks of room positions for each of heads
// heads, holding the first n positions of fk's and fv's blocks of fromRoom (the same layers
// possibly: each layer is read before it is replaced).
func moveBlocks[T any](k, v, fk, fv [][]T, heads, d, fromRoom, room, n int) {
	for l := range k {
		nk, nv := make([]T, heads*room*d), make([]T, heads*room*d)
		for h := range heads {
			copy(nk[h*room*d:], fk[l][h*fromRoom*d:][:n*d])
			copy(nv[h*room*d:], fv[l][h*fromRoom*d:][:n*d])
		}
		k[l], v[l] = nk, nv
	}
}

type buffers struct {
	norm, q, k, v, att, proj, gate, up []float32
	wide                               [][]float32 // a float16 cache's keys and values widened for packKV, per unit
	scores                             []float32   // generated tokens' attention scores (attendSplit)
	scoresAt                           []int       // step i's scores from scores[scoresAt[i]], pos[i]+1 a query head
	rope                               []float32   // each step's rotary cosines and sines (ropeAngles)
	steps                              int
	adapters                           []int      // each step's LoRA adapter, or nil for none
	prompt                             bool       // prompt tokens: blocked matrix multiply
	mem                                inputMem   // the inputs' quantized and AMX forms, one input at a time
	kv                                 []packedKV // a prompt run's keys and values packed for attention (attendPrompt)
}

func (m *Model) newBuffers(n int, prompt bool, pos []int) *buffers {
	return &buffers{
		norm: make([]float32, n*m.Hidden), q: make([]float32, n*m.qDim()),
		k: make([]float32, n*m.kvDim()), v: make([]float32, n*m.kvDim()),
		att: make([]float32, n*m.qDim()), proj: make([]float32, n*m.Hidden),
		gate: make([]float32, n*m.FFN), up: make([]float32, n*m.FFN),
		prompt: prompt, rope: m.ropeAngles(pos), steps: n,
	}
}

func (m *Model) attentionBlock(l int, steps []Step, pos []int, x []float32, b *buffers) {
	ly := &m.layers[l]
	n := len(steps)
	m.rmsNorm(b.norm, x, ly.attnNorm, n)
	in := &input{x: b.norm, n: n, mem: &b.mem, adapters: b.adapters}
	m.applyAll([]*linear{&ly.q, &ly.k, &ly.v}, [][]float32{b.q, b.k, b.v}, in, b.prompt)
	kv := m.kvDim()
	store := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			m.headNorm(b.q[i*m.qDim():(i+1)*m.qDim()], ly.qNorm)
			m.headNorm(b.k[i*kv:(i+1)*kv], ly.kNorm)
			m.rope(b.q[i*m.qDim():(i+1)*m.qDim()], b.angles(i))
			m.rope(b.k[i*kv:(i+1)*kv], b.angles(i))
			m.cache(l, steps[i], pos[i], b.k[i*kv:], b.v[i*kv:])
		}
	}
	if b.prompt {
		m.parallel(n, 32, store) // each step writes its own rows
	} else {
		store(0, n)
	}
	if b.prompt {
		m.attendPrompt(b, steps, pos, l)
	} else {
		m.attendSteps(b, steps, pos, l)
	}
	m.apply(&ly.o, b.proj, &input{x: b.att, n: n, mem: &b.mem, adapters: b.adapters}, b.prompt)
	m.addRows(x, b.proj, n)
}

// attendPrompt computes the attention of prompt steps: each run of steps of one sequence at
// consecutive positions as matrix products (attendRun), a head and a part of the run's queries
// at a time, over the run's keys and values packed once per key-value head.
func (m *Model) attendPrompt(b *buffers, steps []Step, pos []int, l int) {
	i0 := 0
	for i := 1; i <= len(steps); i++ {
		if i < len(steps) && steps[i].Seq == steps[i0].Seq && pos[i] == pos[i-1]+1 {
			continue
		}
		run := promptRun{seq: steps[i0].Seq, i0: i0, n: i - i0, p0: pos[i0]}
		kv := m.packKV(b, run, l)
		parts := queryParts(run.n)
		m.guided(m.Heads*len(parts), 1, func(lo, hi int) {
			a := attnPool.Get().(*attnScratch)
			defer attnPool.Put(a)
			for u := lo; u < hi; u++ {
				part, head := parts[u%len(parts)], u/len(parts)
				m.attendRun(b.att, b.q, run, head, part[0], part[1], &kv[head/(m.Heads/m.KVHeads)], a)
			}
		})
		i0 = i
	}
}

// packedKV is one key-value head's keys and values of a run, packed for attendRun: the keys
// as rows, the values transposed.
type packedKV struct{ k, v tensor.Panels }

// packKV packs layer l's keys and values of the run, up to its last position, for every
// key-value head (in b's memory, which the next run reuses): the query heads that share a
// key-value head (grouped-query attention) read them all.
func (m *Model) packKV(b *buffers, run promptRun, l int) []packedKV {
	d, keys := m.HeadDim, run.p0+run.n
	if len(b.kv) != m.KVHeads {
		b.kv = make([]packedKV, m.KVHeads)
	}
	if len(b.wide) != 2*m.KVHeads {
		b.wide = make([][]float32, 2*m.KVHeads)
	}
	m.parallel(2*m.KVHeads, 1, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			h := u / 2
			if u%2 == 0 {
				b.kv[h].k.Pack(keys, d, b.widened(u, run.seq, l, h, d, keys, true), d, 1)
			} else {
				b.kv[h].v.Pack(d, keys, b.widened(u, run.seq, l, h, d, keys, false), 1, d)
			}
		}
	})
	return b.kv
}

// widened returns the first keys positions of key-value head h's keys (or values) in layer l
// as float32: the cache itself, or a float16 cache widened into b's scratch for unit u.
func (b *buffers) widened(u int, seq *Sequence, l, h, d, keys int, isKey bool) []float32 {
	if !seq.half() {
		if isKey {
			return seq.keys(l, h, d)
		}
		return seq.values(l, h, d)
	}
	src := seq.values16(l, h, d)
	if isKey {
		src = seq.keys16(l, h, d)
	}
	b.wide[u] = slices.Grow(b.wide[u][:0], keys*d)[:keys*d]
	tensor.FromF16(b.wide[u], src)
	return b.wide[u]
}

// queryChunk is how many queries attendRun multiplies with the keys at once.
const queryChunk = 2 * tensor.PanelGroup

// queryParts splits a run's n queries in two where the causal work (growing with the
// position) halves, at a multiple of queryChunk, so that a head's work can go to two cores
// (a model's heads are often odd in number); a short run stays whole.
func queryParts(n int) [][2]int {
	split := int(float64(n)/math.Sqrt2) / queryChunk * queryChunk
	if split == 0 || split >= n {
		return [][2]int{{0, n}}
	}
	return [][2]int{{0, split}, {split, n}}
}

// promptRun is n steps of seq, from step i0 of the batch, at positions p0, p0+1, ….
type promptRun struct {
	seq       *Sequence
	i0, n, p0 int
}

// attnScratch is one worker's buffers for attendRun, kept in attnPool: a
// chunk of queries' scores (28 queries over a 1,500-token prompt's keys are
// 168 KB), which every head of every layer would otherwise allocate anew.
type attnScratch struct {
	scores []float32
	ps     tensor.PanelScratch
}

var attnPool = sync.Pool{New: func() any { return new(attnScratch) }}

// attendRun writes one head's attention output for queries [q0,q1) of a run of prompt steps
// (q0 a multiple of queryChunk), over the head's packed keys and values, a chunk of queries at
// a time, so that the chunk's scores stay in the core's cache between its three steps: the
// queries times the keys up to the last one's position, a softmax of each query's scores up to
// its own position, then the probabilities times the values, each group of queries over the
// values up to its last one's position. Each query's output depends only on itself and the
// keys and values up to its position, not on the other queries, the parts or how far the
// packs go, as the matrix multiplies guarantee (tensor.Panels).
func (m *Model) attendRun(out, q []float32, r promptRun, head, q0, q1 int, kv *packedKV, a *attnScratch) {
	d, qd := m.HeadDim, m.qDim()
	scale := float32(1 / math.Sqrt(float64(d)))
	for t0 := 0; t0 < q1-q0; t0 += queryChunk {
		t1 := min(t0+queryChunk, q1-q0)
		keys := r.p0 + q0 + t1
		a.scores = slices.Grow(a.scores[:0], (t1-t0)*keys)[:(t1-t0)*keys]
		kv.k.Mul(a.scores, keys, q[(r.i0+q0+t0)*qd+head*d:], qd, t1-t0, 0, keys, nil, &a.ps)
		tensor.CausalSoftmax(a.scores, keys, r.p0+q0+t0, scale)
		for g0 := t0; g0 < t1; g0 += tensor.PanelGroup {
			g1 := min(g0+tensor.PanelGroup, t1)
			kv.v.MulFirst(out[(r.i0+q0+g0)*qd+head*d:], qd, a.scores[(g0-t0)*keys:], keys, g1-g0, 0, d, r.p0+q0+g1, nil, &a.ps)
		}
	}
}

// splitKeys is the number of keys from which a batch with fewer key-value heads in all than
// twice the cores attends in three evenly split parts (attendSplit) rather than one job.
const splitKeys = 256

// attendSteps writes the attention output of generated tokens: with a float16 cache (and
// kernels for its heads, tensor.GroupedF16), per key-value head (attendGroup: each key and
// value row read once for the query heads that share it), and a batch of fewer such groups
// than twice the cores over long caches in three evenly split parts (attendSplit); otherwise
// per query head. Every head's output has the same bits either way (TestAttentionPathsAgree).
func (m *Model) attendSteps(b *buffers, steps []Step, pos []int, l int) {
	n := len(steps)
	grouped := tensor.GroupedF16(m.HeadDim, m.Heads/m.KVHeads)
	for _, s := range steps {
		grouped = grouped && s.Seq.half()
	}
	few := n*m.KVHeads < 2*m.cores.N()
	switch {
	case grouped && few && slices.Min(pos) >= splitKeys:
		m.attendSplit(b, steps, pos, l)
	case grouped && !few:
		m.parallel(n*m.KVHeads, 1, func(lo, hi int) {
			var scores []float32
			for t := lo; t < hi; t++ {
				scores = m.attendGroup(b.att, b.q, steps[t/m.KVHeads].Seq, l, t/m.KVHeads, t%m.KVHeads, pos[t/m.KVHeads], scores)
			}
		})
	default:
		m.parallel(n*m.Heads, 1, func(lo, hi int) {
			scores := make([]float32, 0, 256)
			for t := lo; t < hi; t++ {
				i, head := t/m.Heads, t%m.Heads
				scores = m.attend(b.att, b.q, steps[i].Seq, l, i, head, pos[i], scores)
			}
		})
	}
}

// attendGroup writes the attention output of step i for the query heads that share key-value
// head kvHead, over a float16 cache: each row read once for all of them, the values asked of
// the memory while the keys are read.
func (m *Model) attendGroup(out, q []float32, seq *Sequence, l, i, kvHead, pos int, scores []float32) []float32 {
	g, d, keys := m.Heads/m.KVHeads, m.HeadDim, pos+1
	at := i*m.qDim() + kvHead*g*d
	scores = slices.Grow(scores[:0], g*keys)[:g*keys]
	values := seq.values16(l, kvHead, d)
	tensor.DotRowsF16Heads(scores, keys, q[at:at+g*d], g, keys, seq.keys16(l, kvHead, d), d, m.attnScale(), values)
	for h := range g {
		tensor.Softmax(scores[h*keys : (h+1)*keys])
	}
	for half := range 2 {
		tensor.AddRowsF16Heads(out[at:at+g*d], scores, keys, g, keys, values, d, half)
	}
	return scores
}

// attendSplit is attendGroup for every step in three parallel steps that each split evenly
// over the cores where a job per key-value head would not: the scores in parts of the keys,
// the softmax per query head, the weighted values in halves of each output.
func (m *Model) attendSplit(b *buffers, steps []Step, pos []int, l int) {
	g, d, kv := m.Heads/m.KVHeads, m.HeadDim, m.KVHeads
	if b.scoresAt == nil { // the same for every layer
		b.scoresAt = make([]int, len(steps)+1)
		for i, p := range pos {
			b.scoresAt[i+1] = b.scoresAt[i] + m.Heads*(p+1)
		}
		b.scores = make([]float32, b.scoresAt[len(steps)])
	}
	at := b.scoresAt
	units := len(steps) * kv
	parts := (2*m.cores.N() + units - 1) / units
	m.parallel(units*parts, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			i, kvHead, part := t/(kv*parts), t/parts%kv, t%parts
			keys := pos[i] + 1
			r0, r1 := keys*part/parts, keys*(part+1)/parts
			seq, qAt := steps[i].Seq, i*m.qDim()+kvHead*g*d
			tensor.DotRowsF16Heads(b.scores[at[i]+kvHead*g*keys+r0:], keys, b.q[qAt:qAt+g*d], g, r1-r0,
				seq.keys16(l, kvHead, d)[r0*d:], d, m.attnScale(), seq.values16(l, kvHead, d)[r0*d:])
		}
	})
	m.parallel(len(steps)*m.Heads, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			i, head := t/m.Heads, t%m.Heads
			keys := pos[i] + 1
			tensor.Softmax(b.scores[at[i]+head*keys : at[i]+(head+1)*keys])
		}
	})
	m.parallel(units*2, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			i, kvHead, half := t/(kv*2), t/2%kv, t%2
			keys, oAt := pos[i]+1, i*m.qDim()+kvHead*g*d
			tensor.AddRowsF16Heads(b.att[oAt:oAt+g*d], b.scores[at[i]+kvHead*g*keys:], keys, g, keys,
				steps[i].Seq.values16(l, kvHead, d), d, half)
		}
	})
}

// attnScale is the attention's score scale, 1/√HeadDim.
func (m *Model) attnScale() float32 { return float32(1 / math.Sqrt(float64(m.HeadDim))) }

// attend writes one head's attention output for step i.
func (m *Model) attend(out, q []float32, seq *Sequence, l, i, head, pos int, scores []float32) []float32 {
	d := m.HeadDim
	kvHead := head / (m.Heads / m.KVHeads)
	qv := q[i*m.qDim()+head*d : i*m.qDim()+(head+1)*d]
	scale := m.attnScale()
	scores = slices.Grow(scores[:0], pos+1)[:pos+1]
	o := out[i*m.qDim()+head*d : i*m.qDim()+(head+1)*d]
	if seq.half() {
		tensor.DotRowsF16(scores, qv, seq.keys16(l, kvHead, d), d, scale)
		tensor.Softmax(scores)
		tensor.AddRowsF16(o, scores, seq.values16(l, kvHead, d), d)
		return scores
	}
	tensor.DotRows(scores, qv, seq.keys(l, kvHead, d), d, scale)
	tensor.Softmax(scores)
	tensor.AddRows(o, scores, seq.values(l, kvHead, d), d)
	return scores
}

func (m *Model) feedForwardBlock(l int, x []float32, b *buffers, n int) {
	ly := &m.layers[l]
	m.rmsNorm(b.norm, x, ly.ffnNorm, n)
	in := &input{x: b.norm, n: n, mem: &b.mem, adapters: b.adapters}
	m.applyAll([]*linear{&ly.gate, &ly.up}, [][]float32{b.gate, b.up}, in, b.prompt)
	m.byRows(n, func(lo, hi int) { tensor.SiLUMul(b.gate[lo*m.FFN:hi*m.FFN], b.up[lo*m.FFN:hi*m.FFN]) })
	m.apply(&ly.down, b.proj, &input{x: b.gate, n: n, mem: &b.mem, adapters: b.adapters}, b.prompt)
	m.addRows(x, b.proj, n)
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
		m.decodeGroups([]*linear{{w: m.output}}, func(_, r0, r1 int) { m.output.MulRowsQ8(all, xq, r0, r1) })
	} else {
		head := m.decodeForm(m.output)
		m.parallel(head.Rows, 256, func(lo, hi int) { head.MulRows(all, normed, len(idx), lo, hi) })
	}
	for j, i := range idx {
		out[i] = all[j*m.Vocab : (j+1)*m.Vocab : (j+1)*m.Vocab]
	}
	return out
}

// headNorm applies the RMSNorm of weights w to each head of v in place (a
// step's queries or keys, qwen3); nothing when w is nil.
func (m *Model) headNorm(v, w []float32) {
	if w == nil {
		return
	}
	for h := 0; h < len(v); h += m.HeadDim {
		tensor.RMSNorm(v[h:h+m.HeadDim], v[h:h+m.HeadDim], w, m.NormEps)
	}
}

func (m *Model) rmsNorm(out, x, w []float32, n int) {
	h := m.Hidden
	m.byRows(n, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			tensor.RMSNorm(out[b*h:(b+1)*h], x[b*h:(b+1)*h], w, m.NormEps)
		}
	})
}

// addRows adds the n hidden-state rows of src to those of dst.
func (m *Model) addRows(dst, src []float32, n int) {
	h := m.Hidden
	m.byRows(n, func(lo, hi int) { addTo(dst[lo*h:hi*h], src[lo*h:hi*h]) })
}

// byRows runs fn over rows [0,n): split across the cores for a prompt's many rows, on the
// caller for a few. The work is row by row, so the split does not change a bit.
func (m *Model) byRows(n int, fn func(lo, hi int)) {
	const minRows = 32
	if n < 2*minRows {
		fn(0, n)
		return
	}
	m.parallel(n, minRows, fn)
}

// ropeAngles returns the cosine and sine of every rotary angle of each position, n × HeadDim/2
// pairs, computed once for all layers.
func (m *Model) ropeAngles(pos []int) []float32 {
	half := m.HeadDim / 2
	out := make([]float32, 2*len(pos)*half)
	for j, p := range pos {
		row := out[2*j*half : 2*(j+1)*half]
		for i := range half {
			sin, cos := math.Sincos(float64(float32(p) * m.invFreq[i]))
			row[2*i], row[2*i+1] = float32(cos), float32(sin)
		}
	}
	return out
}

// angles returns step i's cosines and sines (interleaved).
func (b *buffers) angles(i int) []float32 {
	n := len(b.rope) / b.steps
	return b.rope[i*n : (i+1)*n]
}

// rope rotates every head of v (heads × HeadDim) by the angles of one position (ropeAngles).
func (m *Model) rope(v, angles []float32) { tensor.Rope(v, m.HeadDim, angles, m.RopePairs) }
