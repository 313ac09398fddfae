package tensor

import "fmt"

// Float32 matrix multiply over packed weights (encoder layers, attention).
// A weight matrix W (Rows×Cols) is stored as panels of PanelRows rows, each
// panel column by column, so that one column of a panel is two 16-lane
// vectors. The kernel multiplies one panel with PanelGroup vectors: each
// output is bias[r] plus the products x[k]·W[r][k] added in the order
// k = 0, 1, 2, … by one fused multiply-add each, in registers, whatever the
// vector's place in the batch. A partial group of vectors (or panel of rows)
// goes through the same kernel on padded copies, so a vector's results do
// not depend on n, on the row range or on the other vectors.

// PanelRows is the number of weight rows in a panel: the kernel's outputs
// per vector, two 16-lane vectors. Callers split rows at its multiples.
const PanelRows = 32

// PanelGroup is the number of vectors the kernel multiplies in one call;
// batches of its multiples need no padding.
const PanelGroup = 14

// Panels is a float32 matrix packed for Mul. Its zero value is an empty
// matrix that Pack can fill.
type Panels struct {
	Rows, Cols int
	// data holds panel p, column k, row p·32+i at (p·Cols+k)·32+i; rows
	// past Rows are zeros.
	data []float32
}

// PackPanels packs the rows×cols matrix whose element (r, k) is
// w[r*rs+k*cs] (rs = cols, cs = 1 for a row-major matrix; rs = 1,
// cs = rows for its transpose).
func PackPanels(rows, cols int, w []float32, rs, cs int) *Panels {
	p := new(Panels)
	p.Pack(rows, cols, w, rs, cs)
	return p
}

// Pack is PackPanels into p, reusing its memory. It panics when w is too
// short for the shape and strides.
func (p *Panels) Pack(rows, cols int, w []float32, rs, cs int) {
	if rows < 0 || cols < 0 || rs < 0 || cs < 0 {
		panic(fmt.Sprintf("tensor.Panels.Pack: %d×%d matrix with strides %d, %d", rows, cols, rs, cs))
	}
	if rows > 0 && cols > 0 && len(w) <= (rows-1)*rs+(cols-1)*cs {
		panic(fmt.Sprintf("tensor.Panels.Pack: %d values for a %d×%d matrix with strides %d, %d", len(w), rows, cols, rs, cs))
	}
	np := (rows + PanelRows - 1) / PanelRows
	p.Rows, p.Cols = rows, cols
	p.data = resize(p.data, np*cols*PanelRows)
	if cols == 0 {
		return
	}
	for pi := range np {
		r0, r1 := pi*PanelRows, min((pi+1)*PanelRows, rows)
		dst := p.data[pi*cols*PanelRows : (pi+1)*cols*PanelRows]
		if r1-r0 < PanelRows {
			clear(dst)
		}
		packPanel(dst, w[r0*rs:], r1-r0, cols, rs, cs)
	}
}

// packPanel writes element (r, k) = w[r*rs+k*cs] of rows rows to
// dst[k*32+r].
func packPanel(dst, w []float32, rows, cols, rs, cs int) {
	switch {
	case rs == 1:
		for k := range cols {
			copy(dst[k*PanelRows:k*PanelRows+rows], w[k*cs:k*cs+rows])
		}
		return
	case cs == 1:
		// Whole 16×16 blocks by vector transposes where there are some.
		done := transposeRows(dst, w, rows, cols, rs)
		if done == rows {
			return
		}
		dst, w, rows = dst[done:], w[done*rs:], rows-done
	}
	for k := range cols {
		col := dst[k*PanelRows : k*PanelRows+rows]
		src := w[k*cs:]
		for i := range col {
			col[i] = src[i*rs]
		}
	}
}

// PanelScratch is the working memory of Mul for partial groups and panels.
// Its zero value is ready to use; one goroutine uses it at a time.
type PanelScratch struct {
	x    []float32 // a partial group of vectors, padded with zeros
	out  [PanelGroup * PanelRows]float32
	bias [PanelRows]float32
}

// Mul computes, for t in [0,n) and r in [r0,r1):
//
//	out[t*os+r] = bias[r] + Σ_k x[t*xs+k]·W[r][k]
//
// with bias nil meaning zeros. r0 must be a multiple of 32 (callers split
// the rows across goroutines at multiples of 32). x's rows are xs floats
// apart and out's os floats apart. It panics when the arguments do not fit
// the matrix, like MulRows.
func (p *Panels) Mul(out []float32, os int, x []float32, xs, n, r0, r1 int, bias []float32, s *PanelScratch) {
	p.MulFirst(out, os, x, xs, n, r0, r1, p.Cols, bias, s)
}

// MulFirst is Mul over the first k columns of W and of each vector (k ≤
// Cols): the same bits as Mul of W's first k columns packed alone. A
// prompt's attention multiplies each chunk of probabilities by the values
// up to its last query's position only; past it they are zeros.
func (p *Panels) MulFirst(out []float32, os int, x []float32, xs, n, r0, r1, k int, bias []float32, s *PanelScratch) {
	p.checkMul(out, os, x, xs, n, r0, r1, k, bias)
	if n == 0 || r0 == r1 {
		return
	}
	if k == 0 {
		for t := range n {
			o := out[t*os+r0 : t*os+r1]
			if bias == nil {
				clear(o)
			} else {
				copy(o, bias[r0:r1])
			}
		}
		return
	}
	full := n / PanelGroup
	if m := n - full*PanelGroup; m > 0 {
		s.x = resize(s.x, PanelGroup*k)
		clear(s.x[m*k:])
		for t := range m {
			copy(s.x[t*k:(t+1)*k], x[(full*PanelGroup+t)*xs:])
		}
	}
	for pi := r0 / PanelRows; pi*PanelRows < r1; pi++ {
		p.mulPanel(out, os, x, xs, n, pi, r1, k, bias, s)
	}
}

// mulPanel runs the first k columns of panel pi against every group of vectors.
func (p *Panels) mulPanel(out []float32, os int, x []float32, xs, n, pi, r1, k int, bias []float32, s *PanelScratch) {
	w := p.data[pi*p.Cols*PanelRows : pi*p.Cols*PanelRows+k*PanelRows]
	r0 := pi * PanelRows
	rows := min(PanelRows, r1-r0)
	b := s.panelBias(bias, r0, rows)
	full := n / PanelGroup
	for g := range full {
		t := g * PanelGroup
		if rows == PanelRows {
			panelKernel(x[t*xs:], xs, w, k, b, out[t*os+r0:], os)
			continue
		}
		panelKernel(x[t*xs:], xs, w, k, b, s.out[:], PanelRows)
		s.store(out[t*os+r0:], os, PanelGroup, rows)
	}
	if m := n - full*PanelGroup; m > 0 {
		panelKernel(s.x, k, w, k, b, s.out[:], PanelRows)
		s.store(out[full*PanelGroup*os+r0:], os, m, rows)
	}
}

// panelBias returns the 32 biases of the panel starting at row r0 with
// rows rows, padded with zeros where needed.
func (s *PanelScratch) panelBias(bias []float32, r0, rows int) []float32 {
	if bias != nil && r0+PanelRows <= len(bias) {
		return bias[r0 : r0+PanelRows]
	}
	clear(s.bias[:])
	if bias != nil {
		copy(s.bias[:], bias[r0:r0+rows])
	}
	return s.bias[:]
}

// store copies m vectors' first rows outputs from s.out to out.
func (s *PanelScratch) store(out []float32, os, m, rows int) {
	for t := range m {
		copy(out[t*os:t*os+rows], s.out[t*PanelRows:])
	}
}

func (p *Panels) checkMul(out []float32, os int, x []float32, xs, n, r0, r1, k int, bias []float32) {
	switch {
	case n < 0 || r0 < 0 || r1 < r0 || r1 > p.Rows || r0%PanelRows != 0:
		panic(fmt.Sprintf("tensor.Panels.Mul: rows [%d,%d) of %d, n=%d", r0, r1, p.Rows, n))
	case k < 0 || k > p.Cols:
		panic(fmt.Sprintf("tensor.Panels.Mul: the first %d of %d columns", k, p.Cols))
	case n > 1 && (xs < k || os < r1-r0):
		panic(fmt.Sprintf("tensor.Panels.Mul: strides %d, %d for %d columns and rows [%d,%d)", xs, os, k, r0, r1))
	case n > 0 && len(x) < (n-1)*xs+k:
		panic(fmt.Sprintf("tensor.Panels.Mul: x has %d floats, need %d vectors of %d, %d apart", len(x), n, k, xs))
	case n > 0 && len(out) < (n-1)*os+r1:
		panic(fmt.Sprintf("tensor.Panels.Mul: out has %d floats, need %d vectors of %d, %d apart", len(out), n, r1, os))
	case bias != nil && len(bias) < r1:
		panic(fmt.Sprintf("tensor.Panels.Mul: %d biases for rows [%d,%d)", len(bias), r0, r1))
	}
}

// panelKernelGo is the portable kernel: for the 14 vectors x[t*xs:] and
// the panel w (k columns of 32), out[t*os+i] = b[i] + Σ_j x[t*xs+j]·w[j*32+i].
func panelKernelGo(x []float32, xs int, w []float32, k int, b []float32, out []float32, os int) {
	w = w[:k*PanelRows]
	for t := range PanelGroup {
		xt := x[t*xs : t*xs+k]
		var acc [PanelRows]float32
		copy(acc[:], b[:PanelRows])
		for j, v := range xt {
			col := (*[PanelRows]float32)(w[j*PanelRows:])
			for i := range acc {
				acc[i] += v * col[i]
			}
		}
		copy(out[t*os:t*os+PanelRows], acc[:])
	}
}
