package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	movePrompt     = "Why does this fail to compile?\n\n```rust\nfn main() {\n    let s = String::from(\"hi\");\n    let t = s;\n    println!(\"{s} {t}\");\n}\n```"
	lifetimePrompt = "Explain `error[E0106]: missing lifetime specifier` for `fn longest(a: &str, b: &str) -> &str` and fix it."
	traitPrompt    = "Implement `Display` for `struct Point { x: i32, y: i32 }` so it prints `(x, y)`."
	closurePrompt  = "When does a closure implement `FnMut` but not `Fn`?"
	asyncPrompt    = "How do I run two futures concurrently with tokio and wait for both?"
	errorPrompt    = "Replace the `unwrap()` calls in this function with `?` and a custom error type."
	iterPrompt     = "Sum the even numbers of a `Vec<i32>` with iterators."
	genericPrompt  = "Write `fn largest<T: PartialOrd>(xs: &[T]) -> Option<&T>`."
	badRefPrompt   = "Why is `Rc<RefCell<T>>` needed for a doubly linked list?"
)

const systemPrompt = "You are a senior Rust engineer. Answer with compiling code."

// fixtureLabels is a realistic export: 2- and 3-answer prompts, a held-out
// prompt, a train copy of it differing only in whitespace, ties, a machine
// suggestion, agreeing and disagreeing annotators, identical answers, a label
// naming a missing answer, and a prompt stored twice under two IDs.
func fixtureLabels() []Label {
	moveAnswers := []Answer{
		{ID: 11, Model: "qwen2.5-coder-7b", Text: "`s` is moved into `t` by `let t = s;`, so `s` can no longer be used. Borrow instead:\n\n```rust\nlet t = &s;\nprintln!(\"{s} {t}\");\n```"},
		{ID: 12, Model: "llama-3.1-8b", Text: "You have to print `&s` instead of `s`."},
		{ID: 13, Model: "tinyllama-1.1b", Text: "Rust does not support `{s}` in format strings."},
	}
	lifetimeAnswers := []Answer{
		{ID: 21, Model: "qwen2.5-coder-7b", Text: "The returned reference must be tied to an input: `fn longest<'a>(a: &'a str, b: &'a str) -> &'a str`."},
		{ID: 22, Model: "llama-3.1-8b", Text: "Return `String` instead of `&str` and call `.to_string()` everywhere."},
	}
	// The same prompt imported twice; its answers are the same texts.
	lifetimeAgain := []Answer{
		{ID: 121, Model: "qwen2.5-coder-7b", Text: lifetimeAnswers[0].Text},
		{ID: 122, Model: "llama-3.1-8b", Text: lifetimeAnswers[1].Text},
	}
	traitAnswers := []Answer{
		{ID: 31, Model: "qwen2.5-coder-7b", Text: "```rust\nimpl fmt::Display for Point {\n    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {\n        write!(f, \"({}, {})\", self.x, self.y)\n    }\n}\n```"},
		{ID: 32, Model: "llama-3.1-8b", Text: "Use `#[derive(Display)]`."},
	}
	traitAgain := []Answer{
		{ID: 81, Model: "qwen2.5-coder-7b", Text: traitAnswers[0].Text},
		{ID: 82, Model: "llama-3.1-8b", Text: traitAnswers[1].Text},
	}
	closureAnswers := []Answer{
		{ID: 41, Model: "qwen2.5-coder-7b", Text: "When it mutates captured state but does not move it out."},
		{ID: 42, Model: "llama-3.1-8b", Text: "When it captures anything by mutable reference."},
	}
	asyncAnswers := []Answer{
		{ID: 51, Model: "qwen2.5-coder-7b", Text: "`let (a, b) = tokio::join!(fut_a, fut_b);`"},
		{ID: 52, Model: "llama-3.1-8b", Text: "Spawn both with `tokio::spawn` and `.await` the handles."},
		{ID: 53, Model: "tinyllama-1.1b", Text: "Use `futures::future::join(fut_a, fut_b).await`."},
	}
	errorAnswers := []Answer{
		{ID: 61, Model: "qwen2.5-coder-7b", Text: "Define `enum ParseError` with `From` impls and return `Result<_, ParseError>`."},
		{ID: 62, Model: "llama-3.1-8b", Text: "Wrap the body in `std::panic::catch_unwind`."},
	}
	iterAnswers := []Answer{
		{ID: 71, Model: "qwen2.5-coder-7b", Text: "`xs.iter().filter(|x| *x % 2 == 0).sum::<i32>()`"},
		{ID: 72, Model: "llama-3.1-8b", Text: "`xs.iter().filter(|x| *x % 2 == 0).sum::<i32>()`"},
	}
	genericAnswers := []Answer{
		{ID: 91, Model: "llama-3.1-8b", Text: "Loop with `if x > largest` — works for every `T`."},
		{ID: 92, Model: "qwen2.5-coder-7b", Text: "```rust\nfn largest<T: PartialOrd>(xs: &[T]) -> Option<&T> {\n    xs.iter().fold(None, |m, x| match m {\n        Some(m) if m >= x => Some(m),\n        _ => Some(x),\n    })\n}\n```\nIt returns `None` for an empty slice && never clones."},
	}
	badRefAnswers := []Answer{
		{ID: 101, Model: "qwen2.5-coder-7b", Text: "Shared ownership plus interior mutability."},
		{ID: 102, Model: "llama-3.1-8b", Text: "It is not needed."},
	}
	pair := func(promptID int64, prompt, category, who string, answers []Answer, chosen, rejected int64, ranking ...int64) Label {
		return Label{
			PromptID: promptID, Prompt: prompt, Category: category, Split: SplitTrain,
			Annotator: who, Verdict: VerdictPair, ChosenID: chosen, RejectedID: rejected,
			Ranking: ranking, Answers: answers,
		}
	}
	heldout := pair(3, traitPrompt, "traits", "alice", traitAnswers, 31, 32)
	heldout.Split = SplitHeldout
	suggested := pair(6, errorPrompt, "errors", "compiler", errorAnswers, 61, 62)
	suggested.SuggestedBy = "compiler"
	verdict := func(who, v string, chosen int64) Label {
		return Label{
			PromptID: 5, Prompt: asyncPrompt, Category: "async", Split: SplitTrain,
			Annotator: who, Verdict: v, ChosenID: chosen, Answers: asyncAnswers,
		}
	}
	return []Label{
		pair(1, movePrompt, "ownership", "alice", moveAnswers, 11, 13, 11, 12, 13),
		pair(1, movePrompt, "ownership", "bob", moveAnswers, 11, 13, 11, 12, 13),
		pair(1, movePrompt, "ownership", "carol", moveAnswers, 11, 12, 11, 13, 12),
		pair(2, lifetimePrompt, "lifetimes", "bob", lifetimeAnswers, 21, 22),
		pair(2, lifetimePrompt, "lifetimes", "alice", lifetimeAnswers, 21, 22),
		heldout,
		pair(4, closurePrompt, "closures", "alice", closureAnswers, 41, 42),
		pair(4, closurePrompt, "closures", "dave", closureAnswers, 42, 41),
		verdict("alice", VerdictTie, 0),
		verdict("bob", VerdictBothBad, 0),
		verdict("carol", VerdictSkip, 0),
		verdict("dave", VerdictTie, 53),
		suggested,
		pair(7, iterPrompt, "iterators", "erin", iterAnswers, 71, 72),
		pair(8, traitPrompt+"\n", "traits", "bob", traitAgain, 81, 82),
		pair(9, genericPrompt, "generics", "erin", genericAnswers, 92, 91),
		pair(10, badRefPrompt, "smart-pointers", "carol", badRefAnswers, 101, 999),
		pair(12, lifetimePrompt, "lifetimes-copy", "carol", lifetimeAgain, 121, 122),
	}
}

// fixtureHeldoutIDs is what the app would pass to the validator: the prompt_id
// of every held-out prompt text.
func fixtureHeldoutIDs() map[string]bool {
	return map[string]bool{PromptID(traitPrompt): true, PromptID(traitPrompt + "\n"): true}
}

func writeRows(t *testing.T, rows any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, _, err := WriteJSONL(&buf, rows); err != nil {
		t.Fatalf("WriteJSONL: %v", err)
	}
	return buf.Bytes()
}

// compareGolden checks got against testdata/name, rewriting it with -update.
func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("update golden: %v", err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestBuildDPOGolden(t *testing.T) {
	tests := []struct {
		golden string
		opt    Options
		stats  Stats
	}{
		{
			golden: "dpo_conversational.jsonl",
			opt:    Options{System: systemPrompt},
			stats: Stats{Labels: 18, Rows: 4, SkippedHeldout: 2, SkippedVerdict: 4, SkippedSuggested: 1,
				Conflicts: 1, Duplicates: 3, Identical: 1, Invalid: 1},
		},
		{
			golden: "dpo_plain.jsonl",
			opt:    Options{Shape: ShapePlain, IncludeSuggested: true},
			stats: Stats{Labels: 18, Rows: 5, SkippedHeldout: 2, SkippedVerdict: 4,
				Conflicts: 1, Duplicates: 3, Identical: 1, Invalid: 1},
		},
		{
			golden: "dpo_all_pairs.jsonl",
			opt:    Options{AllPairs: true},
			stats: Stats{Labels: 18, Rows: 4, SkippedHeldout: 2, SkippedVerdict: 4, SkippedSuggested: 1,
				Conflicts: 2, Duplicates: 6, Identical: 1, Invalid: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			rows, stats := BuildDPO(fixtureLabels(), tt.opt)
			if stats != tt.stats {
				t.Errorf("stats = %+v, want %+v", stats, tt.stats)
			}
			compareGolden(t, tt.golden, writeRows(t, rows))
		})
	}
}

func TestBuildSFTGolden(t *testing.T) {
	rows, stats := BuildSFT(fixtureLabels(), Options{TiesToSFT: true, System: systemPrompt})
	want := Stats{Labels: 18, Rows: 5, SkippedHeldout: 2, SkippedVerdict: 2, SkippedSuggested: 1,
		Conflicts: 2, Duplicates: 4, Identical: 1, Invalid: 1}
	if stats != want {
		t.Errorf("stats = %+v, want %+v", stats, want)
	}
	compareGolden(t, "sft.jsonl", writeRows(t, rows))

	_, stats = BuildSFT(fixtureLabels(), Options{})
	if stats.Rows != 3 || stats.SkippedVerdict != 4 {
		t.Errorf("without TiesToSFT: stats = %+v, want 3 rows and 4 skipped verdicts", stats)
	}
}

// TestBuildDPOMergesAgreeingAnnotators pins the rule on one prompt: two
// annotators agreeing give one row naming both; disagreement drops the pair.
func TestBuildDPOMergesAgreeingAnnotators(t *testing.T) {
	answers := []Answer{{ID: 1, Model: "a", Text: "good"}, {ID: 2, Model: "b", Text: "bad"}}
	label := func(who string, chosen, rejected int64) Label {
		return Label{PromptID: 1, Prompt: "p", Split: SplitTrain, Annotator: who, Verdict: VerdictPair,
			ChosenID: chosen, RejectedID: rejected, Answers: answers}
	}
	rows, stats := BuildDPO([]Label{label("zoe", 1, 2), label("adam", 1, 2)}, Options{Shape: ShapePlain})
	if len(rows) != 1 || stats.Duplicates != 1 || stats.Conflicts != 0 {
		t.Fatalf("agreeing: rows = %+v, stats = %+v", rows, stats)
	}
	if rows[0].Annotator != "adam,zoe" || rows[0].Chosen != "good" || rows[0].Rejected != "bad" {
		t.Errorf("agreeing row = %+v", rows[0])
	}
	rows, stats = BuildDPO([]Label{label("zoe", 1, 2), label("adam", 2, 1)}, Options{})
	if len(rows) != 0 || stats.Conflicts != 1 || stats.Duplicates != 0 {
		t.Errorf("disagreeing: rows = %+v, stats = %+v", rows, stats)
	}
}

func TestBuildIsIndependentOfLabelOrder(t *testing.T) {
	labels := fixtureLabels()
	reversed := slices.Clone(labels)
	slices.Reverse(reversed)
	opts := []Options{{}, {Shape: ShapePlain, AllPairs: true}, {TiesToSFT: true, IncludeSuggested: true}}
	for _, opt := range opts {
		dpo, _ := BuildDPO(labels, opt)
		dpoReversed, _ := BuildDPO(reversed, opt)
		if !bytes.Equal(writeRows(t, dpo), writeRows(t, dpoReversed)) {
			t.Errorf("BuildDPO(%+v) depends on label order", opt)
		}
		sft, _ := BuildSFT(labels, opt)
		sftReversed, _ := BuildSFT(reversed, opt)
		if !bytes.Equal(writeRows(t, sft), writeRows(t, sftReversed)) {
			t.Errorf("BuildSFT(%+v) depends on label order", opt)
		}
	}
}

// allOptions lists every combination of the switches that change which labels
// produce rows.
func allOptions() []Options {
	var opts []Options
	for _, shape := range []string{ShapeConversational, ShapePlain} {
		for _, allPairs := range []bool{false, true} {
			for _, ties := range []bool{false, true} {
				for _, suggested := range []bool{false, true} {
					opts = append(opts, Options{Shape: shape, AllPairs: allPairs, TiesToSFT: ties,
						IncludeSuggested: suggested, System: systemPrompt})
				}
			}
		}
	}
	return opts
}

func TestHeldoutNeverProducesRows(t *testing.T) {
	// Every label here is on a held-out prompt: marked heldout, a split that is
	// not exactly "train", or a train label whose text is held out elsewhere.
	answers := []Answer{{ID: 1, Model: "a", Text: "good"}, {ID: 2, Model: "b", Text: "bad"}, {ID: 3, Model: "c", Text: "worse"}}
	var labels []Label
	for i, split := range []string{SplitHeldout, "", "Train", "test"} {
		for _, v := range []string{VerdictPair, VerdictTie} {
			labels = append(labels, Label{PromptID: int64(i), Prompt: "held " + split, Split: split, Annotator: "alice",
				Verdict: v, ChosenID: 1, RejectedID: 3, Ranking: []int64{1, 2, 3}, SuggestedBy: "compiler", Answers: answers})
		}
	}
	labels = append(labels,
		Label{PromptID: 9, Prompt: "shared prompt", Split: SplitHeldout, Verdict: VerdictSkip, Answers: answers},
		Label{PromptID: 10, Prompt: "  shared\tprompt ", Split: SplitTrain, Annotator: "bob", Verdict: VerdictPair,
			ChosenID: 1, RejectedID: 2, Answers: answers},
	)
	for _, opt := range allOptions() {
		dpo, dpoStats := BuildDPO(labels, opt)
		sft, sftStats := BuildSFT(labels, opt)
		if len(dpo) != 0 || len(sft) != 0 {
			t.Errorf("%+v: held-out labels produced rows: dpo %+v, sft %+v", opt, dpo, sft)
		}
		if dpoStats.SkippedHeldout != len(labels) || sftStats.SkippedHeldout != len(labels) {
			t.Errorf("%+v: SkippedHeldout = %d (dpo), %d (sft), want %d", opt, dpoStats.SkippedHeldout, sftStats.SkippedHeldout, len(labels))
		}
	}

	// On the realistic fixture no option lets the held-out prompt through, and
	// the validator agrees.
	for _, opt := range allOptions() {
		dpo, _ := BuildDPO(fixtureLabels(), opt)
		sft, _ := BuildSFT(fixtureLabels(), opt)
		for _, rows := range []any{dpo, sft} {
			data := writeRows(t, rows)
			if bytes.Contains(data, []byte("Display")) {
				t.Errorf("%+v: held-out prompt text found in rows:\n%s", opt, data)
			}
			report, err := Validate(bytes.NewReader(data), ValidateOptions{HeldoutPromptIDs: fixtureHeldoutIDs()})
			if err != nil {
				t.Fatal(err)
			}
			if !report.OK() {
				t.Errorf("%+v: validator problems: %v", opt, report.Problems)
			}
		}
	}
}

// TestRoundTrip writes built rows to a real file and validates it.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name     string
		kind     string
		rows     func() (any, Stats)
		wantKind string
	}{
		{"conversational.jsonl", "", func() (any, Stats) { return BuildDPO(fixtureLabels(), Options{System: systemPrompt}) }, KindDPO},
		{"plain.jsonl", KindDPO, func() (any, Stats) { return BuildDPO(fixtureLabels(), Options{Shape: ShapePlain, AllPairs: true}) }, KindDPO},
		{"sft.jsonl", "", func() (any, Stats) { return BuildSFT(fixtureLabels(), Options{TiesToSFT: true}) }, KindSFT},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, stats := c.rows()
			path := filepath.Join(dir, c.name)
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			n, sum, err := WriteJSONL(f, rows)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if n != stats.Rows {
				t.Errorf("wrote %d rows, built %d", n, stats.Rows)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if fileSum := sha256.Sum256(data); hex.EncodeToString(fileSum[:]) != sum {
				t.Errorf("WriteJSONL sha %s, file sha %x", sum, fileSum)
			}
			in, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			report, err := Validate(in, ValidateOptions{Kind: c.kind, HeldoutPromptIDs: fixtureHeldoutIDs()})
			if err != nil {
				t.Fatal(err)
			}
			if !report.OK() || report.Kind != c.wantKind || report.Rows != stats.Rows {
				t.Errorf("report = %+v, want clean %s with %d rows", report, c.wantKind, stats.Rows)
			}
		})
	}
}

func TestWriteJSONLHashAndEscaping(t *testing.T) {
	rows := []map[string]any{{"b": "Vec<T> && x", "a": 1}, {"messages": []Message{{Role: "user", Content: "é\n\"q\""}}}}
	var buf bytes.Buffer
	n, sum, err := WriteJSONL(&buf, rows)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"a\":1,\"b\":\"Vec<T> && x\"}\n{\"messages\":[{\"role\":\"user\",\"content\":\"é\\n\\\"q\\\"\"}]}\n"
	if n != 2 || buf.String() != want {
		t.Errorf("n = %d, output = %q, want 2 rows %q", n, buf.String(), want)
	}
	if bufSum := sha256.Sum256(buf.Bytes()); hex.EncodeToString(bufSum[:]) != sum {
		t.Errorf("sha = %s, sha256 of output = %x", sum, bufSum)
	}

	n, sum, err = WriteJSONL(&buf, []DPORow(nil))
	if err != nil || n != 0 || sum != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("empty: n = %d, sha = %s, err = %v", n, sum, err)
	}
	if _, _, err := WriteJSONL(&buf, DPORow{}); err == nil {
		t.Error("a single row (not a slice) was accepted")
	}
}

// shortWriter accepts limit bytes, then fails.
type shortWriter struct {
	buf   bytes.Buffer
	limit int
}

var errDiskFull = errors.New("disk full")

func (w *shortWriter) Write(p []byte) (int, error) {
	room := w.limit - w.buf.Len()
	if len(p) <= room {
		return w.buf.Write(p)
	}
	w.buf.Write(p[:room])
	return room, errDiskFull
}

func TestWriteJSONLHashCoversOnlyWrittenBytes(t *testing.T) {
	rows, _ := BuildDPO(fixtureLabels(), Options{})
	w := &shortWriter{limit: 700}
	n, sum, err := WriteJSONL(w, rows)
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("err = %v, want disk full", err)
	}
	if n != strings.Count(w.buf.String(), "\n") {
		t.Errorf("n = %d, but %d whole lines were written", n, strings.Count(w.buf.String(), "\n"))
	}
	if bufSum := sha256.Sum256(w.buf.Bytes()); hex.EncodeToString(bufSum[:]) != sum {
		t.Errorf("sha = %s, sha256 of the %d written bytes = %x", sum, w.buf.Len(), bufSum)
	}
}

func TestPromptID(t *testing.T) {
	// sha256("abc") from FIPS 180-2, appendix B.1.
	if got := PromptID("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("PromptID(abc) = %s", got)
	}
}
