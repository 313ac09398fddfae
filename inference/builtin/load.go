// Package builtin is the app's own CPU engine as an inference.Generator: it
// loads a Llama-family model (a GGUF file or a Hugging Face folder, plus an
// optional PEFT LoRA adapter), its tokenizer and chat template, and answers
// chat requests with n samples per prompt decoded together.
package builtin

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"rustexpert/inference/chat"
	"rustexpert/inference/gguf"
	"rustexpert/inference/llama"
	"rustexpert/inference/tensor"
	"rustexpert/inference/tokenizer"
)

// Spec says what to load.
type Spec struct {
	// Base is a .gguf file or a Hugging Face folder (config.json, *.safetensors,
	// tokenizer.json, tokenizer_config.json).
	Base string
	// Adapter is an optional PEFT LoRA adapter folder.
	Adapter string
	// Template names a chat template (chatml, llama3, llama2) to use instead of
	// the model's own.
	Template string
	// ContextLength, when positive and below the model's, limits the context.
	ContextLength int
	// Activations is the form of the matrix multiplies' inputs: "f32", "q8"
	// or "q8-prompt" (see llama.Activations). Empty means the
	// RUSTEXPERT_ENGINE_ACTIVATIONS environment variable's value, or the
	// model's PreferredActivations (f32; q8 on CPUs without AVX-512;
	// q8-prompt on AVX-512 VNNI CPUs without AMX, and on those with AMX for
	// weights in the K, IQ, Q5 and Q4_0 formats) when that is unset.
	Activations string
	// NoAMX turns off the AMX tile path of prompt multiplies (see
	// llama.Model.SetAMX); so does RUSTEXPERT_ENGINE_AMX=off.
	NoAMX bool
	// NoWarm turns off prefilling a finished conversation while idle (see
	// warmth); so does RUSTEXPERT_ENGINE_WARM=off.
	NoWarm bool
}

// activationsEnv names the environment variable that selects the
// activations when Spec.Activations is empty.
const activationsEnv = "RUSTEXPERT_ENGINE_ACTIVATIONS"

// amxEnv names the environment variable that turns the AMX path off ("off").
const amxEnv = "RUSTEXPERT_ENGINE_AMX"

// warmEnv names the environment variable that turns warming off ("off").
const warmEnv = "RUSTEXPERT_ENGINE_WARM"

// Engine is a loaded model ready to answer: a base model with its tokenizer,
// template and scheduler (a core, which a Pool shares among the engines of its
// adapters, so their answers decode in one batch) and an optional LoRA adapter.
type Engine struct {
	*core
	adapter    int    // the core model's adapter id (0: none)
	adapterDir string // its folder
	owned      bool   // Close stops the core (Load's engines; a Pool closes its cores itself)
}

// core is a loaded base model ready to answer, for the adapters added to it.
type core struct {
	model    *llama.Model
	tok      *tokenizer.Tokenizer
	template *chat.Template
	stopIDs  map[int]bool
	sched    *scheduler
	noWarm   bool
}

// Load reads the model, adapter, tokenizer and chat template that spec names.
func Load(spec Spec) (*Engine, error) {
	c, err := loadCore(spec, nil, &activity{})
	if err != nil {
		return nil, err
	}
	e := &Engine{core: c, owned: true}
	if err := e.addAdapter(spec.Adapter); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// addAdapter adds the adapter in dir ("" for none) to the core model and
// answers with it.
func (e *Engine) addAdapter(dir string) error {
	if dir == "" {
		return nil
	}
	id, err := e.model.AddAdapter(dir)
	if err != nil {
		return err
	}
	e.adapter, e.adapterDir = id, dir
	return nil
}

// loadCore loads spec's base model (its Adapter aside), computing on cores
// when it is not nil (a Pool's engines share them, and act counts which of
// them have work).
func loadCore(spec Spec, cores *tensor.Cores, act *activity) (*core, error) {
	info, err := os.Stat(spec.Base)
	if err != nil {
		return nil, fmt.Errorf("model weights: %w", err)
	}
	var e *core
	if info.IsDir() {
		e, err = loadDir(spec.Base)
	} else {
		e, err = loadGGUF(spec.Base)
	}
	if err != nil {
		return nil, err
	}
	if err := e.configure(spec); err != nil {
		e.close()
		return nil, err
	}
	if cores != nil {
		e.model.ShareCores(cores)
	}
	e.sched = newScheduler(e, act)
	return e, nil
}

func (e *core) configure(spec Spec) error {
	e.setAMX(spec)
	e.noWarm = spec.NoWarm || os.Getenv(warmEnv) == "off"
	if err := e.setActivations(spec.Activations); err != nil {
		return err
	}
	if spec.ContextLength > 0 && spec.ContextLength < e.model.ContextLen {
		e.model.ContextLen = spec.ContextLength
	}
	if spec.Template != "" {
		t, err := chat.ByName(spec.Template)
		if err != nil {
			return err
		}
		e.template = t
	}
	if e.template == nil {
		return errors.New("the model has no chat template: name one (chatml, llama3 or llama2)")
	}
	if e.tok.VocabSize() > e.model.Vocab {
		return fmt.Errorf("the tokenizer has %d tokens but the model only %d", e.tok.VocabSize(), e.model.Vocab)
	}
	e.addStop(e.tok.EOS())
	for _, s := range e.template.Stops() {
		if id, ok := e.tok.TokenID(s); ok {
			e.addStop(id)
		}
	}
	return nil
}

// setActivations applies the activations that name (or the environment)
// selects.
func (e *core) setActivations(name string) error {
	if name == "" {
		name = os.Getenv(activationsEnv)
	}
	a := e.model.PreferredActivations()
	if name != "" {
		var err error
		if a, err = llama.ParseActivations(name); err != nil {
			return fmt.Errorf("engine: %w", err)
		}
	}
	e.model.SetActivations(a)
	return nil
}

// setAMX turns the AMX path off when spec or the environment says so.
func (e *core) setAMX(spec Spec) {
	e.model.SetAMX(!spec.NoAMX && os.Getenv(amxEnv) != "off")
}

func (e *core) addStop(id int) {
	if e.stopIDs == nil {
		e.stopIDs = map[int]bool{}
	}
	if id >= 0 {
		e.stopIDs[id] = true
	}
}

// Close stops the engine and releases its weights, unless a Pool owns them.
func (e *Engine) Close() error {
	if !e.owned {
		return nil
	}
	return e.close()
}

// close stops the scheduler and releases the weights.
func (e *core) close() error {
	if e.sched != nil {
		e.sched.stop()
	}
	return e.model.Close()
}

// ContextLength is the most tokens a prompt and its answer may take together.
func (e *core) ContextLength() int { return e.model.ContextLen }

// Config is the loaded model's shape.
func (e *core) Config() llama.Config { return e.model.Config }

func loadGGUF(path string) (*core, error) {
	m, f, err := llama.LoadGGUF(path)
	if err != nil {
		return nil, err
	}
	tok, err := ggufTokenizer(f)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	e := &core{model: m, tok: tok}
	if f.Has("tokenizer.chat_template") {
		src, err := f.String("tokenizer.chat_template")
		if err == nil {
			e.template, err = chat.Detect(src)
		}
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("%s: chat template: %w", path, err)
		}
	}
	return e, nil
}

func ggufTokenizer(f *gguf.File) (*tokenizer.Tokenizer, error) {
	v := tokenizer.GGUFVocab{BOS: -1, EOS: -1, UNK: -1, PAD: -1}
	var err error
	str := func(key string, dst *string) {
		if err == nil {
			*dst, err = f.String(key)
		}
	}
	str("tokenizer.ggml.model", &v.Model)
	if f.Has("tokenizer.ggml.pre") {
		str("tokenizer.ggml.pre", &v.Pre)
	}
	if err == nil {
		v.Tokens, err = f.Strings("tokenizer.ggml.tokens")
	}
	if err == nil && f.Has("tokenizer.ggml.token_type") {
		v.Types, err = f.Int32s("tokenizer.ggml.token_type")
	}
	if err == nil && f.Has("tokenizer.ggml.merges") {
		v.Merges, err = f.Strings("tokenizer.ggml.merges")
	}
	for key, dst := range map[string]*int{"bos": &v.BOS, "eos": &v.EOS, "unknown": &v.UNK, "padding": &v.PAD} {
		k := "tokenizer.ggml." + key + "_token_id"
		if err == nil && f.Has(k) {
			var id uint64
			id, err = f.Uint(k)
			*dst = int(id)
		}
	}
	if err == nil && f.Has("tokenizer.ggml.add_bos_token") {
		v.AddBOS, err = f.Bool("tokenizer.ggml.add_bos_token")
	}
	if err == nil && f.Has("tokenizer.ggml.scores") {
		v.Scores, err = f.Floats("tokenizer.ggml.scores")
	}
	if err == nil && f.Has("tokenizer.ggml.add_space_prefix") {
		var prefix bool
		prefix, err = f.Bool("tokenizer.ggml.add_space_prefix")
		v.NoSpacePrefix = !prefix
	}
	if err != nil {
		return nil, err
	}
	return tokenizer.FromGGUF(v)
}

func loadDir(dir string) (*core, error) {
	m, err := llama.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	e := &core{model: m}
	if err := e.loadDirTokenizer(dir); err != nil {
		m.Close()
		return nil, err
	}
	return e, nil
}

// tokenizerConfig is the part of tokenizer_config.json the engine reads.
type tokenizerConfig struct {
	ChatTemplate json.RawMessage `json:"chat_template"`
	EOS          json.RawMessage `json:"eos_token"`
}

func (e *core) loadDirTokenizer(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	config, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("tokenizer: %w", err)
	}
	if len(config) == 0 {
		e.tok, err = tokenizer.FromJSON(data)
	} else {
		e.tok, err = tokenizer.FromHF(data, config)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	src, eos, err := readTokenizerConfig(dir)
	if err != nil {
		return err
	}
	if id, ok := e.tok.TokenID(eos); ok {
		e.addStop(id)
	}
	for _, id := range generationEOS(dir) {
		e.addStop(id)
	}
	if src != "" {
		if e.template, err = chat.Detect(src); err != nil {
			return fmt.Errorf("%s: chat template: %w", dir, err)
		}
	}
	return nil
}

// readTokenizerConfig returns the chat template (from tokenizer_config.json or
// chat_template.jinja) and the end-of-sequence token text.
func readTokenizerConfig(dir string) (template, eos string, err error) {
	path := filepath.Join(dir, "tokenizer_config.json")
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", "", err
	}
	var tc tokenizerConfig
	if len(data) > 0 {
		if err := json.Unmarshal(data, &tc); err != nil {
			return "", "", fmt.Errorf("%s: %w", path, err)
		}
	}
	template = templateText(tc.ChatTemplate)
	if jinja, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil {
		template = string(jinja)
	}
	return template, tokenText(tc.EOS), nil
}

// templateText reads chat_template as a string or as a list of named
// templates, taking the default one.
func templateText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var named []struct{ Name, Template string }
	if json.Unmarshal(raw, &named) == nil {
		for _, t := range named {
			if t.Name == "default" {
				return t.Template
			}
		}
	}
	return ""
}

// tokenText reads a special token given as a string or as {"content": ...}.
func tokenText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct{ Content string }
	if json.Unmarshal(raw, &obj) == nil {
		return obj.Content
	}
	return ""
}

// generationEOS reads the end-of-sequence ids of generation_config.json.
func generationEOS(dir string) []int {
	data, err := os.ReadFile(filepath.Join(dir, "generation_config.json"))
	if err != nil {
		return nil
	}
	var gc struct {
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if json.Unmarshal(data, &gc) != nil {
		return nil
	}
	var one int
	if json.Unmarshal(gc.EOS, &one) == nil {
		return []int{one}
	}
	var many []int
	_ = json.Unmarshal(gc.EOS, &many)
	return many
}

// activationsNames says what each form of the activations means, for Describe.
var activationsNames = map[llama.Activations]string{
	llama.ActivationsF32:      "float32",
	llama.ActivationsQ8:       "int8",
	llama.ActivationsQ8Prompt: "int8 for prompts, float32 for generated tokens",
}

// Describe says what was loaded, for the models page.
func (e *Engine) Describe() string {
	c := e.model.Config
	s := fmt.Sprintf("%s, %d layers, hidden %d, %d heads (%d key/value), vocabulary %d, context %d tokens, %s template, weights %s, activations %s",
		c.Arch, c.Layers, c.Hidden, c.Heads, c.KVHeads, c.Vocab, c.ContextLen, e.template.Family, e.model.WeightTypes(),
		activationsNames[e.model.Activations()])
	if e.adapterDir != "" {
		s += ", LoRA adapter " + e.adapterDir
	}
	return s
}

// Model is the loaded network (for benchmarks and tools that drive it directly).
func (e *core) Model() *llama.Model { return e.model }

// Tokenizer is the model's tokenizer.
func (e *core) Tokenizer() *tokenizer.Tokenizer { return e.tok }
