package sftdata

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"rustexpert/dataset"
	"rustexpert/sheet"
)

// Options says where the sources are and how pairs are kept.
type Options struct {
	RustDocs   string   // rustup's share/doc/rust/html ("" leaves the docs out)
	Crates     string   // a crate registry folder ("" leaves crates out)
	CrateNames []string // crates to mine (empty: DefaultCrates)
	Clippy     string   // clippy's UI tests ("" leaves clippy out)
	Exclusion  *Exclusion
	Counter    TokenCounter // nil: Estimate
	MaxTokens  int          // the most tokens of a pair (default 1024)
	MinChars   int          // the fewest characters of a question and of an answer (default 20)
	NearDup    float64      // pairs sharing this share of 8-word shingles (Jaccard) are duplicates (default 0.7)
	// LimitPerKind keeps at most this many pairs of each kind, picked at random by Seed (0: all).
	LimitPerKind int
	Seed         int64
}

// Row is one SFT row: TRL's conversational messages, the kind as category and the provenance.
type Row struct {
	Messages []dataset.Message `json:"messages"`
	PromptID string            `json:"prompt_id"`
	Category string            `json:"category"`
	Meta     Meta              `json:"meta"`
	Tokens   int               `json:"tokens"`
}

// Summary counts what a build did.
type Summary struct {
	Rows     int                       // rows kept (the dataset page reads this key)
	Mined    map[string]int            // pairs mined per source
	Kept     map[string]map[string]int // rows kept per source and kind
	Dropped  map[string]int            // pairs dropped per reason
	Skipped  map[string]int            // files and items the miners left out, per source
	Tokens   dataset.LengthStats       // tokens per row (min, median, p95, max)
	Counting string                    // how tokens were counted
	Crates   []string                  // crates mined, name-version
	Missing  []string                  // crates asked for that are not in the registry
	SkipSeen []Skip                    // the first skips of each source, for the report
}

// Build mines every configured source, filters and deduplicates the pairs and returns the rows.
func Build(ctx context.Context, opt Options) ([]Row, Summary, error) {
	opt = withDefaults(opt)
	sum := Summary{Mined: map[string]int{}, Kept: map[string]map[string]int{}, Dropped: map[string]int{},
		Skipped: map[string]int{}, Counting: opt.Counter.Name()}
	pairs, err := mineAll(ctx, opt, &sum)
	if err != nil {
		return nil, sum, err
	}
	rows, err := filterPairs(ctx, pairs, opt, &sum)
	if err != nil {
		return nil, sum, err
	}
	rows = limitPerKind(rows, opt, &sum)
	var tokens []int
	for _, r := range rows {
		if sum.Kept[r.Meta.Source] == nil {
			sum.Kept[r.Meta.Source] = map[string]int{}
		}
		sum.Kept[r.Meta.Source][r.Meta.Kind]++
		tokens = append(tokens, r.Tokens)
	}
	sum.Rows = len(rows)
	sum.Tokens = tokenStats(tokens)
	return rows, sum, nil
}

func withDefaults(opt Options) Options {
	if opt.Counter == nil {
		opt.Counter = Estimate{}
	}
	if opt.MaxTokens <= 0 {
		opt.MaxTokens = 1024
	}
	if opt.MinChars <= 0 {
		opt.MinChars = 20
	}
	if opt.NearDup <= 0 {
		opt.NearDup = 0.7
	}
	if opt.CrateNames == nil {
		opt.CrateNames = DefaultCrates
	}
	return opt
}

// mineAll runs the miners of the configured sources in a fixed order.
func mineAll(ctx context.Context, opt Options, sum *Summary) ([]Pair, error) {
	type miner struct {
		source, dir string
		run         func(dir string) ([]Pair, []Skip, error)
	}
	var miners []miner
	if opt.RustDocs != "" {
		miners = append(miners,
			miner{SourceErrorCodes, filepath.Join(opt.RustDocs, "error_codes"), MineErrorCodes},
			miner{SourceBook, filepath.Join(opt.RustDocs, "book"), func(dir string) ([]Pair, []Skip, error) {
				return MineBook(dir, BookOptions{Source: SourceBook, Seed: opt.Seed})
			}},
			miner{SourceRBE, filepath.Join(opt.RustDocs, "rust-by-example"), func(dir string) ([]Pair, []Skip, error) {
				return MineBook(dir, BookOptions{Source: SourceRBE, Seed: opt.Seed})
			}})
	}
	if opt.Crates != "" {
		miners = append(miners, miner{SourceCrates, opt.Crates, func(string) ([]Pair, []Skip, error) { return mineCrates(opt, sum) }})
	}
	if opt.Clippy != "" {
		miners = append(miners, miner{SourceClippy, opt.Clippy, MineClippy})
	}
	var all []Pair
	for _, m := range miners {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if info, err := os.Stat(m.dir); err != nil || !info.IsDir() {
			sum.SkipSeen = append(sum.SkipSeen, Skip{Path: m.source + ": " + m.dir, Reason: "no such folder"})
			continue
		}
		pairs, skips, err := m.run(m.dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.source, err)
		}
		sum.Mined[m.source] += len(pairs)
		sum.Skipped[m.source] += len(skips)
		for _, s := range skips[:min(len(skips), 3)] {
			sum.SkipSeen = append(sum.SkipSeen, Skip{Path: m.source + ": " + s.Path, Reason: s.Reason})
		}
		all = append(all, pairs...)
	}
	return all, nil
}

func mineCrates(opt Options, sum *Summary) ([]Pair, []Skip, error) {
	crates, missing, err := FindCrates(opt.Crates, opt.CrateNames)
	if err != nil {
		return nil, nil, err
	}
	sum.Missing = missing
	var pairs []Pair
	var skips []Skip
	for _, c := range crates {
		p, s, err := MineCrate(c)
		if err != nil {
			return nil, nil, err
		}
		sum.Crates = append(sum.Crates, c.Name+"-"+c.Version)
		pairs, skips = append(pairs, p...), append(skips, s...)
	}
	return pairs, skips, nil
}

// filterPairs drops pairs that are too short or long, have no code, touch the evaluation sets
// or duplicate an earlier pair, and makes rows of the rest.
func filterPairs(ctx context.Context, pairs []Pair, opt Options, sum *Summary) ([]Row, error) {
	exact := map[[sha256.Size]byte]bool{}
	near := newShingleIndex()
	var rows []Row
	for i, p := range pairs {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		reason, tokens, err := check(p, opt)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", p.Meta.Source, p.Meta.Path, err)
		}
		if reason == "" {
			reason = duplicate(p, exact, near, opt.NearDup)
		}
		if reason != "" {
			sum.Dropped[reason]++
			continue
		}
		rows = append(rows, Row{Messages: []dataset.Message{{Role: "user", Content: p.Question}, {Role: "assistant", Content: p.Answer}},
			PromptID: dataset.PromptID(p.Question), Category: p.Meta.Kind, Meta: p.Meta, Tokens: tokens})
	}
	return rows, nil
}

// check applies the length, code, licence and exclusion rules; it returns the reason to drop.
func check(p Pair, opt Options) (reason string, tokens int, err error) {
	switch {
	case len(strings.TrimSpace(p.Question)) < opt.MinChars:
		return "question too short", 0, nil
	case len(strings.TrimSpace(p.Answer)) < opt.MinChars:
		return "answer too short", 0, nil
	case !hasCode(p.Question) && !hasCode(p.Answer):
		return "no code", 0, nil
	case p.Meta.Licence == "":
		return "no licence", 0, nil
	}
	if reason := opt.Exclusion.Check(p); reason != "" {
		return reason, 0, nil
	}
	tokens, err = opt.Counter.Count(p.Question, p.Answer)
	if err != nil {
		return "", 0, err
	}
	if tokens > opt.MaxTokens {
		return fmt.Sprintf("longer than %d tokens", opt.MaxTokens), tokens, nil
	}
	return "", tokens, nil
}

// hasCode reports a fenced code block with some code in it.
func hasCode(text string) bool {
	for _, part := range strings.Split(text, "```")[1:] {
		if _, body, ok := strings.Cut(part, "\n"); ok && strings.TrimSpace(body) != "" {
			return true
		}
	}
	return false
}

// duplicate reports a pair equal to an earlier one once normalized, or sharing opt.NearDup of
// its shingles with one; a kept pair is remembered.
func duplicate(p Pair, exact map[[sha256.Size]byte]bool, near *shingleIndex, threshold float64) string {
	key := sha256.Sum256([]byte(sheet.Normalize(p.Question) + "\x00" + sheet.Normalize(p.Answer)))
	if exact[key] {
		return "duplicate"
	}
	set := shingles(p.Question + "\n" + p.Answer)
	if o, ok := near.best(set, byJaccard); ok && o.jaccard >= threshold {
		return "near duplicate"
	}
	exact[key] = true
	near.add(p.Meta.Path, set)
	return ""
}

// limitPerKind keeps at most opt.LimitPerKind rows of each kind, chosen at random by the seed,
// in their original order.
func limitPerKind(rows []Row, opt Options, sum *Summary) []Row {
	if opt.LimitPerKind <= 0 {
		return rows
	}
	byKind := map[string][]int{}
	for i, r := range rows {
		byKind[r.Meta.Kind] = append(byKind[r.Meta.Kind], i)
	}
	keep := make([]bool, len(rows))
	rng := rand.New(rand.NewPCG(uint64(opt.Seed), 0x5f7))
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		idx := byKind[k]
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for n, i := range idx {
			if n < opt.LimitPerKind {
				keep[i] = true
			} else {
				sum.Dropped["over --limit-per-kind"]++
			}
		}
	}
	var out []Row
	for i, r := range rows {
		if keep[i] {
			out = append(out, r)
		}
	}
	return out
}

func tokenStats(tokens []int) dataset.LengthStats {
	if len(tokens) == 0 {
		return dataset.LengthStats{}
	}
	s := slices.Clone(tokens)
	slices.Sort(s)
	n := len(s)
	return dataset.LengthStats{Min: s[0], Median: s[(n-1)/2], P95: s[(95*n+99)/100-1], Max: s[n-1]}
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	return keys
}
