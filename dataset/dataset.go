// Package dataset turns people's labels into training rows in the shapes that
// Hugging Face TRL's DPOTrainer and SFTTrainer read, writes them as JSON Lines
// and validates such files. It is pure: callers pass plain structs and get rows
// back, so the rules can be tested without a database.
package dataset

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// Shapes a DPO row can take.
const (
	ShapeConversational = "conversational"
	ShapePlain          = "plain"
)

// Verdicts a label can carry.
const (
	VerdictPair    = "pair"
	VerdictTie     = "tie"
	VerdictBothBad = "both_bad"
	VerdictSkip    = "skip"
)

// Splits a labelled prompt can be in.
const (
	SplitTrain   = "train"
	SplitHeldout = "heldout"
)

// Answer is one model answer that was shown to the annotator.
type Answer struct {
	ID    int64
	Model string
	Text  string
}

// Label is one person's judgement of the answers to one prompt.
type Label struct {
	PromptID  int64
	Prompt    string
	Category  string
	Split     string // "train" or "heldout"; anything else is treated as held out
	Annotator string
	Verdict   string // "pair", "tie", "both_bad" or "skip"
	// ChosenID and RejectedID name the best and worst answer of a "pair" label.
	ChosenID, RejectedID int64
	// Ranking optionally orders all answers best to worst; with Options.AllPairs it
	// overrides ChosenID and RejectedID.
	Ranking     []int64
	SuggestedBy string // "" for a person, "compiler" for machine suggestions
	Answers     []Answer
}

// Options selects the shape and the sources of the built rows.
type Options struct {
	// Shape is "conversational" (the default) or "plain"; it applies to DPO rows.
	// SFT rows are always conversational because SFTTrainer's messages format is
	// the one that carries the chat template.
	Shape string
	// AllPairs emits every ordered pair of a ranking instead of best versus worst.
	AllPairs bool
	// TiesToSFT makes BuildSFT also take one answer of each "tie" label.
	TiesToSFT bool
	// IncludeSuggested keeps labels whose SuggestedBy is set.
	IncludeSuggested bool
	// System is an optional system message put before conversational prompts.
	System string
}

// Stats counts what happened to the labels while building rows.
type Stats struct {
	Labels           int // labels passed in
	Rows             int // rows built
	SkippedHeldout   int // labels dropped because their prompt is held out
	SkippedVerdict   int // labels whose verdict yields no row of this kind
	SkippedSuggested int // machine suggestions left out
	Conflicts        int // pairs (DPO) or answers (SFT) dropped because annotators disagreed
	Duplicates       int // extra votes merged into an existing row
	Identical        int // pairs dropped because chosen and rejected have the same text
	Invalid          int // labels that name missing or empty answers, or have no prompt text
}

// Message is one chat turn as TRL reads it.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// DPORow is one preference row. Prompt, Chosen and Rejected are []Message in the
// conversational shape and string in the plain shape. The struct fixes the key
// order so that output is byte-for-byte deterministic.
type DPORow struct {
	Prompt        any    `json:"prompt"`
	Chosen        any    `json:"chosen"`
	Rejected      any    `json:"rejected"`
	PromptID      string `json:"prompt_id"`
	ChosenModel   string `json:"chosen_model"`
	RejectedModel string `json:"rejected_model"`
	// Annotator lists everyone who voted for this pair, sorted and comma separated.
	Annotator string `json:"annotator"`
	Category  string `json:"category"`
}

// SFTRow is one supervised row in TRL's conversational messages format.
type SFTRow struct {
	Messages []Message `json:"messages"`
	PromptID string    `json:"prompt_id"`
	Model    string    `json:"model"`
	Category string    `json:"category"`
}

// PromptID returns the hex sha256 of the prompt text; it identifies a prompt
// across exports and is what the validator's held-out check compares.
func PromptID(prompt string) string {
	sum := sha256.Sum256([]byte(prompt))
	return hex.EncodeToString(sum[:])
}

// promptInfo is the prompt of a row. When labels of several prompt records share
// one text, the record with the lowest ID wins so output does not depend on the
// order of the labels.
type promptInfo struct {
	text     string
	dbID     int64
	category string
}

func (p promptInfo) better(q promptInfo) bool {
	return cmp.Or(cmp.Compare(p.dbID, q.dbID), cmp.Compare(p.category, q.category)) < 0
}

func infoOf(l Label) promptInfo {
	return promptInfo{text: l.Prompt, dbID: l.PromptID, category: l.Category}
}

// betterAnswer picks between answers with the same text, lowest ID first.
func betterAnswer(a, b Answer) Answer {
	if cmp.Or(cmp.Compare(b.ID, a.ID), cmp.Compare(b.Model, a.Model)) < 0 {
		return b
	}
	return a
}

// labelFilter decides which labels may produce rows at all and counts the rest.
type labelFilter struct {
	opt     Options
	heldout map[string]bool
}

// newLabelFilter collects every held-out prompt text first, so that a train label
// on a prompt whose text is also held out elsewhere can never leak it.
func newLabelFilter(labels []Label, opt Options) labelFilter {
	heldout := map[string]bool{}
	for _, l := range labels {
		if l.Split != SplitTrain {
			heldout[heldoutKey(l.Prompt)] = true
		}
	}
	return labelFilter{opt: opt, heldout: heldout}
}

// heldoutKey ignores whitespace differences, which do not make a prompt new.
func heldoutKey(prompt string) string {
	return strings.Join(strings.Fields(prompt), " ")
}

// admit reports whether a label may produce rows, counting it in stats if not.
func (f labelFilter) admit(l Label, stats *Stats) bool {
	switch {
	case l.Split != SplitTrain || f.heldout[heldoutKey(l.Prompt)]:
		stats.SkippedHeldout++
		return false
	case l.SuggestedBy != "" && !f.opt.IncludeSuggested:
		stats.SkippedSuggested++
		return false
	case strings.TrimSpace(l.Prompt) == "":
		stats.Invalid++
		return false
	}
	return true
}

// answerByID finds a shown answer; answers without text cannot be trained on.
func answerByID(l Label, id int64) (Answer, bool) {
	for _, a := range l.Answers {
		if a.ID == id {
			return a, strings.TrimSpace(a.Text) != ""
		}
	}
	return Answer{}, false
}

// rankedAnswers resolves the label's ranking; it fails on unknown, empty or
// repeated answers.
func rankedAnswers(l Label) ([]Answer, bool) {
	ranked := make([]Answer, 0, len(l.Ranking))
	for i, id := range l.Ranking {
		if slices.Contains(l.Ranking[:i], id) {
			return nil, false
		}
		a, ok := answerByID(l, id)
		if !ok {
			return nil, false
		}
		ranked = append(ranked, a)
	}
	return ranked, len(ranked) >= 2
}

// useRanking reports whether the ranking, not ChosenID and RejectedID, decides
// the label: with AllPairs, or when the label names no chosen or rejected answer.
func useRanking(l Label, opt Options) bool {
	if len(l.Ranking) == 0 {
		return false
	}
	return opt.AllPairs || (l.ChosenID == 0 && l.RejectedID == 0)
}

// bestAndWorst returns the best and the worst answer of a "pair" label.
func bestAndWorst(l Label, opt Options) (best, worst Answer, ok bool) {
	if useRanking(l, opt) {
		ranked, ok := rankedAnswers(l)
		if !ok {
			return Answer{}, Answer{}, false
		}
		return ranked[0], ranked[len(ranked)-1], true
	}
	best, okBest := answerByID(l, l.ChosenID)
	worst, okWorst := answerByID(l, l.RejectedID)
	return best, worst, okBest && okWorst && best.ID != worst.ID
}

// answerPair is one preference: chosen over rejected.
type answerPair struct{ chosen, rejected Answer }

// labelPairs returns the preferences a "pair" label states under opt.
func labelPairs(l Label, opt Options) ([]answerPair, bool) {
	if opt.AllPairs && len(l.Ranking) > 0 {
		ranked, ok := rankedAnswers(l)
		if !ok {
			return nil, false
		}
		var pairs []answerPair
		for i := range ranked {
			for _, worse := range ranked[i+1:] {
				pairs = append(pairs, answerPair{chosen: ranked[i], rejected: worse})
			}
		}
		return pairs, true
	}
	best, worst, ok := bestAndWorst(l, opt)
	if !ok {
		return nil, false
	}
	return []answerPair{{chosen: best, rejected: worst}}, true
}

func sameText(a, b Answer) bool {
	return strings.TrimSpace(a.Text) == strings.TrimSpace(b.Text)
}

func conversational(opt Options) bool {
	return opt.Shape != ShapePlain
}

// promptMessages builds the conversational prompt, system message first.
func promptMessages(prompt string, opt Options) []Message {
	var msgs []Message
	if opt.System != "" {
		msgs = append(msgs, Message{Role: "system", Content: opt.System})
	}
	return append(msgs, Message{Role: "user", Content: prompt})
}

func assistantMessages(text string) []Message {
	return []Message{{Role: "assistant", Content: text}}
}

// annotatorList joins the distinct annotators in sorted order.
func annotatorList(names []string) string {
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	return strings.Join(slices.Compact(sorted), ",")
}
