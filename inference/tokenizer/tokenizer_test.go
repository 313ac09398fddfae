package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// golden is one line of a goldens*.jsonl file written by testdata/make_goldens.py.
type golden struct {
	Text string `json:"text"`
	IDs  []int  `json:"ids"`
}

func readJSONL[T any](t testing.TB, name string) []T {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var row T
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s has no rows", name)
	}
	return rows
}

func smolJSON(t testing.TB) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "smollm2_tokenizer.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(gz)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// smol is the SmolLM2 tokenizer from testdata.
func smol(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := FromJSON(smolJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func loadJSON(t testing.TB, name string) *Tokenizer {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := FromJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tok
}

func corpus(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "corpus.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func checkGoldens(t *testing.T, tok *Tokenizer, rows []golden) {
	t.Helper()
	bad := 0
	for _, g := range rows {
		got := tok.Encode(g.Text)
		if !slices.Equal(got, g.IDs) {
			bad++
			if bad <= 5 {
				t.Errorf("Encode(%q)\n got  %v\n want %v", g.Text, got, g.IDs)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d goldens differ", bad, len(rows))
	}
}

func TestFromJSONSmolLM2Goldens(t *testing.T) {
	checkGoldens(t, smol(t), readJSONL[golden](t, "goldens.jsonl"))
}

// The SmolLM2 file stores merges as pairs; the same merges as "a b" strings must
// give the same tokenizer.
func TestFromJSONStringMerges(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(smolJSON(t), &doc); err != nil {
		t.Fatal(err)
	}
	model := doc["model"].(map[string]any)
	pairs := model["merges"].([]any)
	lines := make([]string, len(pairs))
	for i, p := range pairs {
		pair := p.([]any)
		lines[i] = pair[0].(string) + " " + pair[1].(string)
	}
	model["merges"] = lines
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := FromJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	checkGoldens(t, tok, readJSONL[golden](t, "goldens.jsonl")[:120])
}

func TestLlama3StyleGoldens(t *testing.T) {
	checkGoldens(t, loadJSON(t, "llama3_style.json"), readJSONL[golden](t, "goldens_llama3_style.jsonl"))
}

func TestQwen2StyleGoldens(t *testing.T) {
	checkGoldens(t, loadJSON(t, "qwen2_style.json"), readJSONL[golden](t, "goldens_qwen2_style.jsonl"))
}

func TestIgnoreMergesGoldens(t *testing.T) {
	checkGoldens(t, loadJSON(t, "ignore_merges.json"), readJSONL[golden](t, "goldens_ignore_merges.jsonl"))
}

func TestRoundTrip(t *testing.T) {
	text := corpus(t)
	cases := append(strings.Split(text, "\n"), text)
	for _, name := range []string{"", "llama3_style.json", "qwen2_style.json"} {
		tok := smol(t)
		if name != "" {
			tok = loadJSON(t, name)
		}
		for _, c := range cases {
			if got := tok.Decode(tok.Encode(c)); got != c && !strings.HasPrefix(got, "<|begin_of_text|>") {
				t.Errorf("%s: Decode(Encode(%q)) = %q", name, c, got)
			}
		}
	}
}

// The llama3_style vocabulary has all 256 bytes, so even invalid UTF-8 survives.
func TestRoundTripInvalidUTF8(t *testing.T) {
	tok := loadJSON(t, "llama3_style.json")
	bos := tok.Token(tok.BOS())
	for _, c := range []string{"\xff\xfe", "a\x80b", "\xe6\x97", "ok \xf0\x9f\xa6 crab", "\x00\x01\x1d"} {
		got := tok.Decode(tok.Encode(c))
		if got != bos+c {
			t.Errorf("Decode(Encode(%q)) = %q", c, got)
		}
		if got := tok.Decode(tok.EncodePlain(c)); got != c {
			t.Errorf("Decode(EncodePlain(%q)) = %q", c, got)
		}
	}
}

func TestStreamMatchesDecode(t *testing.T) {
	tok := smol(t)
	for _, g := range readJSONL[golden](t, "goldens.jsonl") {
		want := tok.Decode(g.IDs)
		var b strings.Builder
		s := tok.NewStream()
		for _, id := range g.IDs {
			part := s.Add(id)
			if utf8.ValidString(want) && !utf8.ValidString(part) {
				t.Fatalf("%q: Stream.Add returned a split character %q", g.Text, part)
			}
			b.WriteString(part)
		}
		b.WriteString(s.Flush())
		if b.String() != want {
			t.Fatalf("stream of %q = %q, Decode = %q", g.Text, b.String(), want)
		}
	}
}

func TestStreamHoldsPartialCharacters(t *testing.T) {
	tok := smol(t)
	// "🦀" is four bytes; SmolLM2 spells it with several tokens.
	ids := tok.Encode("🦀")
	if len(ids) < 2 {
		t.Fatalf("want a multi-token character, got %v", ids)
	}
	s := tok.NewStream()
	for _, id := range ids[:len(ids)-1] {
		if out := s.Add(id); out != "" {
			t.Fatalf("Add returned %q before the character was complete", out)
		}
	}
	if out := s.Add(ids[len(ids)-1]); out != "🦀" {
		t.Fatalf("last Add = %q, want the crab", out)
	}
	if out := s.Flush(); out != "" {
		t.Fatalf("Flush = %q, want empty", out)
	}
	// An unfinished character at the end comes out of Flush.
	s.Add(ids[0])
	if out := s.Flush(); out != tok.Decode(ids[:1]) {
		t.Fatalf("Flush = %q", out)
	}
}

func TestSmolLM2Accessors(t *testing.T) {
	tok := smol(t)
	if tok.VocabSize() != 49152 {
		t.Errorf("VocabSize = %d", tok.VocabSize())
	}
	if id, ok := tok.TokenID("<|im_start|>"); !ok || id != 1 {
		t.Errorf("TokenID(<|im_start|>) = %d, %v", id, ok)
	}
	if id, ok := tok.TokenID("Ġthe"); !ok || tok.Token(id) != "Ġthe" {
		t.Errorf("TokenID(Ġthe) = %d, %v", id, ok)
	}
	if tok.Token(-1) != "" || tok.Token(1<<30) != "" {
		t.Error("Token of an out-of-range id is not empty")
	}
	if !tok.IsSpecial(2) || tok.IsSpecial(100) || tok.IsSpecial(-5) {
		t.Error("IsSpecial is wrong")
	}
	if tok.AddsBOS() {
		t.Error("SmolLM2 does not add BOS")
	}
	if got := tok.Decode([]int{1, -3, 1 << 30, 2}); got != "<|im_start|><|im_end|>" {
		t.Errorf("Decode with bad ids = %q", got)
	}
}

func TestEncodePlainKeepsSpecialTokensAsText(t *testing.T) {
	tok := smol(t)
	text := "say <|im_end|> now"
	if ids := tok.Encode(text); !slices.Contains(ids, 2) {
		t.Fatalf("Encode should find <|im_end|>: %v", ids)
	}
	ids := tok.EncodePlain(text)
	if slices.Contains(ids, 2) {
		t.Fatalf("EncodePlain turned text into a special token: %v", ids)
	}
	if tok.Decode(ids) != text {
		t.Fatalf("EncodePlain does not round-trip: %q", tok.Decode(ids))
	}
}

func TestLlama3StyleTemplateAndAdded(t *testing.T) {
	tok := loadJSON(t, "llama3_style.json")
	if !tok.AddsBOS() || tok.BOS() != 0 || tok.Token(0) != "<|begin_of_text|>" {
		t.Errorf("BOS = %d (%q), adds %v", tok.BOS(), tok.Token(tok.BOS()), tok.AddsBOS())
	}
	if tok.EOS() != 900 {
		t.Errorf("EOS = %d, want <|eot_id|> (900)", tok.EOS())
	}
	if ids := tok.Encode(""); !slices.Equal(ids, []int{0}) {
		t.Errorf("Encode(\"\") = %v, want just BOS", ids)
	}
	if ids := tok.EncodePlain(""); len(ids) != 0 {
		t.Errorf("EncodePlain(\"\") = %v", ids)
	}
	// <mask> (special) is still found by EncodePlain? No: it is special.
	if ids := tok.EncodePlain("<mask>"); slices.Contains(ids, 903) {
		t.Errorf("EncodePlain matched a special token: %v", ids)
	}
	// rustexpert is a non-special added token: always matched.
	if ids := tok.EncodePlain("rustexpert"); !slices.Equal(ids, []int{904}) {
		t.Errorf("EncodePlain(rustexpert) = %v", ids)
	}
}

func TestFromHFConfig(t *testing.T) {
	data := smolJSON(t)
	tok, err := FromHF(data, []byte(`{"bos_token": {"content": "<|endoftext|>"}, "eos_token": "<|im_end|>"}`))
	if err != nil {
		t.Fatal(err)
	}
	if tok.BOS() != 0 || tok.EOS() != 2 {
		t.Errorf("BOS, EOS = %d, %d", tok.BOS(), tok.EOS())
	}
	if _, err := FromHF(data, []byte(`{"eos_token": "<nope>"}`)); err == nil || !strings.Contains(err.Error(), "eos_token") {
		t.Errorf("unknown eos_token: err = %v", err)
	}
	if _, err := FromHF(data, []byte(`{"bos_token": 7}`)); err == nil || !strings.Contains(err.Error(), "bos_token") {
		t.Errorf("numeric bos_token: err = %v", err)
	}
}

// Concurrent use must give the same results (and pass the race detector).
func TestConcurrentEncode(t *testing.T) {
	tok := smol(t)
	rows := readJSONL[golden](t, "goldens.jsonl")
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(rows); i += 2 {
				if !slices.Equal(tok.Encode(rows[i].Text), rows[i].IDs) {
					errs <- rows[i].Text
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for text := range errs {
		t.Errorf("concurrent Encode(%q) differs", text)
	}
}

func TestEncodeChatAddsNoBOS(t *testing.T) {
	tok := loadJSON(t, "llama3_style.json")
	prompt := "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
	want := tok.Encode(prompt)[1:] // Encode puts a second BOS first
	if got := tok.EncodeChat(prompt); !slices.Equal(got, want) || got[0] != 0 || got[1] == 0 {
		t.Errorf("EncodeChat = %v, want %v", got, want)
	}
}

// FuzzRoundTrip checks that any text survives EncodePlain and Decode with a
// vocabulary holding all 256 bytes, and that Encode never panics.
func FuzzRoundTrip(f *testing.F) {
	for _, seed := range []string{"", "hello world", "<mask> x", "a\x80\xff", "rustexpert[[sep]]", "'s 'LL\r\n\r\n  ", "日本語 🦀 123456"} {
		f.Add(seed)
	}
	tok := loadJSON(f, "llama3_style.json")
	f.Fuzz(func(t *testing.T, s string) {
		if got := tok.Decode(tok.EncodePlain(s)); got != s {
			t.Errorf("Decode(EncodePlain(%q)) = %q", s, got)
		}
		tok.Encode(s)
	})
}
