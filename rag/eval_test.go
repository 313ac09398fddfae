package rag

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	docA = "https://doc.rust-lang.org/book/a.html"
	docB = "https://doc.rust-lang.org/book/b.html"
	docC = "https://doc.rust-lang.org/book/c.html"
	docD = "https://doc.rust-lang.org/book/d.html"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestScoreRankingByLevel(t *testing.T) {
	gold := []string{docA + "#x", docB}
	ranked := []string{docC, docA + "#y", docB + "#z", docA + "#x", docD}
	// Document level: A#y finds A (rank 2), B#z finds B (rank 3), A#x finds nothing new.
	doc := ScoreRanking(gold, ranked, 10, DocumentLevel)
	if doc.FirstRank != 2 || !near(doc.NDCG, 0.6934264036172708) {
		t.Errorf("document level = %+v, want rank 2, nDCG (1/log2 3 + 1/log2 4)/(1 + 1/log2 3) = 0.693426", doc)
	}
	// Section level: A#y is another section of A (no match), B has no anchor (B#z matches), A#x matches.
	sec := ScoreRanking(gold, ranked, 10, SectionLevel)
	if sec.FirstRank != 3 || !near(sec.NDCG, 0.5706417189553201) {
		t.Errorf("section level = %+v, want rank 3, nDCG (1/log2 4 + 1/log2 5)/(1 + 1/log2 3) = 0.570642", sec)
	}
	// The cut at k: a match at rank 3 is not counted with k = 2.
	if cut := ScoreRanking(gold, ranked, 2, SectionLevel); cut.FirstRank != 0 || cut.NDCG != 0 {
		t.Errorf("k = 2: %+v, want nothing found", cut)
	}
	// A perfect ranking has nDCG 1.
	if best := ScoreRanking(gold, []string{docB, docA + "#x"}, 10, SectionLevel); best.FirstRank != 1 || !near(best.NDCG, 1) {
		t.Errorf("perfect ranking: %+v", best)
	}
}

func TestGainsCountEachGoldOnce(t *testing.T) {
	// Two sections of one page are one relevant document at document level, two at section level.
	gold := []string{docA + "#x", docA + "#y"}
	gains, relevant := Gains(gold, []string{docA + "#x", docA + "#y", docA}, 10, DocumentLevel)
	if relevant != 1 || len(gains) != 3 || gains[0] != 1 || gains[1] != 0 || gains[2] != 0 {
		t.Errorf("document level: gains %v, relevant %d", gains, relevant)
	}
	gains, relevant = Gains(gold, []string{docA + "#x", docA + "#y", docA}, 10, SectionLevel)
	if relevant != 2 || gains[0] != 1 || gains[1] != 1 || gains[2] != 0 {
		t.Errorf("section level: gains %v, relevant %d", gains, relevant)
	}
}

func TestAggregate(t *testing.T) {
	m := Aggregate([]QuestionScore{{FirstRank: 1, NDCG: 1}, {FirstRank: 3, NDCG: 0.5}, {FirstRank: 0}, {FirstRank: 7, NDCG: 0.3}})
	want := Metrics{Questions: 4, Recall1: 0.25, Recall5: 0.5, Recall10: 0.75, MRR: 0.369047619047619, NDCG: 0.45}
	if m.Questions != want.Questions || !near(m.Recall1, want.Recall1) || !near(m.Recall5, want.Recall5) ||
		!near(m.Recall10, want.Recall10) || !near(m.MRR, want.MRR) || !near(m.NDCG, want.NDCG) {
		t.Errorf("Aggregate = %+v, want %+v", m, want)
	}
	if empty := Aggregate(nil); empty != (Metrics{}) {
		t.Errorf("no questions: %+v", empty)
	}
}

func TestEvaluateWithRanker(t *testing.T) {
	qs := []Question{
		{ID: "q1", Question: "first", Topic: "t", URLs: []string{docA}},
		{ID: "q2", Question: "second", Topic: "t", URLs: []string{docB + "#s"}},
	}
	rankings := map[string][]string{
		"first":  {docA + "#intro", docC},
		"second": {docC, docD, docC, docD, docC, docB + "#other", docB + "#s"},
	}
	res, err := Evaluate(context.Background(), ModeBM25, qs, 10, func(_ context.Context, q string) ([]string, error) {
		return rankings[q], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !near(res.Document.Recall1, 0.5) || !near(res.Document.Recall5, 0.5) || !near(res.Document.Recall10, 1) ||
		!near(res.Document.MRR, (1+1.0/6)/2) {
		t.Errorf("document metrics: %+v", res.Document)
	}
	if !near(res.Section.Recall1, 0.5) || !near(res.Section.Recall5, 0.5) || !near(res.Section.Recall10, 1) ||
		!near(res.Section.MRR, (1+1.0/7)/2) {
		t.Errorf("section metrics (q1 has no anchor, so its #intro chunk matches the page): %+v", res.Section)
	}
	if len(res.Misses) != 1 || res.Misses[0].ID != "q2" || res.Misses[0].Rank != 6 || len(res.Misses[0].Retrieved) != 5 {
		t.Errorf("misses: %+v", res.Misses)
	}
}

func TestReadGoldReportsLineAndField(t *testing.T) {
	good := `{"id":"a","question":"How do I?","topic":"t","urls":["https://doc.rust-lang.org/book/a.html#x"]}`
	cases := map[string]string{
		good + "\n{not json": "line 2",
		`{"id":"","question":"q","topic":"t","urls":["https://x.org/a"]}`:                                                        "field id",
		`{"id":"a","question":" ","topic":"t","urls":["https://x.org/a"]}`:                                                       "field question",
		`{"id":"a","question":"q","topic":"","urls":["https://x.org/a"]}`:                                                        "field topic",
		`{"id":"a","question":"q","topic":"t","urls":[]}`:                                                                        "field urls: 0 URLs",
		`{"id":"a","question":"q","topic":"t","urls":["https://x.org/1","https://x.org/2","https://x.org/3","https://x.org/4"]}`: "field urls: 4 URLs",
		`{"id":"a","question":"q","topic":"t","urls":["http://x.org/a"]}`:                                                        "field urls[0]",
		`{"id":"a","question":"q","topic":"t","urls":["book/a.html"]}`:                                                           "field urls[0]",
		`{"id":"a","question":"q","topic":"t","urls":["https://x.org/a?q=1"]}`:                                                   "field urls[0]",
		`{"id":"a","question":"q","topic":"t","urls":["https://x.org/a"],"extra":1}`:                                             "unknown field",
		good + "\n" + strings.Replace(good, "How do I?", "other", 1):                                                             "line 2: id \"a\" already on line 1",
		good + "\n\n// comment\n" + strings.Replace(good, `"a"`, `"b"`, 1):                                                       "line 4: question already on line 1",
		good + "\n" + strings.Replace(strings.Replace(good, `"a"`, `"c"`, 1), "How do I?", "  how DO i? ", 1):                    "question already",
	}
	for in, want := range cases {
		if _, err := ReadGold(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadGold(%q) error = %v, want %q", in, err, want)
		}
	}
	qs, err := ReadGold(strings.NewReader("// header\n" + good + "\n\n"))
	if err != nil || len(qs) != 1 || qs[0].URLs[0] != "https://doc.rust-lang.org/book/a.html#x" {
		t.Errorf("good file: %v %+v", err, qs)
	}
}

// TestGoldSetFile checks the team's gold set: at least 150 questions, every row valid, unique
// questions, only doc.rust-lang.org, tokio.rs and docs.rs URLs, and the topic spread the set promises.
func TestGoldSetFile(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "data", "rag-gold.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	qs, err := ReadGold(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 150 {
		t.Fatalf("%d questions, want at least 150", len(qs))
	}
	topics := map[string]int{}
	for _, q := range qs {
		topics[q.Topic]++
		for _, u := range q.URLs {
			if !strings.HasPrefix(u, "https://doc.rust-lang.org/") && !strings.HasPrefix(u, "https://tokio.rs/tokio/") &&
				!strings.HasPrefix(u, "https://docs.rs/") {
				t.Errorf("%s: %s is not a canonical doc.rust-lang.org, tokio.rs or docs.rs URL", q.ID, u)
			}
			if strings.Count(u, "#") > 1 || strings.HasSuffix(u, "#") {
				t.Errorf("%s: %s has a malformed anchor", q.ID, u)
			}
		}
	}
	share := func(topic string) float64 { return float64(topics[topic]) / float64(len(qs)) }
	if share("compiler-errors") < 0.18 || share("std-api") < 0.13 || share("tokio") < 0.08 {
		t.Errorf("topic spread %v: want about 20%% compiler-errors, 15%% std-api, 10%% tokio", topics)
	}
	for _, topic := range []string{"ownership", "lifetimes", "traits", "errors", "async", "unsafe", "macros", "crates"} {
		if topics[topic] < 5 {
			t.Errorf("topic %s has %d questions, want at least 5", topic, topics[topic])
		}
	}
}
