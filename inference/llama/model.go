package llama

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"rustexpert/inference/tensor"
)

// Model is a loaded decoder, safe for concurrent Forward calls on different
// sequences.
type Model struct {
	Config
	embed       *tensor.Matrix
	layers      []layer
	norm        []float32
	output      *tensor.Matrix
	invFreq     []float32
	cores       *tensor.Cores // compute slots, possibly shared with other models
	activations Activations   // see SetActivations
	noAMX       bool          // AMX tiles off for prompts (see SetAMX)
	closers     []io.Closer
	// adapters are the LoRA adapters added (AddAdapter), adapter i at index
	// i-1, replaced whole when one is added (readers load it once a pass);
	// sequences made by NewSequence use defaultAdapter (ApplyAdapter's).
	adapters       atomic.Pointer[[]*adapter]
	defaultAdapter int
}

// adapter is a LoRA adapter's updates of the projections it adapts.
type adapter struct {
	dir     string
	updates map[*linear]*lowRank
}

type layer struct {
	attnNorm, ffnNorm []float32
	qNorm, kNorm      []float32 // each head's RMSNorm weights of queries and keys (Config.QKNorm), else nil
	q, k, v, o        linear
	gate, up, down    linear
}

// linear is y = W·x (+ bias) (+ scale·B·(A·x) for a step whose sequence has a
// LoRA adapter that adapts it).
type linear struct {
	w    *tensor.Matrix
	bias []float32
}

// lowRank is a LoRA update: A is r×in, B is out×r, bt is Bᵀ (r rows of
// out) for generated tokens, whose update is r scaled rows of it added up.
type lowRank struct {
	a, b  *tensor.Matrix
	bt    []float32
	scale float32
}

// newLowRank makes the update from A, B and B's values (out×r, row-major).
func newLowRank(a, b *tensor.Matrix, bv []float32, scale float32) *lowRank {
	r, out := b.Cols, b.Rows
	bt := make([]float32, r*out)
	for i := range out {
		for j := range r {
			bt[j*out+i] = bv[i*r+j]
		}
	}
	return &lowRank{a: a, b: b, bt: bt, scale: scale}
}

// Close releases the memory-mapped weight files.
func (m *Model) Close() error {
	var first error
	for _, c := range m.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	m.closers = nil
	return first
}

func (m *Model) init() {
	m.activations = ActivationsF32
	m.cores = tensor.NewCores(tensor.CPUs())
	half := m.HeadDim / 2
	m.invFreq = make([]float32, half)
	for i := range half {
		exp := float32(2*i) / float32(m.HeadDim)
		m.invFreq[i] = float32(1 / math.Pow(m.RopeTheta, float64(exp)))
		if m.RopeFactors != nil {
			m.invFreq[i] /= m.RopeFactors[i]
		}
	}
}

// maxInterleaved bounds the weights that get an interleaved copy: the copy
// doubles their memory, which a small model affords and a large one may not.
const maxInterleaved = 2 << 30

// interleave gives the quantized matrices their interleaved copy for
// decoding (tensor.Matrix.Interleave), the copying spread over the compute
// slots by groups of 16 rows. Models whose Q4_1/Q8_0 weights pass
// maxInterleaved keep the row kernels.
func (m *Model) interleave() {
	type part struct {
		w      *tensor.Matrix
		g0, g1 int
	}
	var parts []part
	var total int64 // 2 GiB overflows a 32-bit int
	for _, w := range m.decodeMatrices() {
		if w.Interleavable() {
			total += int64(len(w.Data))
		}
	}
	if total > maxInterleaved {
		return
	}
	mem := m.interleavedMemory()
	for _, w := range m.decodeMatrices() {
		n := w.InterleavedBytes()
		if n == 0 {
			continue
		}
		if mem != nil {
			w.UseInterleaved(mem[:n:n])
			mem = mem[(n+63)/64*64:]
		} else {
			w.AllocInterleaved()
		}
		for g := 0; g < w.Groups(); g += 64 {
			parts = append(parts, part{w, g, min(g+64, w.Groups())})
		}
	}
	m.parallel(len(parts), 1, func(lo, hi int) {
		for _, p := range parts[lo:hi] {
			p.w.InterleaveGroups(p.g0, p.g1)
		}
	})
}

// interleavedMemory maps the memory of all the interleaved copies, each at a multiple of 64
// bytes, in an arena the model owns (see arena), or returns nil to leave them on the Go heap
// when it cannot.
func (m *Model) interleavedMemory() []byte {
	size := 0
	for _, w := range m.decodeMatrices() {
		size += (w.InterleavedBytes() + 63) / 64 * 64
	}
	if size == 0 {
		return nil
	}
	a, err := newArena(size)
	if err != nil {
		return nil
	}
	m.ownArena(a)
	return a.data
}

// interleaveEach gives each of ws its interleaved copy on the Go heap, where
// its type and the CPU take one (interleave does all of a model's at once).
func (m *Model) interleaveEach(ws []*tensor.Matrix) {
	for _, w := range ws {
		if w.AllocInterleaved() {
			m.parallel(w.Groups(), 64, func(lo, hi int) { w.InterleaveGroups(lo, hi) })
		}
	}
}

// decodeMatrices lists the matrices that may get an interleaved copy: the
// weights and their int8 forms.
func (m *Model) decodeMatrices() []*tensor.Matrix {
	var ms []*tensor.Matrix
	for _, w := range m.matrices() {
		ms = append(ms, w)
		if f := w.Int8Form(); f != nil {
			ms = append(ms, f)
		}
	}
	return ms
}

// matrices lists the weight matrices the forward pass multiplies with.
func (m *Model) matrices() []*tensor.Matrix {
	var ms []*tensor.Matrix
	for i := range m.layers {
		ly := &m.layers[i]
		for _, l := range []*linear{&ly.q, &ly.k, &ly.v, &ly.o, &ly.gate, &ly.up, &ly.down} {
			ms = append(ms, l.w)
		}
	}
	return append(ms, m.output)
}

// Sequence is one conversation's key/value cache: the keys and values of every
// position processed so far, per layer. A layer's keys (and values) are one
// block per key-value head of room positions, head after head, so that a
// head's keys are consecutive for the attention to read as one stream. They
// are float32, or float16 where the model's int8 activations are on
// (halfCache): half the bytes for the attention of every generated token to
// read.
type Sequence struct {
	k, v     [][]float32 // the float32 cache, or nil
	k16, v16 [][]uint16  // the float16 cache, or nil
	adapter  int         // the LoRA adapter its keys and values were computed with (0: none)
	n        int         // positions in the cache
	room     int         // positions each head's block holds
}

// half reports whether the cache is float16.
func (s *Sequence) half() bool { return s.k16 != nil }

// keys returns key-value head h's keys in layer l (HeadDim d values a
// position, room positions) of a float32 cache.
func (s *Sequence) keys(l, h, d int) []float32 { return s.k[l][h*s.room*d : (h+1)*s.room*d] }

// values returns key-value head h's values in layer l, as keys does.
func (s *Sequence) values(l, h, d int) []float32 { return s.v[l][h*s.room*d : (h+1)*s.room*d] }

// keys16 and values16 are keys and values of a float16 cache.
func (s *Sequence) keys16(l, h, d int) []uint16 { return s.k16[l][h*s.room*d : (h+1)*s.room*d] }

func (s *Sequence) values16(l, h, d int) []uint16 { return s.v16[l][h*s.room*d : (h+1)*s.room*d] }

// NewSequence returns an empty sequence for m, with the adapter ApplyAdapter
// applied (if any).
func (m *Model) NewSequence() *Sequence { return m.NewSequenceWith(m.defaultAdapter) }

// NewSequenceWith returns an empty sequence whose steps run with LoRA adapter
// id (AddAdapter's; 0 for none): sequences of several adapters of one base
// model decode in one batch.
func (m *Model) NewSequenceWith(id int) *Sequence {
	s := newSequence(m.Layers, m.halfCache())
	s.adapter = id
	return s
}

// newSequence returns an empty sequence of layers layers, its cache float16 if half.
func newSequence(layers int, half bool) *Sequence {
	if half {
		return &Sequence{k16: make([][]uint16, layers), v16: make([][]uint16, layers)}
	}
	return &Sequence{k: make([][]float32, layers), v: make([][]float32, layers)}
}

// halfCache reports whether new sequences keep their keys and values in
// float16: with int8 activations, whose own rounding is far larger.
func (m *Model) halfCache() bool { return m.activations == ActivationsQ8 }

// Len is the number of positions in the cache.
func (s *Sequence) Len() int { return s.n }

// Bytes is the memory the sequence's keys and values take, room included.
func (s *Sequence) Bytes() int64 {
	var n int64
	for l := range s.k {
		n += 4 * int64(len(s.k[l])+len(s.v[l]))
	}
	for l := range s.k16 {
		n += 2 * int64(len(s.k16[l])+len(s.v16[l]))
	}
	return n
}

// Adapter is the LoRA adapter the sequence's steps run with (0: none).
func (s *Sequence) Adapter() int { return s.adapter }

// Clone copies the sequence, so several answers can continue one prompt.
func (s *Sequence) Clone() *Sequence {
	c := &Sequence{n: s.n, room: s.room, adapter: s.adapter}
	c.k, c.v = cloneLayers(s.k), cloneLayers(s.v)
	c.k16, c.v16 = cloneLayers(s.k16), cloneLayers(s.v16)
	return c
}

func cloneLayers[T any](layers [][]T) [][]T {
	if layers == nil {
		return nil
	}
	out := make([][]T, len(layers))
	for i, l := range layers {
		out[i] = slices.Clone(l)
	}
	return out
}

// Step is one token to process: it is appended to Seq at the next position.
// Logits asks for the next-token logits after this token.
type Step struct {
	Seq    *Sequence
	Token  int
	Logits bool
}

// parallel runs fn over [0,n) in chunks of at least minChunk, one per compute slot.
func (m *Model) parallel(n, minChunk int, fn func(lo, hi int)) {
	m.cores.Parallel(n, minChunk, fn)
}

// guided is parallel for a prompt's long jobs (tensor.Cores.Guided): a core the host slows down
// takes fewer of the tiles instead of keeping the other waiting.
func (m *Model) guided(n, minChunk int, fn func(lo, hi int)) { m.cores.Guided(n, minChunk, fn) }

// Parallel runs fn over [0,n) split into chunks of at least minChunk items on the model's
// compute slots (tensor.Cores.Parallel), between its passes: fn must not use the model.
func (m *Model) Parallel(n, minChunk int, fn func(lo, hi int)) { m.cores.Parallel(n, minChunk, fn) }

// ShareCores makes the model compute on c's slots, shared with the other models given the same c.
// Call it before the model is used.
func (m *Model) ShareCores(c *tensor.Cores) { m.cores = c }

// matmul computes out (n×rows) = x (n×cols) · Wᵀ, rows split across workers.
// Prompt tokens go through the blocked multiply (MulMat), generated tokens
// through the row-by-row one (MulVectors, the bits of MulRows): each gives the same bits for a vector
// whatever else is in the batch, so cached prompts and batched answers
// reproduce what a request alone computes. With int8 activations the same
// holds for MulMatQ8 and MulRowsQ8, and for MulMatAMX, which prompts use
// instead of MulMat where the CPU has AMX tiles.
func (m *Model) matmul(w *tensor.Matrix, out []float32, in *input, prompt bool) {
	x, n := in.x, in.n
	if xq := m.quantized(in, w, prompt); xq != nil {
		if prompt {
			tiles := (w.Rows + 15) / 16
			m.guided(tiles, 1, func(lo, hi int) { w.MulMatQ8(out, xq, lo*16, min(hi*16, w.Rows)) })
			return
		}
		m.decodeGroups([]*linear{{w: w}}, func(_, r0, r1 int) { w.MulRowsQ8(out, xq, r0, r1) })
		return
	}
	if xa := m.tiled(in, w, prompt); xa != nil {
		pairs := (w.Rows + 31) / 32
		m.guided(pairs, 1, func(lo, hi int) { w.MulMatAMX(out, xa, lo*32, min(hi*32, w.Rows)) })
		return
	}
	if prompt {
		tiles := (w.Rows + 15) / 16
		m.guided(tiles, 1, func(lo, hi int) { w.MulMat(out, x, n, lo*16, min(hi*16, w.Rows)) })
		return
	}
	w = m.decodeForm(w)
	v := tensor.PrepareVectors(x, n, w.Cols, w) // once for all workers
	m.parallel(w.Rows, 16, func(lo, hi int) { w.MulVectors(out, v, lo, hi) })
}

// apply computes out = l(x) for the n vectors of in.
func (m *Model) apply(l *linear, out []float32, in *input, prompt bool) {
	m.matmul(l.w, out, in, prompt)
	m.finish(l, out, in, prompt)
}

// applyAll is apply for several layers on the same input (q, k and v; gate
// and up). With int8 activations all their rows run in one parallel call,
// split at multiples of 16 rows: a decoded token's multiplies are short, and
// each parallel call costs a wake-up of the other cores; a prompt's take
// their tiles as the cores come free (one guided job ends once where three
// would each wait for their last tile: 0.98–0.99× a prompt's time). Generated
// tokens' input is prepared once for all the layers and workers: quantized
// (int8 activations), or its block sums computed (tensor.PrepareVectors, for
// the Q4_1 kernels).
func (m *Model) applyAll(ls []*linear, outs [][]float32, in *input, prompt bool) {
	switch {
	case m.int8(prompt) && !slices.ContainsFunc(ls, func(l *linear) bool { return m.quantized(in, l.w, prompt) == nil }):
		if prompt {
			m.tileGroups(ls, func(i, r0, r1 int) { ls[i].w.MulMatQ8(outs[i], in.q8, r0, r1) })
		} else {
			m.decodeGroups(ls, func(i, r0, r1 int) { ls[i].w.MulRowsQ8(outs[i], in.q8, r0, r1) })
		}
	case prompt || m.activations == ActivationsQ8:
		for i, l := range ls {
			m.apply(l, outs[i], in, prompt)
		}
		return
	default:
		ms := make([]*tensor.Matrix, len(ls))
		for i, l := range ls {
			ms[i] = m.decodeForm(l.w)
		}
		v := tensor.PrepareVectors(in.x, in.n, ls[0].w.Cols, ms...)
		m.rowGroups(ls, func(i, r0, r1 int) { ms[i].MulVectors(outs[i], v, r0, r1) })
	}
	for i, l := range ls {
		m.finish(l, outs[i], in, prompt)
	}
}

// rowGroups runs mul over the rows of all of ls's matrices in one parallel
// call, split at multiples of 16 rows: mul(i, r0, r1) for rows [r0,r1) of
// ls[i].
func (m *Model) rowGroups(ls []*linear, mul func(i, r0, r1 int)) { m.groupsOn(m.parallel, 1, ls, mul) }

// tileGroups is rowGroups for a prompt's matrices, in guided chunks.
func (m *Model) tileGroups(ls []*linear, mul func(i, r0, r1 int)) { m.groupsOn(m.guided, 1, ls, mul) }

// decodeGroups is rowGroups for generated tokens' int8 multiplies, in guided chunks of at
// least decodeChunk groups: a core that finishes first takes more rows instead of spinning
// while the other ends its half (a token's time 0.93×, median of ten alternating pairs of
// BenchmarkDecodeBundledQ8, on a VM whose two CPUs are one core's threads; bench/engine's
// decode 1.02–1.04× by medians of eight pairs), and a chunk's rows stay long enough for the
// kernels' four streams. Each row's result does not depend on the chunks.
func (m *Model) decodeGroups(ls []*linear, mul func(i, r0, r1 int)) {
	m.groupsOn(m.guided, decodeChunk, ls, mul)
}

// decodeChunk is the fewest 16-row groups a guided chunk of a generated token's multiply takes.
const decodeChunk = 16

// groupsOn is rowGroups on the given parallel runner.
func (m *Model) groupsOn(run func(n, minChunk int, fn func(lo, hi int)), minChunk int, ls []*linear, mul func(i, r0, r1 int)) {
	total := 0 // groups of 16 rows over all layers
	for _, l := range ls {
		total += (l.w.Rows + 15) / 16
	}
	run(total, minChunk, func(lo, hi int) {
		start := 0
		for i, l := range ls {
			end := start + (l.w.Rows+15)/16
			a, b := max(lo, start)-start, min(hi, end)-start
			if a < b {
				mul(i, a*16, min(b*16, l.w.Rows))
			}
			start = end
		}
	})
}

// finish adds l's bias and its LoRA updates to out = W·x: each vector's
// adapter's (in.adapters), the vectors of one adapter together.
func (m *Model) finish(l *linear, out []float32, in *input, prompt bool) {
	rows, n := l.w.Rows, in.n
	if l.bias != nil {
		for b := range n {
			addTo(out[b*rows:(b+1)*rows], l.bias)
		}
	}
	ids := in.adapters
	if len(ids) == 0 {
		return
	}
	if !slices.ContainsFunc(ids, func(id int) bool { return id != ids[0] }) {
		if a := m.adapterOf(ids[0]); a != nil && a.updates[l] != nil {
			m.addLowRank(a.updates[l], out, in, prompt)
		}
		return
	}
	for _, id := range distinct(ids) {
		if a := m.adapterOf(id); a != nil && a.updates[l] != nil {
			m.addLowRankTo(a.updates[l], out, in, prompt, id)
		}
	}
}

// addLowRankTo is addLowRank for in's vectors of adapter id alone: gathered,
// updated, put back (each vector's update is the one it gets alone).
func (m *Model) addLowRankTo(u *lowRank, out []float32, in *input, prompt bool, id int) {
	rows, cols := u.b.Rows, u.a.Cols
	var idx []int
	for i, a := range in.adapters {
		if a == id {
			idx = append(idx, i)
		}
	}
	x, o := make([]float32, len(idx)*cols), make([]float32, len(idx)*rows)
	for j, i := range idx {
		copy(x[j*cols:(j+1)*cols], in.x[i*cols:(i+1)*cols])
		copy(o[j*rows:(j+1)*rows], out[i*rows:(i+1)*rows])
	}
	m.addLowRank(u, o, &input{x: x, n: len(idx)}, prompt)
	for j, i := range idx {
		copy(out[i*rows:(i+1)*rows], o[j*rows:(j+1)*rows])
	}
}

// distinct returns the values of ids, each once, in order of first appearance.
func distinct(ids []int) []int {
	var out []int
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// addLowRank adds the LoRA update scale·B·(A·x) to out for the n vectors of
// in. A prompt's vectors go through the blocked multiplies, rows split
// across cores; a generated token's A·x is r short dot products and its
// B·(A·x) r scaled rows of Bᵀ added to out.
func (m *Model) addLowRank(u *lowRank, out []float32, in *input, prompt bool) {
	r, rows, n := u.a.Rows, u.b.Rows, in.n
	mid := make([]float32, n*r)
	if !prompt {
		// Both steps read the adapter's float32 rows (some 20 MB a token for a
		// 135M model's), so both split across cores: A's rows, then out's rows
		// in runs of 16 (Axpy's results do not depend on where a run starts).
		m.parallel(r, 1, func(lo, hi int) { u.a.MulRows(mid, in.x, n, lo, hi) })
		m.parallel((rows+15)/16, 1, func(lo, hi int) {
			lo, hi = lo*16, min(hi*16, rows)
			for b := range n {
				o := out[b*rows+lo : b*rows+hi]
				for j, v := range mid[b*r : (b+1)*r] {
					tensor.Axpy(o, u.scale*v, u.bt[j*rows+lo:j*rows+hi])
				}
			}
		})
		return
	}
	m.matmul(u.a, mid, &input{x: in.x, n: n}, true)
	buf := deltaPool.Get().(*[]float32)
	defer deltaPool.Put(buf)
	*buf = slices.Grow((*buf)[:0], n*rows)[:n*rows]
	delta := *buf
	m.matmul(u.b, delta, &input{x: mid, n: n}, true)
	tensor.Axpy(out[:n*rows], u.scale, delta)
}

// deltaPool recycles the buffers of prompts' LoRA updates (B·(A·x) for
// every vector, as large as the layer's output).
var deltaPool = sync.Pool{New: func() any { return new([]float32) }}

func addTo(dst, src []float32) { tensor.Add(dst, src) }

func checkSteps(m *Model, steps []Step) error {
	for i, s := range steps {
		if s.Token < 0 || s.Token >= m.Vocab {
			return fmt.Errorf("step %d: token %d is outside the vocabulary (0..%d)", i, s.Token, m.Vocab-1)
		}
		if s.Seq == nil {
			return fmt.Errorf("step %d: no sequence", i)
		}
		if s.Seq.half() != m.halfCache() {
			return fmt.Errorf("step %d: the sequence was made for the other activations (its cache is float16 with int8 activations only)", i)
		}
		if a := s.Seq.adapter; a < 0 || a > m.Adapters() {
			return fmt.Errorf("step %d: the sequence's adapter %d is not one of the model's %d", i, a, m.Adapters())
		}
	}
	return nil
}

// WeightTypes summarises the storage formats of the weight matrices, e.g.
// "Q4_1 ×210, Q8_0 ×1".
func (m *Model) WeightTypes() string {
	counts := map[string]int{}
	add := func(w *tensor.Matrix) {
		name := w.Type.String()
		if f := m.decodeForm(w); f != w {
			name += "→" + f.Type.String() // multiplied in its int8 form
		}
		counts[name]++
	}
	ms := m.matrices()
	if m.embed != m.output {
		ms = append(ms, m.embed)
	}
	for _, w := range ms {
		add(w)
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(counts[b]-counts[a], strings.Compare(a, b)) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s ×%d", n, counts[n])
	}
	return strings.Join(parts, ", ")
}

// WeightBytes is how many bytes of weights one decoded token reads: every
// layer's matrices and the output projection.
func (m *Model) WeightBytes() int64 {
	var n int64
	for _, w := range m.matrices() {
		n += int64(len(m.decodeForm(w).Data))
	}
	return n
}

// decodeForm is the matrix a generated token's multiply reads for w: its
// int8 form under int8 activations and under q8-prompt (whose float32
// kernels take the form's Q4_1 or Q8_0, where w's own format may have none
// but plain Go), else w.
func (m *Model) decodeForm(w *tensor.Matrix) *tensor.Matrix {
	if f := w.Int8Form(); f != nil && m.activations != ActivationsF32 {
		return f
	}
	return w
}

// CloneUpTo copies the first n positions of the sequence (all of them when n
// is larger), so a new prompt can continue a shared prefix.
func (s *Sequence) CloneUpTo(m *Model, n int) *Sequence {
	n = min(n, s.n)
	c := newSequence(m.Layers, s.half())
	c.adapter = s.adapter
	c.moveTo(m, max(n, 64), n, s)
	c.n = n
	return c
}
