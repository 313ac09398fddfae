package sftdata

import (
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"rustexpert/sheet"
)

// ShingleWords is the length of the word shingles near duplicates are found by.
const ShingleWords = 8

// shingles returns the sorted, distinct hashes of the 8-word windows of the text, words being
// its runs of letters, digits and underscores, lowercased (so punctuation, Markdown and spacing
// do not matter); a text of fewer words is one shingle; an empty text has none.
func shingles(text string) []uint64 {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
	})
	if len(words) == 0 {
		return nil
	}
	n := max(len(words)-ShingleWords+1, 1)
	out := make([]uint64, 0, n)
	for i := 0; i < n; i++ {
		h := fnv.New64a()
		for _, w := range words[i:min(i+ShingleWords, len(words))] {
			h.Write([]byte(w))
			h.Write([]byte{0})
		}
		out = append(out, h.Sum64())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// shingleIndex finds the indexed texts that share shingles with a query.
type shingleIndex struct {
	postings map[uint64][]int
	sizes    []int
	names    []string
}

func newShingleIndex() *shingleIndex { return &shingleIndex{postings: map[uint64][]int{}} }

func (x *shingleIndex) add(name string, set []uint64) {
	id := len(x.sizes)
	x.sizes = append(x.sizes, len(set))
	x.names = append(x.names, name)
	for _, s := range set {
		x.postings[s] = append(x.postings[s], id)
	}
}

// overlap is how much a query shares with one indexed text.
type overlap struct {
	name       string
	shared     int
	jaccard    float64 // shared / union
	ofIndexed  float64 // shared / the indexed text's shingles
	ofQuery    float64 // shared / the query's shingles
	queryCount int
}

// best returns the indexed text with the highest score of shared shingles, by score(overlap).
func (x *shingleIndex) best(set []uint64, score func(overlap) float64) (overlap, bool) {
	counts := map[int]int{}
	for _, s := range set {
		for _, id := range x.postings[s] {
			counts[id]++
		}
	}
	var top overlap
	found := false
	for id, shared := range counts {
		o := overlap{name: x.names[id], shared: shared, queryCount: len(set),
			jaccard:   float64(shared) / float64(len(set)+x.sizes[id]-shared),
			ofIndexed: float64(shared) / float64(x.sizes[id]),
			ofQuery:   float64(shared) / float64(len(set))}
		if !found || score(o) > score(top) || score(o) == score(top) && o.name < top.name {
			top, found = o, true
		}
	}
	return top, found
}

func byJaccard(o overlap) float64 { return o.jaccard }

// byContainment is the larger share of either text found in the other.
func byContainment(o overlap) float64 { return max(o.ofIndexed, o.ofQuery) }

// Exclusion holds the texts no pair may overlap: held-out prompts and the evaluation exercises.
type Exclusion struct {
	heldoutNorm map[string]bool
	heldout     *shingleIndex
	exercises   *shingleIndex
	longLines   map[string]string // normalized long code line → the exercise file it is from
	Threshold   float64           // near-duplicate share (default 0.5)
}

// minLongLine is the length (normalized) from which a shared code line counts as overlap.
const minLongLine = 40

// NewExclusion indexes held-out prompt texts.
func NewExclusion(heldout []string) *Exclusion {
	e := &Exclusion{heldoutNorm: map[string]bool{}, heldout: newShingleIndex(), exercises: newShingleIndex(),
		longLines: map[string]string{}, Threshold: 0.5}
	for i, t := range heldout {
		e.heldoutNorm[sheet.Normalize(t)] = true
		e.heldout.add("heldout prompt "+strconv.Itoa(i+1), shingles(t))
	}
	return e
}

// exerciseFiles are the files of an exercism exercise that must not leak: its example
// solution, its stub and its instructions.
var exerciseFiles = []string{".meta/example.rs", "src/lib.rs", "src/main.rs", ".docs/instructions.md", ".docs/instructions.append.md"}

// AddExercises indexes every exercise under dir (exercism's layout: one folder per exercise).
// It returns how many files it read.
func (e *Exclusion) AddExercises(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	lineFiles := map[string]map[string]bool{}
	n := 0
	for _, ent := range entries {
		if !ent.IsDir() {
			continue
		}
		for _, f := range exerciseFiles {
			data, err := os.ReadFile(filepath.Join(dir, ent.Name(), f))
			if err != nil {
				continue
			}
			name := ent.Name() + "/" + f
			n++
			e.exercises.add(name, shingles(string(data)))
			if strings.HasSuffix(f, ".rs") {
				for _, l := range strings.Split(string(data), "\n") {
					if l = collapse(l); len(l) >= minLongLine {
						if lineFiles[l] == nil {
							lineFiles[l] = map[string]bool{}
						}
						lineFiles[l][ent.Name()] = true
						e.longLines[l] = name
					}
				}
			}
		}
	}
	// A line several exercises share is boilerplate, not a sign of a leak.
	for l, exercises := range lineFiles {
		if len(exercises) > 1 {
			delete(e.longLines, l)
		}
	}
	return n, nil
}

// Check returns why a pair must be left out ("" when it may stay).
func (e *Exclusion) Check(p Pair) string {
	if e == nil {
		return ""
	}
	if e.heldoutNorm[sheet.Normalize(p.Question)] {
		return "held-out prompt"
	}
	if o, ok := e.heldout.best(shingles(p.Question), byJaccard); ok && o.jaccard >= e.Threshold {
		return "held-out prompt near duplicate"
	}
	all := shingles(p.Question + "\n" + p.Answer)
	if o, ok := e.heldout.best(all, func(o overlap) float64 { return o.ofIndexed }); ok && o.ofIndexed >= e.Threshold {
		return "contains a held-out prompt"
	}
	if o, ok := e.exercises.best(all, byContainment); ok && byContainment(o) >= e.Threshold {
		return "overlaps an evaluation exercise"
	}
	if e.sharedLongLines(p) {
		return "shares code lines with an evaluation exercise"
	}
	return ""
}

// sharedLongLines reports two or more long code lines of one exercise file in the pair.
func (e *Exclusion) sharedLongLines(p Pair) bool {
	if len(e.longLines) == 0 {
		return false
	}
	perFile := map[string]int{}
	seen := map[string]bool{}
	for _, l := range strings.Split(p.Question+"\n"+p.Answer, "\n") {
		l = collapse(l)
		if file, ok := e.longLines[l]; ok && !seen[l] {
			seen[l] = true
			perFile[file]++
			if perFile[file] >= 2 {
				return true
			}
		}
	}
	return false
}
