package tokenizer

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
)

// splitGolden is one line of testdata/splits.jsonl: the pieces Python's regex module
// (and the tokenizers Split pre-tokenizer) cut the text into.
type splitGolden struct {
	Text   string   `json:"text"`
	GPT2   []string `json:"gpt2"`
	Llama3 []string `json:"llama3"`
	Qwen2  []string `json:"qwen2"`
}

func pieces(st step, s string) []string {
	var out []string
	pipeline{st}.run(s, func(p string) { out = append(out, p) })
	return out
}

func TestScannersMatchRegexModule(t *testing.T) {
	rows := readJSONL[splitGolden](t, "splits.jsonl")
	scanners := []struct {
		name string
		next scanner
		want func(splitGolden) []string
	}{
		{"gpt2", gpt2Scanner, func(g splitGolden) []string { return g.GPT2 }},
		{"llama3", llama3Scanner, func(g splitGolden) []string { return g.Llama3 }},
		{"qwen2", qwen2Scanner, func(g splitGolden) []string { return g.Qwen2 }},
	}
	for _, sc := range scanners {
		bad := 0
		for _, g := range rows {
			got := pieces(scanSplit{sc.next}, g.Text)
			if !slices.Equal(got, sc.want(g)) {
				bad++
				if bad <= 5 {
					t.Errorf("%s split of %q\n got  %q\n want %q", sc.name, g.Text, got, sc.want(g))
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d cases differ", sc.name, bad, len(rows))
		}
	}
}

// behaviorGolden is one line of testdata/behaviors.jsonl.
type behaviorGolden struct {
	Kind       string   `json:"kind"` // "String", "Regex" or "Digits"
	Pattern    string   `json:"pattern"`
	Behavior   string   `json:"behavior"`
	Invert     bool     `json:"invert"`
	Individual bool     `json:"individual"`
	Text       string   `json:"text"`
	Pieces     []string `json:"pieces"`
}

var behaviorNames = map[string]string{
	"removed": "Removed", "isolated": "Isolated", "merged_with_previous": "MergedWithPrevious",
	"merged_with_next": "MergedWithNext", "contiguous": "Contiguous",
}

func behaviorStep(g behaviorGolden) (step, error) {
	if g.Kind == "Digits" {
		return digitSplit{individual: g.Individual}, nil
	}
	behavior, err := parseBehavior(behaviorNames[g.Behavior])
	if err != nil {
		return nil, err
	}
	var m matcher
	if g.Kind == "String" {
		m = regexpMatcher{regexp.MustCompile(regexp.QuoteMeta(g.Pattern))}
	} else if m, err = compilePattern(g.Pattern); err != nil {
		return nil, err
	}
	return matchSplit{pattern: m, behavior: behavior, invert: g.Invert}, nil
}

func TestSplitBehaviorsMatchTokenizers(t *testing.T) {
	bad := 0
	for _, g := range readJSONL[behaviorGolden](t, "behaviors.jsonl") {
		st, err := behaviorStep(g)
		if err != nil {
			t.Fatalf("%+v: %v", g, err)
		}
		got := pieces(st, g.Text)
		if !slices.Equal(got, g.Pieces) && !(len(got) == 0 && len(g.Pieces) == 0) {
			bad++
			if bad <= 5 {
				t.Errorf("%s %q %s invert=%v on %q\n got  %q\n want %q", g.Kind, g.Pattern, g.Behavior, g.Invert, g.Text, got, g.Pieces)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d cases differ", bad)
	}
}

func TestTranslateRegex(t *testing.T) {
	cases := []struct{ in, want string }{
		{`\s+`, `[` + spaceClass + `]+`},
		{`[^\s\w]+`, `[^` + spaceClass + wordClass + `]+`},
		{`\S`, `[^` + spaceClass + `]`},
		{`\d{3}`, `[` + digitClass + `]{3}`},
		{`\p{N}\.`, `\p{N}\.`},
		{`[]\s]`, `[]` + spaceClass + `]`},
	}
	for _, c := range cases {
		got, err := translateRegex(c.in)
		if err != nil || got != c.want {
			t.Errorf("translateRegex(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := translateRegex(`[\S]`); err == nil {
		t.Error(`[\S] should be rejected`)
	}
	if _, err := compilePattern(`\s+(?!\S)`); err == nil {
		t.Error("an unknown lookahead pattern should be rejected")
	}
}

func TestStreamCompleteLen(t *testing.T) {
	crab := []byte("🦀")
	cases := []struct {
		in   []byte
		want int
	}{
		{nil, 0},
		{[]byte("abc"), 3},
		{crab[:1], 0},
		{crab[:3], 0},
		{crab, 4},
		{append([]byte("a"), crab[:2]...), 1},
		{[]byte{0xff}, 1},           // invalid: never completes
		{[]byte{0x80, 0x80}, 2},     // stray continuation bytes
		{[]byte{'a', 0xe6, 'b'}, 3}, // broken sequence followed by ASCII
	}
	for _, c := range cases {
		if got := completeLen(c.in); got != c.want {
			t.Errorf("completeLen(% x) = %d, want %d", c.in, got, c.want)
		}
	}
}

func ExampleTokenizer_NewStream() {
	data := []byte(`{"model": {"type": "BPE", "vocab": {"h": 0, "i": 1, "Ġ": 2, "hi": 3}, "merges": ["h i"]},
		"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false}}`)
	tok, err := FromJSON(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := tok.Encode("hi hi")
	fmt.Println(ids)
	s := tok.NewStream()
	for _, id := range ids {
		fmt.Printf("%q ", s.Add(id))
	}
	fmt.Println()
	// Output:
	// [3 2 3]
	// "hi" " " "hi"
}

// Expected pieces from tokenizers' Sequence([Digits(individual_digits=True),
// ByteLevel(add_prefix_space=True)]): the prefix space goes on every piece.
func TestPrefixSpacePerPiece(t *testing.T) {
	p := pipeline{digitSplit{individual: true}, prefixSpace{}, scanSplit{gpt2Scanner}}
	var got []string
	p.run("a1b  c", func(s string) { got = append(got, s) })
	if want := []string{" a", " 1", " b", " ", " c"}; !slices.Equal(got, want) {
		t.Errorf("pieces = %q, want %q", got, want)
	}
}
