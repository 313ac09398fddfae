package tensor

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// namedKernel is an in-place kernel under test.
type namedKernel struct {
	name string
	fn   func([]float32)
}

// The CPU's other kernels under test besides the exported ones and the
// portable ones: vec_avx2_amd64_test.go adds the AVX2 kernels where the CPU
// has them, so they are tested on AVX-512 machines too.
var (
	moreExpKernels, moreSoftmaxKernels []namedKernel
	moreSiLUKernels                    []namedPair
	moreDotKernels                     []namedDot
	moreScaledSoftmax                  map[string]func([]float32, int, float32)
	moreGELUKernels                    []namedKernel
	moreLayerNorms                     map[string]func(x, y, w, b []float32, eps float32)
	moreCausalSoftmax                  map[string]causalPair
)

// namedPair is a kernel of two slices under test.
type namedPair struct {
	name string
	fn   func(g, u []float32)
}

// namedDot is a dot product under test.
type namedDot struct {
	name string
	fn   func(a, b []float32) float32
}

// causalPair is a causal softmax and the row softmax it must match.
type causalPair struct {
	causal func([]float32, int, int, float32)
	rows   func([]float32, int, float32)
}

// expKernels are the exponentials under test: the exported one (AVX-512
// where the build and CPU have it), the portable one and more.
func expKernels() []namedKernel {
	return append([]namedKernel{{"Exp", Exp}, {"expSliceGo", expSliceGo}}, moreExpKernels...)
}

// relErr is |got-want|/|want|.
func relErr(got float32, want float64) float64 {
	return math.Abs(float64(got)-want) / math.Abs(want)
}

// expRef is the float64 exponential. Below 2⁻³⁰ it is 1+x, exact to
// float64 precision there, and math.Exp can be very slow on such inputs.
func expRef(x float32) float64 {
	if math.Abs(float64(x)) < 0x1p-30 {
		return 1 + float64(x)
	}
	return math.Exp(float64(x))
}

// expInputs returns every 97th float32 in [-87, 88] (by bit pattern), 0, the
// bounds and some random values.
func expInputs() []float32 {
	var in []float32
	for b := uint32(0); b <= math.Float32bits(88); b += 193 {
		in = append(in, math.Float32frombits(b))
	}
	for b := uint32(0x80000000); b <= math.Float32bits(-87); b += 193 {
		in = append(in, math.Float32frombits(b))
	}
	in = append(in, 0, -87, 88, 1e-30, -1e-30, 0x1p-149, -0x1p-149, 0.34657359, -0.34657359)
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		in = append(in, float32(r.Float64()*175-87))
	}
	return in
}

func TestExpAccuracy(t *testing.T) {
	in := expInputs()
	for _, k := range expKernels() {
		v := slices.Clone(in)
		k.fn(v)
		worst, at := 0.0, float32(0)
		for i, x := range in {
			if e := relErr(v[i], expRef(x)); !(e <= worst) {
				worst, at = e, x
			}
		}
		t.Logf("%s: max relative error %.3g (%.2f ulp of 1) at x=%v over %d inputs", k.name, worst, worst/0x1p-23, at, len(in))
		if worst > 2e-7 {
			t.Errorf("%s: relative error %.3g at x=%v, want ≤ 2e-7", k.name, worst, at)
		}
	}
}

func TestExpSpecialValues(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	cases := []struct{ x, want float32 }{
		{0, 1}, {float32(math.Copysign(0, -1)), 1}, {1e-30, 1}, {-1e-30, 1}, {0x1p-149, 1},
		{-104, 0}, {-110, 0}, {-1000, 0}, {-3e38, 0}, {-inf, 0},
		{89, inf}, {100, inf}, {3e38, inf}, {inf, inf},
	}
	for _, k := range expKernels() {
		for _, c := range cases {
			v := []float32{c.x}
			k.fn(v)
			if v[0] != c.want {
				t.Errorf("%s(%v) = %v, want %v", k.name, c.x, v[0], c.want)
			}
		}
		v := []float32{nan}
		k.fn(v)
		if !math.IsNaN(float64(v[0])) {
			t.Errorf("%s(NaN) = %v, want NaN", k.name, v[0])
		}
	}
}

// TestExpSubnormal checks results below the smallest normal float32 to the
// nearest step of 2⁻¹⁴⁹, and that nothing turns negative or NaN.
func TestExpSubnormal(t *testing.T) {
	var in []float32
	for x := float32(-105); x < -85; x += 0.001 {
		in = append(in, x)
	}
	for _, k := range expKernels() {
		v := slices.Clone(in)
		k.fn(v)
		for i, x := range in {
			want := math.Exp(float64(x))
			if !(v[i] >= 0) || math.Abs(float64(v[i])-want) > max(0x1p-149, 2e-7*want) {
				t.Fatalf("%s(%v) = %g, want %g", k.name, x, v[i], want)
			}
		}
	}
}

// window returns a buffer with n values from fill at offset off and
// sentinels around them.
func window(n, off int, fill func(i int) float32) (buf, v []float32) {
	buf = make([]float32, off+n+20)
	for i := range buf {
		buf[i] = 12345
	}
	v = buf[off : off+n]
	for i := range v {
		v[i] = fill(i)
	}
	return buf, v
}

// checkSentinels fails when anything outside v's window was written.
func checkSentinels(t *testing.T, name string, buf []float32, off, n int) {
	t.Helper()
	for i, x := range buf {
		if (i < off || i >= off+n) && x != 12345 {
			t.Fatalf("%s n=%d off=%d: wrote %v at %d outside the slice", name, n, off, x, i-off)
		}
	}
}

func equalBits(a, b []float32) bool {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return len(a) == len(b)
}

func testInput(i int) float32 { return float32(math.Sin(float64(i)*1.7)) * 20 }

// TestElementwiseTails checks that Exp and SiLUMul give each element the
// bits it gets alone, for lengths 0..70 at several alignments, and write
// nothing past the slice.
func TestElementwiseTails(t *testing.T) {
	alone := func(f func(x float32) float32, x float32) float32 { return f(x) }
	expOne := func(x float32) float32 { v := []float32{x}; Exp(v); return v[0] }
	siluOne := func(x float32) float32 { v := []float32{x}; SiLUMul(v, []float32{0.75}); return v[0] }
	for n := 0; n <= 70; n++ {
		for off := 0; off < 4; off++ {
			buf, v := window(n, off, testInput)
			Exp(v)
			checkSentinels(t, "Exp", buf, off, n)
			for i := range v {
				if want := alone(expOne, testInput(i)); math.Float32bits(v[i]) != math.Float32bits(want) {
					t.Fatalf("Exp n=%d off=%d: element %d = %v, alone %v", n, off, i, v[i], want)
				}
			}
			buf, v = window(n, off, testInput)
			u := make([]float32, n+5)
			for i := range u {
				u[i] = 0.75
			}
			SiLUMul(v, u)
			checkSentinels(t, "SiLUMul", buf, off, n)
			for i := range v {
				if want := alone(siluOne, testInput(i)); math.Float32bits(v[i]) != math.Float32bits(want) {
					t.Fatalf("SiLUMul n=%d off=%d: element %d = %v, alone %v", n, off, i, v[i], want)
				}
			}
		}
	}
}

func TestAxpy(t *testing.T) {
	for n := 0; n <= 70; n++ {
		x := make([]float32, n+3)
		for i := range x {
			x[i] = testInput(i + 100)
		}
		var first []float32
		for off := 0; off < 4; off++ {
			buf, y := window(n, off, testInput)
			Axpy(y, -0.3125, x)
			checkSentinels(t, "Axpy", buf, off, n)
			for i := range y {
				want := float64(testInput(i)) + -0.3125*float64(x[i])
				tol := 0x1p-23 * (math.Abs(float64(testInput(i))) + math.Abs(0.3125*float64(x[i])))
				if math.Abs(float64(y[i])-want) > tol {
					t.Fatalf("Axpy n=%d: element %d = %v, want %v", n, i, y[i], want)
				}
			}
			if off == 0 {
				first = slices.Clone(y)
			} else if !equalBits(first, y) {
				t.Fatalf("Axpy n=%d: offset %d changed the bits", n, off)
			}
		}
	}
}

func TestDot(t *testing.T) {
	if got := Dot(nil, nil); got != 0 {
		t.Errorf("Dot of empty slices = %v", got)
	}
	for _, dot := range append([]namedDot{{"Dot", Dot}, {"dotGo", dotGo}}, moreDotKernels...) {
		for n := 1; n <= 300; n += 1 + n/8 {
			var first float32
			for off := 0; off < 4; off++ {
				_, a := window(n, off, testInput)
				_, b := window(n+7, 3-off, func(i int) float32 { return testInput(i + 50) })
				got := dot.fn(a, b)
				var want, mag float64
				for i := range a {
					p := float64(a[i]) * float64(b[i])
					want += p
					mag += math.Abs(p)
				}
				if math.Abs(float64(got)-want) > float64(n)*0x1p-23*mag {
					t.Fatalf("%s n=%d = %v, want %v", dot.name, n, got, want)
				}
				if off == 0 {
					first = got
				} else if math.Float32bits(got) != math.Float32bits(first) {
					t.Fatalf("%s n=%d: offset %d gave %v, offset 0 %v", dot.name, n, off, got, first)
				}
			}
		}
	}
}

// softmaxRef is the float64 softmax with the same rules for -Inf rows.
func softmaxRef(v []float32) []float64 {
	top := math.Inf(-1)
	for _, x := range v {
		top = math.Max(top, float64(x))
	}
	out := make([]float64, len(v))
	if math.IsInf(top, -1) {
		return out
	}
	var sum float64
	for i, x := range v {
		out[i] = math.Exp(float64(x) - top)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func softmaxKernels() []namedKernel {
	return append([]namedKernel{{"Softmax", Softmax}, {"softmaxGo", softmaxGo}}, moreSoftmaxKernels...)
}

func TestSoftmaxRows(t *testing.T) {
	inf := float32(math.Inf(1))
	for _, k := range softmaxKernels() {
		for n := 0; n <= 70; n++ {
			rows := map[string]func(i int) float32{
				"wave":   testInput,
				"masked": func(i int) float32 { return map[bool]float32{true: -inf, false: testInput(i)}[i%3 == 1 || i > n/2] },
				"equal":  func(int) float32 { return -3.5 },
				"allinf": func(int) float32 { return -inf },
			}
			for name, fill := range rows {
				var first []float32
				for off := 0; off < 4; off++ {
					buf, v := window(n, off, fill)
					in := slices.Clone(v)
					k.fn(v)
					checkSentinels(t, k.name, buf, off, n)
					checkSoftmax(t, k.name+"/"+name, in, v)
					if off == 0 {
						first = slices.Clone(v)
					} else if !equalBits(first, v) {
						t.Fatalf("%s/%s n=%d: offset %d changed the bits", k.name, name, n, off)
					}
				}
			}
		}
	}
}

func checkSoftmax(t *testing.T, name string, in, got []float32) {
	t.Helper()
	want := softmaxRef(in)
	top := float32(math.Inf(-1))
	for _, x := range in {
		top = max(top, x)
	}
	var sum float64
	for i, w := range want {
		// x-top is rounded to float32 before the exponential.
		tol := w * (1e-6 + math.Abs(float64(in[i]-top))*0x1p-24)
		if math.IsInf(float64(in[i]), -1) && got[i] != 0 {
			t.Fatalf("%s n=%d: masked element %d = %v, want 0", name, len(in), i, got[i])
		}
		if math.Abs(float64(got[i])-w) > tol+1e-30 {
			t.Fatalf("%s n=%d: element %d = %v, want %v", name, len(in), i, got[i], w)
		}
		sum += float64(got[i])
	}
	if sum != 0 && math.Abs(sum-1) > 1e-6 {
		t.Fatalf("%s n=%d: sums to %v", name, len(in), sum)
	}
	if len(in) > 0 && slices.Equal(in, slices.Repeat(in[:1], len(in))) && !math.IsInf(float64(in[0]), -1) {
		for i, x := range got {
			if x != float32(1/float64(len(in))) {
				t.Fatalf("%s: equal row of %d: element %d = %v", name, len(in), i, x)
			}
		}
	}
}

func TestSoftmaxNaN(t *testing.T) {
	for _, k := range softmaxKernels() {
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
			v := []float32{1, 2, bad, 3}
			k.fn(v)
			for i, x := range v {
				if !math.IsNaN(float64(x)) {
					t.Errorf("%s with %v: element %d = %v, want NaN", k.name, bad, i, x)
				}
			}
		}
	}
}

func TestSiLUMul(t *testing.T) {
	var g, u []float32
	for x := float32(-120); x <= 120; x += 0.0137 {
		g = append(g, x)
		u = append(u, 1.5)
	}
	g = append(g, -1000, -100, 100, 1000, 0, 1e-30, -1e-30)
	u = append(u, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5)
	for _, k := range append([]namedPair{{"SiLUMul", SiLUMul}, {"siluMulGo", siluMulGo}}, moreSiLUKernels...) {
		v := slices.Clone(g)
		k.fn(v, u)
		worst := 0.0
		for i, x := range g {
			xf := float64(x)
			want := xf / (1 + math.Exp(-xf)) * 1.5
			if math.IsNaN(float64(v[i])) || math.IsInf(float64(v[i]), 0) {
				t.Fatalf("%s(%v) = %v", k.name, x, v[i])
			}
			d := math.Abs(float64(v[i]) - want)
			if d > 1e-30 {
				worst = max(worst, d/math.Abs(want))
			}
		}
		t.Logf("%s: max relative error %.3g", k.name, worst)
		if worst > 5e-7 {
			t.Errorf("%s: relative error %.3g, want ≤ 5e-7", k.name, worst)
		}
	}
}

// TestVecDeterministic runs every kernel twice on the same input.
func TestVecDeterministic(t *testing.T) {
	in := make([]float32, 1537)
	for i := range in {
		in[i] = testInput(i)
	}
	run := func() []float32 {
		a, b := slices.Clone(in), slices.Clone(in)
		Exp(a)
		Softmax(b)
		c := slices.Clone(in)
		SiLUMul(c, in)
		d := slices.Clone(in)
		Axpy(d, 0.7, in)
		out := append(append(append(a, b...), c...), d...)
		return append(out, Dot(in[1:], in))
	}
	if !equalBits(run(), run()) {
		t.Error("two runs gave different bits")
	}
}

// TestDotRowsAndAddRowsMatchDotAndAxpy checks that the attention helpers
// give the same bits as Dot and Axpy row by row, for the 64-value rows that
// take the vector path and for other sizes.
func TestDotRowsAndAddRowsMatchDotAndAxpy(t *testing.T) {
	for _, c := range []struct{ d, stride, n int }{{64, 192, 37}, {64, 64, 1}, {64, 200, 0}, {48, 96, 9}, {128, 128, 5}} {
		rows := randFloats(uint64(c.d+c.n), max(1, c.n)*c.stride, 1)
		q := randFloats(7, c.d, 1)
		scores := make([]float32, c.n)
		DotRows(scores, q, rows, c.stride, 0.125)
		for j := range c.n {
			if want := Dot(q, rows[j*c.stride:]) * 0.125; math.Float32bits(scores[j]) != math.Float32bits(want) {
				t.Fatalf("d=%d row %d: DotRows %g, Dot %g", c.d, j, scores[j], want)
			}
		}
		o, want := randFloats(8, c.d, 1), make([]float32, c.d)
		AddRows(o, scores, rows, c.stride)
		for j, a := range scores {
			Axpy(want, a, rows[j*c.stride:])
		}
		for i := range want {
			if math.Float32bits(o[i]) != math.Float32bits(want[i]) {
				t.Fatalf("d=%d value %d: AddRows %g, Axpy %g", c.d, i, o[i], want[i])
			}
		}
	}
}

func TestRMSNormAndAdd(t *testing.T) {
	for _, n := range []int{1, 15, 16, 64, 100, 576} {
		x, w := randFloats(uint64(n), n, 3), randFloats(uint64(n)+1, n, 1)
		out := make([]float32, n)
		RMSNorm(out, x, w, 1e-5)
		var sum float64
		for _, v := range x {
			sum += float64(v) * float64(v)
		}
		inv := 1 / math.Sqrt(sum/float64(n)+1e-5)
		for i := range x {
			want := float64(w[i]) * float64(x[i]) * inv
			if d := math.Abs(float64(out[i]) - want); d > 1e-6*math.Abs(want)+1e-30 {
				t.Fatalf("n=%d: RMSNorm[%d] = %g, want %g", n, i, out[i], want)
			}
		}
		dst := append([]float32(nil), x...)
		Add(dst, w)
		for i := range dst {
			if dst[i] != x[i]+w[i] {
				t.Fatalf("n=%d: Add[%d] = %g, want %g", n, i, dst[i], x[i]+w[i])
			}
		}
	}
}

// TestRope checks Rope (the AVX2 kernel where the CPU has it) against the
// plain-Go rotation bit for bit, in both pair layouts, and that against the
// rotation in float64.
func TestRope(t *testing.T) {
	for _, pairs := range []bool{false, true} {
		for _, d := range []int{6, 8, 24, 64, 128} {
			v := randFloats(uint64(d), 3*d, 2)
			angles := make([]float32, d)
			for i := range d / 2 {
				s, c := math.Sincos(float64(i+1) * 0.37)
				angles[2*i], angles[2*i+1] = float32(c), float32(s)
			}
			got, want := slices.Clone(v), slices.Clone(v)
			Rope(got, d, angles, pairs)
			ropeGo(want, d, angles, pairs)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("pairs=%v d=%d at %d: %g, plain Go %g", pairs, d, i, got[i], want[i])
				}
			}
			for h := 0; h < len(v); h += d {
				for i := range d / 2 {
					a, b := h+i, h+i+d/2
					if pairs {
						a, b = h+2*i, h+2*i+1
					}
					c, s := float64(angles[2*i]), float64(angles[2*i+1])
					ra := float64(v[a])*c - float64(v[b])*s
					rb := float64(v[a])*s + float64(v[b])*c
					if math.Abs(float64(got[a])-ra) > 1e-6 || math.Abs(float64(got[b])-rb) > 1e-6 {
						t.Fatalf("pairs=%v d=%d pair %d: (%g, %g), want (%g, %g)", pairs, d, i, got[a], got[b], ra, rb)
					}
				}
			}
		}
	}
}

func TestRopeRefusesBadShapes(t *testing.T) {
	for _, c := range []struct{ n, d, angles int }{{10, 4, 4}, {8, 3, 4}, {8, 4, 2}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%d values, heads of %d, %d angles: no panic", c.n, c.d, c.angles)
				}
			}()
			Rope(make([]float32, c.n), c.d, make([]float32, c.angles), false)
		}()
	}
}
