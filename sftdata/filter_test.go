package sftdata

import (
	"context"
	"strings"
	"testing"
)

func pair(q, a string) Pair {
	return Pair{Question: q, Answer: a, Meta: Meta{Source: "test", Kind: KindWriteFn, Path: "p.rs", Licence: "MIT"}}
}

func TestExclusionDropsExerciseSolution(t *testing.T) {
	e := NewExclusion(nil)
	if n, err := e.AddExercises("testdata/exercism"); err != nil || n != 3 {
		t.Fatalf("AddExercises = %d, %v; want 3 files", n, err)
	}
	leak := pair("Write a function that reverses a string.",
		"```rust\npub fn reverse(input: &str) -> String {\n    input.chars().rev().collect()\n}\n```")
	if got := e.Check(leak); got != "overlaps an evaluation exercise" {
		t.Errorf("solution pair: %q, want it dropped as overlapping an exercise", got)
	}
	instructions := pair("Your task is to reverse a given string. Some examples: turn \"stressed\" into \"desserts\", turn \"strops\" into \"sports\".",
		"```rust\nfn r(s: &str) -> String { s.chars().rev().collect() }\n```")
	if got := e.Check(instructions); got == "" {
		t.Error("a pair quoting the exercise's instructions was kept")
	}
	fine := pair("Write a function that sums a slice of integers.",
		"```rust\npub fn sum(xs: &[i64]) -> i64 {\n    xs.iter().sum()\n}\n```")
	if got := e.Check(fine); got != "" {
		t.Errorf("unrelated pair dropped: %q", got)
	}
}

func TestExclusionDropsHeldoutNearDuplicates(t *testing.T) {
	held := "Our report function takes Vec<String> by value, so every caller ends up cloning their vector before calling it. When should a parameter be a slice instead?"
	e := NewExclusion([]string{held})
	if got := e.Check(pair("  OUR report function takes Vec<String> by value, so every caller ends up cloning their vector before calling it.  When should a parameter be a slice instead?", "```rust\nfn f() {}\n```")); got != "held-out prompt" {
		t.Errorf("same prompt, other spacing and case: %q", got)
	}
	near := "Our report function takes Vec<String> by value, so every caller ends up cloning their vector before calling it. When should a parameter be a slice or an iterator instead?"
	if got := e.Check(pair(near, "```rust\nfn report(lines: &[String]) {}\n```")); got != "held-out prompt near duplicate" {
		t.Errorf("near duplicate of a held-out prompt: %q", got)
	}
	if got := e.Check(pair("Why does this borrow fail?", "```rust\nfn f() {}\n```")); got != "" {
		t.Errorf("unrelated question dropped: %q", got)
	}
}

func TestShinglesJaccard(t *testing.T) {
	a := shingles("one two three four five six seven eight nine ten")
	b := shingles("ONE two three   four five six seven eight nine eleven")
	if len(a) != 3 || len(b) != 3 {
		t.Fatalf("shingles: %d and %d, want 3 each", len(a), len(b))
	}
	x := newShingleIndex()
	x.add("a", a)
	o, ok := x.best(b, byJaccard)
	if !ok || o.shared != 2 || o.jaccard != 0.5 {
		t.Errorf("overlap %+v, want 2 shared, Jaccard 0.5", o)
	}
	if got := shingles("short text"); len(got) != 1 {
		t.Errorf("a short text gives %d shingles, want 1", len(got))
	}
}

func TestFilterDeduplicates(t *testing.T) {
	code := "```rust\nfn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```"
	long := "Write a function that adds two numbers and returns their sum, taking both as 32-bit signed integers by value."
	pairs := []Pair{
		pair(long, code),
		pair(strings.ToUpper(long), code),                           // same once normalized
		pair(long, code+"\n\nThat is all."),                         // near duplicate
		pair("Write a function that multiplies two numbers.", code), // kept: only the answer is shared
		pair("What is this thing called a borrow checker?", "A part of the compiler, and no code here."),
		{Question: long + " Differently.", Answer: code + " x", Meta: Meta{Source: "test", Kind: KindWriteFn}}, // no licence
	}
	rows, sum, err := filterForTest(pairs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"duplicate": 1, "near duplicate": 1, "no code": 1, "no licence": 1}
	for reason, n := range want {
		if sum.Dropped[reason] != n {
			t.Errorf("dropped %q: %d, want %d (all: %v)", reason, sum.Dropped[reason], n, sum.Dropped)
		}
	}
	if len(rows) != 2 || rows[0].Messages[0].Content != long || rows[0].Messages[1].Role != "assistant" ||
		!strings.Contains(rows[1].Messages[0].Content, "multiplies") {
		t.Errorf("rows %+v", rows)
	}
}

func filterForTest(pairs []Pair) ([]Row, Summary, error) {
	sum := Summary{Dropped: map[string]int{}}
	rows, err := filterPairs(context.Background(), pairs, withDefaults(Options{}), &sum)
	return rows, sum, err
}

func TestLimitPerKindIsSeeded(t *testing.T) {
	var rows []Row
	for i := range 10 {
		rows = append(rows, Row{Meta: Meta{Kind: KindWriteFn, Item: string(rune('a' + i))}})
	}
	rows = append(rows, Row{Meta: Meta{Kind: KindClippyFix, Item: "z"}})
	pickItems := func(seed int64) string {
		sum := Summary{Dropped: map[string]int{}}
		var items []string
		for _, r := range limitPerKind(rows, Options{LimitPerKind: 3, Seed: seed}, &sum) {
			items = append(items, r.Meta.Item)
		}
		if sum.Dropped["over --limit-per-kind"] != 7 {
			t.Errorf("dropped %v, want 7 over the limit", sum.Dropped)
		}
		return strings.Join(items, "")
	}
	a, b := pickItems(1), pickItems(1)
	if a != b || len(a) != 4 || !strings.HasSuffix(a, "z") {
		t.Errorf("seed 1 picks %q then %q; want the same 3 write-fn rows and the clippy row", a, b)
	}
	if pickItems(2) == a && pickItems(3) == a {
		t.Errorf("seeds 1, 2 and 3 all picked %q", a)
	}
}

func TestMaskRust(t *testing.T) {
	src := "fn f<'a>(s: &'a str) -> char { let c = '{'; let s = \"}\"; let r = r#\"{\"#; /* { /* } */ } */ c } // }\n"
	masked := maskRust(src)
	if len(masked) != len(src) {
		t.Fatalf("length %d, want %d", len(masked), len(src))
	}
	if strings.Count(masked, "{") != 1 || strings.Count(masked, "}") != 1 {
		t.Errorf("masked %q: want only the body's braces", masked)
	}
	blocks := braceBlocks(masked)
	if len(blocks) != 1 || src[blocks[0].close] != '}' || blocks[0].close != strings.LastIndex(src, "c }")+2 {
		t.Errorf("blocks %+v", blocks)
	}
}
