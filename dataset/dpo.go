package dataset

import (
	"cmp"
	"slices"
)

// pairKey names an unordered pair of answer texts to one prompt text, a < b.
// Texts rather than answer IDs are the key because two answers with the same
// text are the same training example.
type pairKey struct{ prompt, a, b string }

// pairTally collects the votes on one pair: voters[i] preferred answers[i].
type pairTally struct {
	prompt  promptInfo
	answers [2]Answer
	voters  [2][]string
}

// dpoEntry is a built row with the answers it came from, kept for sorting.
type dpoEntry struct {
	row      DPORow
	chosen   Answer
	rejected Answer
}

// BuildDPO turns "pair" labels into preference rows. Held-out prompts never
// produce rows; annotators agreeing on a pair give one row, annotators
// disagreeing on its direction drop it. Rows are sorted by prompt_id, then by
// the chosen and rejected answer IDs.
func BuildDPO(labels []Label, opt Options) ([]DPORow, Stats) {
	stats := Stats{Labels: len(labels)}
	filter := newLabelFilter(labels, opt)
	tallies := map[pairKey]*pairTally{}
	for _, l := range labels {
		if !filter.admit(l, &stats) {
			continue
		}
		if l.Verdict != VerdictPair {
			stats.SkippedVerdict++
			continue
		}
		pairs, ok := labelPairs(l, opt)
		if !ok {
			stats.Invalid++
			continue
		}
		for _, p := range pairs {
			if sameText(p.chosen, p.rejected) {
				stats.Identical++
				continue
			}
			addVote(tallies, l, p)
		}
	}
	entries := make([]dpoEntry, 0, len(tallies))
	for _, t := range tallies {
		winner, ok := agreedWinner(t, &stats)
		if ok {
			entries = append(entries, dpoEntryOf(t, winner, opt))
		}
	}
	slices.SortFunc(entries, compareDPO)
	rows := make([]DPORow, len(entries))
	for i, e := range entries {
		rows[i] = e.row
	}
	stats.Rows = len(rows)
	return rows, stats
}

// addVote records that l's annotator preferred p.chosen over p.rejected.
func addVote(tallies map[pairKey]*pairTally, l Label, p answerPair) {
	first, second, winner := p.chosen, p.rejected, 0
	if second.Text < first.Text {
		first, second, winner = second, first, 1
	}
	key := pairKey{prompt: l.Prompt, a: first.Text, b: second.Text}
	t, seen := tallies[key]
	if !seen {
		t = &pairTally{prompt: infoOf(l), answers: [2]Answer{first, second}}
		tallies[key] = t
	}
	if info := infoOf(l); info.better(t.prompt) {
		t.prompt = info
	}
	t.answers[0] = betterAnswer(t.answers[0], first)
	t.answers[1] = betterAnswer(t.answers[1], second)
	t.voters[winner] = append(t.voters[winner], l.Annotator)
}

// agreedWinner returns the index of the preferred answer, or false when
// annotators disagreed on the direction.
func agreedWinner(t *pairTally, stats *Stats) (int, bool) {
	if len(t.voters[0]) > 0 && len(t.voters[1]) > 0 {
		stats.Conflicts++
		return 0, false
	}
	winner := 0
	if len(t.voters[1]) > 0 {
		winner = 1
	}
	stats.Duplicates += len(t.voters[winner]) - 1
	return winner, true
}

func dpoEntryOf(t *pairTally, winner int, opt Options) dpoEntry {
	chosen, rejected := t.answers[winner], t.answers[1-winner]
	row := DPORow{
		PromptID:      PromptID(t.prompt.text),
		ChosenModel:   chosen.Model,
		RejectedModel: rejected.Model,
		Annotator:     annotatorList(t.voters[winner]),
		Category:      t.prompt.category,
	}
	if conversational(opt) {
		row.Prompt = promptMessages(t.prompt.text, opt)
		row.Chosen = assistantMessages(chosen.Text)
		row.Rejected = assistantMessages(rejected.Text)
	} else {
		row.Prompt = t.prompt.text
		row.Chosen = chosen.Text
		row.Rejected = rejected.Text
	}
	return dpoEntry{row: row, chosen: chosen, rejected: rejected}
}

func compareDPO(x, y dpoEntry) int {
	return cmp.Or(
		cmp.Compare(x.row.PromptID, y.row.PromptID),
		cmp.Compare(x.chosen.ID, y.chosen.ID),
		cmp.Compare(x.rejected.ID, y.rejected.ID),
		cmp.Compare(x.chosen.Text, y.chosen.Text),
		cmp.Compare(x.rejected.Text, y.rejected.Text),
	)
}
