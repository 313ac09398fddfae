// Package bert runs a BERT sentence embedder such as all-MiniLM-L6-v2 the way
// sentence-transformers does: WordPiece tokens from the model's
// tokenizer.json, the BERT encoder, mean pooling over the tokens and L2
// normalization. Weights come from the model folder's safetensors files.
package bert

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"rustexpert/inference/safetensors"
	"rustexpert/inference/tensor"
)

// Encoder turns texts into sentence embeddings. It is safe for concurrent
// use.
type Encoder struct {
	cfg     Config
	tok     *Tokenizer
	weights *safetensors.Set
	workers int
	cores   *tensor.Cores // the slots parallel steps run on

	word, position *tensor.Matrix
	tokenType      []float32 // the type-0 row
	embNorm        layerNorm
	layers         []layer

	scratch sync.Pool // *scratch of finished forward passes

	mu     sync.RWMutex // Close waits for running Embed calls
	closed bool
}

// layer is one transformer block.
type layer struct {
	qkv      linear // query, key and value rows stacked
	out      linear
	attnNorm layerNorm
	up, down linear
	ffnNorm  layerNorm
}

// linear is a dense layer, out = W·x + bias, its weights packed for
// tensor.Panels.Mul.
type linear struct {
	w    *tensor.Panels
	bias []float32
}

type layerNorm struct {
	weight, bias []float32
}

// Load opens the model folder dir: config.json, tokenizer.json, the
// sentence-transformers settings and the safetensors weights.
func Load(dir string) (*Encoder, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	tok, err := LoadTokenizer(filepath.Join(dir, "tokenizer.json"), cfg.MaxSeqLength)
	if err != nil {
		return nil, err
	}
	if id := tok.MaxID(); id >= cfg.Vocab && cfg.Vocab > 0 {
		return nil, fmt.Errorf("bert: %s: token id %d is outside vocab_size %d", filepath.Join(dir, "tokenizer.json"), id, cfg.Vocab)
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	workers := tensor.CPUs()
	e := &Encoder{cfg: cfg, tok: tok, weights: set, workers: workers, cores: tensor.NewCores(workers)}
	if err := e.loadWeights(weightNames(set)); err != nil {
		set.Close()
		return nil, fmt.Errorf("bert: %s: %w", dir, err)
	}
	if e.word.Rows <= tok.MaxID() {
		set.Close()
		return nil, fmt.Errorf("bert: %s: token id %d is outside embeddings.word_embeddings.weight (%d rows)", dir, tok.MaxID(), e.word.Rows)
	}
	return e, nil
}

// weightNames returns the tensor name prefix: "" or "bert." (checkpoints
// saved from BertForMaskedLM and the like).
func weightNames(set *safetensors.Set) string {
	if !set.Has("embeddings.word_embeddings.weight") && set.Has("bert.embeddings.word_embeddings.weight") {
		return "bert."
	}
	return ""
}

// loadWeights takes every tensor and checks its shape against the config.
func (e *Encoder) loadWeights(prefix string) error {
	c := e.cfg
	l := loader{set: e.weights, prefix: prefix}
	e.word = l.matrix("embeddings.word_embeddings.weight", -1, c.Hidden)
	e.position = l.matrix("embeddings.position_embeddings.weight", c.MaxPositions, c.Hidden)
	if types := l.matrix("embeddings.token_type_embeddings.weight", c.TypeVocab, c.Hidden); types != nil {
		e.tokenType = make([]float32, c.Hidden)
		types.Row(0, e.tokenType)
	}
	e.embNorm = l.norm("embeddings.LayerNorm", c.Hidden)
	e.layers = make([]layer, c.Layers)
	for i := range e.layers {
		e.layers[i] = l.layer(fmt.Sprintf("encoder.layer.%d.", i), c)
	}
	if l.err == nil && c.Vocab > 0 && e.word.Rows != c.Vocab {
		l.err = fmt.Errorf("tensor %sembeddings.word_embeddings.weight has %d rows, config.json vocab_size is %d", prefix, e.word.Rows, c.Vocab)
	}
	return l.err
}

// loader takes tensors from a set, keeping the first error.
type loader struct {
	set    *safetensors.Set
	prefix string
	err    error
}

// matrix takes a rows×cols matrix (rows -1: any).
func (l *loader) matrix(name string, rows, cols int) *tensor.Matrix {
	if l.err != nil {
		return nil
	}
	m, err := l.set.Matrix(l.prefix + name)
	if err != nil {
		l.err = err
		return nil
	}
	if (rows >= 0 && m.Rows != rows) || m.Cols != cols {
		l.err = fmt.Errorf("tensor %s%s has shape [%d %d], config.json wants [%d %d]", l.prefix, name, m.Rows, m.Cols, rows, cols)
		return nil
	}
	return m
}

// vector takes an n-vector.
func (l *loader) vector(name string, n int) []float32 {
	if l.err != nil {
		return nil
	}
	v, err := l.set.Vector(l.prefix + name)
	if err != nil {
		l.err = err
		return nil
	}
	if len(v) != n {
		l.err = fmt.Errorf("tensor %s%s has %d values, config.json wants %d", l.prefix, name, len(v), n)
		return nil
	}
	return v
}

// linear takes the dense layers name… (rows×cols each) and packs them as one
// layer, their rows one after the other.
func (l *loader) linear(rows, cols int, names ...string) linear {
	var w, b []float32
	for _, name := range names {
		m, bias := l.matrix(name+".weight", rows, cols), l.vector(name+".bias", rows)
		if l.err != nil {
			return linear{}
		}
		w = append(w, m.Float32()...)
		b = append(b, bias...)
	}
	return linear{w: tensor.PackPanels(len(b), cols, w, cols, 1), bias: b}
}

func (l *loader) norm(name string, n int) layerNorm {
	return layerNorm{weight: l.vector(name+".weight", n), bias: l.vector(name+".bias", n)}
}

// layer takes one transformer block's tensors, stacking the query, key and
// value projections into one layer.
func (l *loader) layer(p string, c Config) layer {
	h := c.Hidden
	self := p + "attention.self."
	return layer{
		qkv:      l.linear(h, h, self+"query", self+"key", self+"value"),
		out:      l.linear(h, h, p+"attention.output.dense"),
		attnNorm: l.norm(p+"attention.output.LayerNorm", h),
		up:       l.linear(c.Intermediate, h, p+"intermediate.dense"),
		down:     l.linear(h, c.Intermediate, p+"output.dense"),
		ffnNorm:  l.norm(p+"output.LayerNorm", h),
	}
}

// Dim is the length of the embeddings.
func (e *Encoder) Dim() int { return e.cfg.Hidden }

// Config returns the model's configuration.
func (e *Encoder) Config() Config { return e.cfg }

// Tokenizer returns the encoder's tokenizer (to count or cut text in the
// model's tokens).
func (e *Encoder) Tokenizer() *Tokenizer { return e.tok }

// ErrClosed is returned by Embed after Close.
var ErrClosed = errors.New("bert: encoder is closed")

// Close releases the weights; it waits for running Embed calls.
func (e *Encoder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	return e.weights.Close()
}
