package llama

import (
	"math"
	"testing"
)

// TestLlama3RopeFactors checks Llama 3.1's RoPE scaling against the
// divisors transformers' _compute_llama3_parameters gives tiny-llama3's
// config (theta 10000, heads of 16, factor 8, low 1, high 4, original
// context 64: base inv_freq over the scaled one, printed by transformers
// 5.17): one frequency kept, two smoothed, five divided by the factor.
func TestLlama3RopeFactors(t *testing.T) {
	p := &ropeParameters{Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalContext: 64}
	got, err := p.llama3Factors(10000, 16)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1.0, 1.2939759492874146, 7.667385101318359, 8, 8, 8, 8, 8}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 2e-6*want[i] {
			t.Errorf("factor %d: %g, transformers %g", i, got[i], want[i])
		}
	}
}
