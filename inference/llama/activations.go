package llama

import (
	"fmt"

	"rustexpert/inference/tensor"
)

// Activations says in which form the matrix multiplies take their input
// vectors.
type Activations string

const (
	// ActivationsF32 multiplies float32 vectors: the exact path, the one
	// the goldens from transformers check.
	ActivationsF32 Activations = "f32"
	// ActivationsQ8 quantizes the vectors to int8 blocks once per matrix
	// multiply and runs the int8 kernels (AVX-512 VNNI or AVX2) for Q4_1
	// and Q8_0 weights, as llama.cpp does; other weights, and CPUs with
	// neither, keep the float32 path.
	ActivationsQ8 Activations = "q8"
	// ActivationsQ8Prompt is int8 for a prompt's matrix multiplies (the
	// tile kernels) and float32 for generated tokens' and the output head's,
	// with float32 caches: for CPUs whose int8 tile kernel takes prompts
	// faster than their float32 kernels while their float32 decoding is the
	// faster one (AVX-512 without AMX, see DefaultActivations).
	ActivationsQ8Prompt Activations = "q8-prompt"
)

// DefaultActivations is the form a model should use on this CPU unless told
// otherwise: float32, the exact path, except where the CPU has int8 kernels
// but no AVX-512 (AVX2 machines, most laptops), where the float32 kernels
// are plain Go and int8 activations are many times faster, as llama.cpp
// uses them, and where it has AVX-512 VNNI but no AMX tiles (AMD Zen 4 and
// 5, Intel before Sapphire Rapids), where prompts run faster on the int8
// tile kernel and generated tokens on the float32 kernels
// (ActivationsQ8Prompt).
func DefaultActivations() Activations {
	switch {
	case tensor.Int8Preferred():
		return ActivationsQ8
	case tensor.Int8PromptPreferred():
		return ActivationsQ8Prompt
	}
	return ActivationsF32
}

// PreferredActivations is DefaultActivations for this model, except on
// CPUs whose default is float32 (AVX-512 with AMX) when its weights are in
// formats that have an int8 form (int8form.go): then q8-prompt where the
// CPU has the int8 tile kernel — generated tokens multiply the forms with
// float32 activations, where the K, IQ and Q5 formats' own float32 path is
// plain Go and Q4_0's row kernels are slower than the Q4_1 form's (on two
// Sapphire Rapids cores, decoding a Q4_K_M file 2.0–2.1× faster than under
// q8, a Q4_0 file 3.4× faster than under float32, whose AMX prompt was
// 1.5× faster) — else q8 (float32 for Q4_0). q8-prompt, the default of
// AVX-512 CPUs without AMX, does the same.
func (m *Model) PreferredActivations() Activations {
	d := DefaultActivations()
	if d != ActivationsF32 {
		return d
	}
	for _, w := range m.matrices() {
		switch {
		case !tensor.HasInt8Form(w.Type):
		case tensor.Int8Tiles():
			return ActivationsQ8Prompt
		case w.Type != tensor.Q4_0: // Q4_0 has float32 kernels
			return ActivationsQ8
		}
	}
	return d
}

// ParseActivations reads "f32", "q8" or "q8-prompt".
func ParseActivations(s string) (Activations, error) {
	switch a := Activations(s); a {
	case ActivationsF32, ActivationsQ8, ActivationsQ8Prompt:
		return a, nil
	}
	return "", fmt.Errorf("activations %q: want f32, q8 or q8-prompt", s)
}

// SetActivations selects the form of the matrix multiplies' inputs, and of
// the key/value caches of the sequences made afterwards: float16 with int8
// activations, float32 with float32 ones (a sequence is refused under the
// other form; ActivationsQ8Prompt's caches are float32). Call it before the
// model is used, not while Forward or Prompt run.
func (m *Model) SetActivations(a Activations) {
	m.activations = a
	if a == ActivationsF32 {
		return
	}
	m.int8Forms()
	if a == ActivationsQ8Prompt {
		m.formsInFloat32()
	}
	var forms []*tensor.Matrix // those without the interleaved copy their kernels read (forms made at load got it there)
	for _, w := range m.matrices() {
		if f := w.Int8Form(); f != nil && !f.Interleaved() {
			forms = append(forms, f)
		}
	}
	m.interleaveEach(forms)
}

// formsInFloat32 marks the int8 forms as multiplied by the float32 kernels
// too (q8-prompt decodes with them), so they interleave where those kernels
// read interleaved copies.
func (m *Model) formsInFloat32() {
	for _, w := range m.matrices() {
		if f := w.Int8Form(); f != nil {
			f.MultiplyInFloat32()
		}
	}
}

// int8 reports whether a prompt's (prompt) or generated tokens' matrix
// multiplies take int8 activations.
func (m *Model) int8(prompt bool) bool {
	return m.activations == ActivationsQ8 || m.activations == ActivationsQ8Prompt && prompt
}

// int8Forms gives the weights in formats the int8 kernels do not take
// their int8 form (tensor.Matrix.NewInt8Form: Q4_K, Q6_K and the others as
// Q4_1 or Q8_0), converted on all cores, and returns the forms it made
// (none for matrices that have one already).
func (m *Model) int8Forms() []*tensor.Matrix {
	type part struct {
		w, f   *tensor.Matrix
		r0, r1 int
	}
	var parts []part
	var ws, forms []*tensor.Matrix
	for _, w := range m.matrices() { // distinct matrices
		if w.Int8Form() != nil {
			continue
		}
		f := w.NewInt8Form()
		if f == nil {
			continue
		}
		ws, forms = append(ws, w), append(forms, f)
		for r := 0; r < w.Rows; r += 64 {
			parts = append(parts, part{w, f, r, min(r+64, w.Rows)})
		}
	}
	m.parallel(len(parts), 1, func(lo, hi int) {
		for _, p := range parts[lo:hi] {
			p.w.ConvertRows(p.f, p.r0, p.r1)
		}
	})
	for i, w := range ws {
		w.SetInt8Form(forms[i])
	}
	return forms
}

// Activations is the form SetActivations selected.
func (m *Model) Activations() Activations { return m.activations }

// input is the input vectors of one or more matrix multiplies (q, k and v
// share theirs, so do gate and up), quantized on first use when the int8
// path applies.
type input struct {
	x        []float32
	n        int
	adapters []int // each vector's LoRA adapter (its step's sequence's), or nil for none
	q8       *tensor.Q8Vectors
	amx      *tensor.AMXVectors
	// mem, when set, is memory for q8 and amx that the next input may
	// reuse: an input's quantized and AMX forms live only until the next
	// input is made.
	mem *inputMem
}

// inputMem is the memory of the inputs' quantized and AMX forms, one input at a time.
type inputMem struct {
	q8  tensor.Q8Vectors
	amx tensor.AMXVectors
}

// memory returns in's memory for its other forms, new when it has none.
func (in *input) memory() *inputMem {
	if in.mem == nil {
		in.mem = new(inputMem)
	}
	return in.mem
}

// quantized returns in's vectors quantized for w, or nil when w takes
// float32 vectors.
func (m *Model) quantized(in *input, w *tensor.Matrix, prompt bool) *tensor.Q8Vectors {
	if !m.int8(prompt) || !w.Q8Ready() || w.Cols%tensor.QK != 0 {
		return nil
	}
	if in.q8 == nil {
		v := &in.memory().q8
		v.Reset(in.n, w.Cols, prompt)
		m.parallel(in.n, 32, func(lo, hi int) { v.Fill(in.x, lo, hi) })
		in.q8 = v
	}
	return in.q8
}

// SetAMX turns the AMX tile path of float32 prompt multiplies on or off
// (on by default where the CPU has it; see tensor.MulMatAMX). Its results
// are within about 3·10⁻⁵ of a dot product's scale of the vector path's
// (the activations rounded to 16 significant bits). Call it before the
// model is used.
func (m *Model) SetAMX(on bool) { m.noAMX = !on }

// AMX reports whether prompts of this model's weights use the AMX tiles:
// the path is on and the CPU has it for some of its matrices.
func (m *Model) AMX() bool {
	return !m.noAMX && !m.int8(true) && len(m.layers) > 0 && tensor.AMXSupported(m.layers[0].gate.w.Type)
}

// tiled returns in's vectors prepared for w's AMX multiply, or nil when
// that path does not apply (decoding, int8 activations, other weights, no
// AMX).
func (m *Model) tiled(in *input, w *tensor.Matrix, prompt bool) *tensor.AMXVectors {
	if !prompt || m.int8(prompt) || m.noAMX || !tensor.AMXSupported(w.Type) || w.Cols%tensor.QK != 0 {
		return nil
	}
	if in.amx == nil || in.amx.Cols != w.Cols {
		v := &in.memory().amx
		v.Reset(in.n, w.Cols)
		m.parallel(in.n, 32, func(lo, hi int) { v.Fill(in.x, lo, hi) })
		in.amx = v
	}
	return in.amx
}
