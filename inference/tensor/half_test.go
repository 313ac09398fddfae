package tensor

import (
	"math"
	"testing"
)

// refF16 is a straightforward, branchy half→float conversion used to check
// the branch-free one.
func refF16(h uint16) uint32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f && mant == 0:
		return sign | 0x7f800000
	case exp == 0x1f:
		return sign | 0x7fc00000 | mant<<13
	case exp == 0:
		v := float64(mant) / (1 << 24)
		return sign | math.Float32bits(float32(v))
	}
	return sign | (exp+112)<<23 | mant<<13
}

func TestF16KnownValues(t *testing.T) {
	cases := []struct {
		h    uint16
		want uint32 // float32 bits
	}{
		{0x0000, 0x00000000},                              // +0
		{0x8000, 0x80000000},                              // -0
		{0x3c00, math.Float32bits(1)},                     // 1
		{0xc000, math.Float32bits(-2)},                    // -2
		{0x3555, math.Float32bits(0.333251953125)},        // 1/3 rounded
		{0x7bff, math.Float32bits(65504)},                 // largest finite
		{0x0400, math.Float32bits(6.103515625e-05)},       // smallest normal 2^-14
		{0x0001, math.Float32bits(5.9604644775390625e-8)}, // smallest subnormal 2^-24
		{0x8001, math.Float32bits(-5.9604644775390625e-8)},
		{0x03ff, math.Float32bits(6.097555160522461e-05)}, // largest subnormal
		{0x0200, math.Float32bits(3.0517578125e-05)},      // 2^-15, subnormal
		{0x7c00, 0x7f800000},                              // +Inf
		{0xfc00, 0xff800000},                              // -Inf
		{0x7e00, 0x7fc00000},                              // quiet NaN
		{0xfe00, 0xffc00000},                              // negative quiet NaN
		{0x7c01, 0x7fc02000},                              // signalling NaN: payload kept, quieted
		{0x7dff, 0x7fffe000},
	}
	for _, c := range cases {
		if got := math.Float32bits(F16ToF32(c.h)); got != c.want {
			t.Errorf("F16ToF32(%#04x) = %#08x, want %#08x", c.h, got, c.want)
		}
	}
}

func TestF16AllValues(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		if got, want := math.Float32bits(F16ToF32(h)), refF16(h); got != want {
			t.Fatalf("F16ToF32(%#04x) = %#08x, reference %#08x", h, got, want)
		}
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaN
		}
		if back := F32ToF16(F16ToF32(h)); back != h {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, back)
		}
	}
}

// TestF32ToF16RoundsToNearestEven checks every midpoint between adjacent
// positive halves (exact in float32) and its two float32 neighbours.
func TestF32ToF16RoundsToNearestEven(t *testing.T) {
	for h := uint16(0); h < 0x7bff; h++ {
		lo, hi := F16ToF32(h), F16ToF32(h+1)
		mid := float32((float64(lo) + float64(hi)) / 2)
		even := h
		if h&1 == 1 {
			even = h + 1
		}
		if got := F32ToF16(mid); got != even {
			t.Fatalf("F32ToF16(%g) midway %#04x..%#04x = %#04x, want %#04x", mid, h, h+1, got, even)
		}
		if got := F32ToF16(math.Nextafter32(mid, 0)); got != h {
			t.Fatalf("F32ToF16(just below %g) = %#04x, want %#04x", mid, got, h)
		}
		if got := F32ToF16(math.Nextafter32(mid, 1e9)); got != h+1 {
			t.Fatalf("F32ToF16(just above %g) = %#04x, want %#04x", mid, got, h+1)
		}
		if got := F32ToF16(-mid); got != even|0x8000 {
			t.Fatalf("F32ToF16(%g) = %#04x, want %#04x", -mid, got, even|0x8000)
		}
	}
}

func TestF32ToF16Specials(t *testing.T) {
	cases := []struct {
		f    float32
		want uint16
	}{
		{65519.99, 0x7bff},
		{65520, 0x7c00}, // rounds up to infinity
		{1e10, 0x7c00},
		{-1e10, 0xfc00},
		{float32(math.Inf(1)), 0x7c00},
		{float32(math.NaN()), 0x7e00},
		{0x1p-25, 0x0000},                              // tie with zero → even (zero)
		{math.Nextafter32(0x1p-25, 1), 0x0001},         // just above → smallest subnormal
		{1e-30, 0x0000},                                // underflow
		{math.Float32frombits(0x80000001), 0x8000},     // -tiny → -0
		{math.Nextafter32(0x1p-14, 0), 0x0400},         // rounds up into the normals
		{float32(0x1p-14 - 0x1p-25), 0x0400},           // tie between 0x03ff and 0x0400 → even
		{float32(0x1p-14 - 0x1p-25 - 0x1p-30), 0x03ff}, // below that tie
	}
	for _, c := range cases {
		if got := F32ToF16(c.f); got != c.want {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}

func TestBF16(t *testing.T) {
	cases := []struct {
		h    uint16
		want float32
	}{
		{0x3f80, 1}, {0xc000, -2}, {0x4049, 3.140625}, {0x0000, 0}, {0x7f80, float32(math.Inf(1))},
	}
	for _, c := range cases {
		if got := BF16ToF32(c.h); got != c.want {
			t.Errorf("BF16ToF32(%#04x) = %g, want %g", c.h, got, c.want)
		}
		if back := F32ToBF16(c.want); back != c.h {
			t.Errorf("F32ToBF16(%g) = %#04x, want %#04x", c.want, back, c.h)
		}
	}
	// 1 + 2^-8 is halfway between 0x3f80 and 0x3f81: ties go to even.
	if got := F32ToBF16(1 + 0x1p-8); got != 0x3f80 {
		t.Errorf("F32ToBF16(1+2^-8) = %#04x, want 0x3f80", got)
	}
	if got := F32ToBF16(1 + 0x1p-8 + 0x1p-20); got != 0x3f81 {
		t.Errorf("F32ToBF16(1+2^-8+2^-20) = %#04x, want 0x3f81", got)
	}
	if got := F32ToBF16(float32(math.NaN())); got&0x7f80 != 0x7f80 || got&0x7f == 0 {
		t.Errorf("F32ToBF16(NaN) = %#04x, not a NaN", got)
	}
}
