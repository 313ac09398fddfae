package rag

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"strings"
)

// A gold set is JSONL: one question a line with the canonical URLs of the 1–3 documents (with
// #anchor when a section answers it) that answer it. Lines that are empty or start with "//"
// are comments.

// Question is one row of a gold set.
type Question struct {
	ID       string   `json:"id"`
	Question string   `json:"question"`
	Topic    string   `json:"topic"`
	URLs     []string `json:"urls"`
}

// Gold URL limits per question.
const (
	MinGoldURLs = 1
	MaxGoldURLs = 3
)

// ReadGoldFile reads and checks the gold set in the file at path (ReadGold); errors name the
// file, and a file without questions is an error.
func ReadGoldFile(path string) ([]Question, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	qs, err := ReadGold(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("%s: no questions", path)
	}
	return qs, nil
}

// ReadGold reads and checks a gold set: every row has an id, a question, a topic and 1–3
// well-formed https URLs; ids and questions (case and spacing ignored) are unique. Errors name
// the line and the field.
func ReadGold(r io.Reader) ([]Question, error) {
	var out []Question
	ids, texts := map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "//") {
			continue
		}
		var q Question
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if err := checkQuestion(q); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		norm := strings.Join(strings.Fields(strings.ToLower(q.Question)), " ")
		if prev, ok := ids[q.ID]; ok {
			return nil, fmt.Errorf("line %d: id %q already on line %d", line, q.ID, prev)
		}
		if prev, ok := texts[norm]; ok {
			return nil, fmt.Errorf("line %d: question already on line %d", line, prev)
		}
		ids[q.ID], texts[norm] = line, line
		out = append(out, q)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read gold set: %w", err)
	}
	return out, nil
}

func checkQuestion(q Question) error {
	switch {
	case strings.TrimSpace(q.ID) == "":
		return fmt.Errorf("field id: empty")
	case strings.TrimSpace(q.Question) == "":
		return fmt.Errorf("field question: empty")
	case strings.TrimSpace(q.Topic) == "":
		return fmt.Errorf("field topic: empty")
	case len(q.URLs) < MinGoldURLs || len(q.URLs) > MaxGoldURLs:
		return fmt.Errorf("field urls: %d URLs (want %d to %d)", len(q.URLs), MinGoldURLs, MaxGoldURLs)
	}
	for i, u := range q.URLs {
		if err := checkURL(u); err != nil {
			return fmt.Errorf("field urls[%d]: %w", i, err)
		}
	}
	return nil
}

// checkURL accepts an absolute https URL with a host, a path and no query.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "https" || u.Host == "" || u.Path == "" || u.RawQuery != "" || strings.ContainsAny(raw, " \t") {
		return fmt.Errorf("%q is not an absolute https URL with a path and no query", raw)
	}
	return nil
}

// DocumentURL is a URL without its #anchor: the document it names.
func DocumentURL(u string) string {
	doc, _, _ := strings.Cut(u, "#")
	return doc
}

// Level is how a retrieved chunk is matched to a gold URL.
type Level int

// Match levels. Document: the chunk's URL without anchor equals a gold URL without anchor (the
// primary level: the page that answers was retrieved). Section: the chunk's URL equals a gold URL
// with its anchor; a gold URL without anchor is matched at document level.
const (
	DocumentLevel Level = iota
	SectionLevel
)

// key is what a URL is compared by at a level.
func (l Level) key(u string) string {
	if l == DocumentLevel {
		return DocumentURL(u)
	}
	return u
}

// matches reports whether a retrieved URL matches a gold URL at the level.
func (l Level) matches(retrieved, gold string) bool {
	if l == DocumentLevel || !strings.Contains(gold, "#") {
		return DocumentURL(retrieved) == DocumentURL(gold)
	}
	return retrieved == gold
}

// Gains marks each of the first k retrieved URLs 1 when it matches a gold URL no earlier one
// matched, else 0; gold URLs that are the same at the level count once. It also returns how
// many distinct gold URLs there are at the level.
func Gains(gold, retrieved []string, k int, level Level) (gains []float64, relevant int) {
	var golds []string
	seen := map[string]bool{}
	for _, g := range gold {
		if key := level.key(g); !seen[key] {
			seen[key] = true
			golds = append(golds, g)
		}
	}
	found := make([]bool, len(golds))
	for i, r := range retrieved {
		if i >= k {
			break
		}
		gain := 0.0
		for j, g := range golds {
			if !found[j] && level.matches(r, g) {
				found[j], gain = true, 1
				break
			}
		}
		gains = append(gains, gain)
	}
	return gains, len(golds)
}

// QuestionScore is one question's figures at one level.
type QuestionScore struct {
	FirstRank int     // 1-based rank of the first match within k, 0 when none
	NDCG      float64 // nDCG@k with binary gains
}

// ScoreRanking scores one ranking against the gold URLs at the level, cut at k.
func ScoreRanking(gold, retrieved []string, k int, level Level) QuestionScore {
	gains, relevant := Gains(gold, retrieved, k, level)
	var s QuestionScore
	dcg := 0.0
	for i, g := range gains {
		if g > 0 && s.FirstRank == 0 {
			s.FirstRank = i + 1
		}
		dcg += g / math.Log2(float64(i+2))
	}
	ideal := 0.0
	for i := 0; i < min(relevant, k); i++ {
		ideal += 1 / math.Log2(float64(i+2))
	}
	if ideal > 0 {
		s.NDCG = dcg / ideal
	}
	return s
}

// Metrics are means over the questions of a gold set at one level. Recall@n is the share of
// questions with a gold URL matched in the first n chunks (each gold URL alone answers its
// question); MRR is the mean of 1/rank of the first match within k (0 without one); NDCG is
// nDCG@k with binary gains, each gold URL counted once.
type Metrics struct {
	Questions int     `json:"questions"`
	Recall1   float64 `json:"recall_at_1"`
	Recall5   float64 `json:"recall_at_5"`
	Recall10  float64 `json:"recall_at_10"`
	MRR       float64 `json:"mrr"`
	NDCG      float64 `json:"ndcg"`
}

// Aggregate averages per-question scores.
func Aggregate(scores []QuestionScore) Metrics {
	m := Metrics{Questions: len(scores)}
	if len(scores) == 0 {
		return m
	}
	for _, s := range scores {
		r := s.FirstRank
		if r >= 1 {
			m.MRR += 1 / float64(r)
			m.Recall1 += b2f(r <= 1)
			m.Recall5 += b2f(r <= 5)
			m.Recall10 += b2f(r <= 10)
		}
		m.NDCG += s.NDCG
	}
	n := float64(len(scores))
	m.Recall1, m.Recall5, m.Recall10, m.MRR, m.NDCG = m.Recall1/n, m.Recall5/n, m.Recall10/n, m.MRR/n, m.NDCG/n
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Miss is a question whose gold documents were not among the first 5 chunks.
type Miss struct {
	ID        string   `json:"id"`
	Question  string   `json:"question"`
	Gold      []string `json:"gold"`
	Retrieved []string `json:"retrieved"` // the first 5 URLs
	Rank      int      `json:"rank"`      // document-level rank within k, 0 when none
}

// EvalResult is one retrieval mode's figures over a gold set.
type EvalResult struct {
	Mode     string  `json:"mode"`
	K        int     `json:"k"`
	Document Metrics `json:"document"`
	Section  Metrics `json:"section"`
	Misses   []Miss  `json:"misses,omitempty"`
}

// RankFunc returns the URLs of the chunks retrieved for a question, best first.
type RankFunc func(ctx context.Context, question string) ([]string, error)

// Evaluate runs every question through rank and scores the first k URLs at both levels.
func Evaluate(ctx context.Context, mode string, qs []Question, k int, rank RankFunc) (EvalResult, error) {
	if k < 10 {
		k = 10 // recall@10 needs ten
	}
	res := EvalResult{Mode: mode, K: k}
	var doc, sec []QuestionScore
	for _, q := range qs {
		urls, err := rank(ctx, q.Question)
		if err != nil {
			return res, fmt.Errorf("question %s: %w", q.ID, err)
		}
		d := ScoreRanking(q.URLs, urls, k, DocumentLevel)
		doc = append(doc, d)
		sec = append(sec, ScoreRanking(q.URLs, urls, k, SectionLevel))
		if d.FirstRank == 0 || d.FirstRank > 5 {
			res.Misses = append(res.Misses, Miss{ID: q.ID, Question: q.Question, Gold: q.URLs, Retrieved: urls[:min(5, len(urls))], Rank: d.FirstRank})
		}
	}
	res.Document, res.Section = Aggregate(doc), Aggregate(sec)
	return res, nil
}

// DocumentURLs returns the URL of every stored document of the sources, for checking that a
// gold set names pages the index has.
func DocumentURLs(ctx context.Context, st Store, sources []Source) (map[string]bool, error) {
	out := map[string]bool{}
	for _, src := range sources {
		paths, err := st.RAGDocumentHashes(ctx, src.Name)
		if err != nil {
			return nil, err
		}
		for p := range paths {
			out[pageURL(src, p)] = true
		}
	}
	return out, nil
}
