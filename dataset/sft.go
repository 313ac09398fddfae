package dataset

import (
	"cmp"
	"slices"
	"strings"
)

// sftKey names one answer text to one prompt text.
type sftKey struct{ prompt, answer string }

// sftTally collects the labels that picked one answer for SFT.
type sftTally struct {
	prompt promptInfo
	answer Answer
	votes  int
}

// BuildSFT turns the best answer of each "pair" label, and with TiesToSFT one
// answer of each "tie" label, into supervised rows, one per prompt and answer.
// An answer that another label on the same prompt ranked worst is dropped as a
// conflict. Held-out prompts never produce rows. Rows are sorted by prompt_id,
// then by answer ID.
func BuildSFT(labels []Label, opt Options) ([]SFTRow, Stats) {
	stats := Stats{Labels: len(labels)}
	filter := newLabelFilter(labels, opt)
	tallies := map[sftKey]*sftTally{}
	rejected := map[sftKey]bool{}
	for _, l := range labels {
		if !filter.admit(l, &stats) {
			continue
		}
		switch {
		case l.Verdict == VerdictPair:
			best, worst, ok := bestAndWorst(l, opt)
			switch {
			case !ok:
				stats.Invalid++
			case sameText(best, worst):
				stats.Identical++
			default:
				rejected[sftKey{prompt: l.Prompt, answer: worst.Text}] = true
				addSFTVote(tallies, l, best)
			}
		case l.Verdict == VerdictTie && opt.TiesToSFT:
			answer, ok := tieAnswer(l)
			if !ok {
				stats.Invalid++
				continue
			}
			addSFTVote(tallies, l, answer)
		default:
			stats.SkippedVerdict++
		}
	}
	rows := sftRows(tallies, rejected, opt, &stats)
	stats.Rows = len(rows)
	return rows, stats
}

func addSFTVote(tallies map[sftKey]*sftTally, l Label, answer Answer) {
	key := sftKey{prompt: l.Prompt, answer: answer.Text}
	t, seen := tallies[key]
	if !seen {
		t = &sftTally{prompt: infoOf(l), answer: answer}
		tallies[key] = t
	}
	if info := infoOf(l); info.better(t.prompt) {
		t.prompt = info
	}
	t.answer = betterAnswer(t.answer, answer)
	t.votes++
}

// tieAnswer picks the answer a "tie" label contributes: the one it names as
// chosen if any, else the shown answer with the lowest ID, so the pick does not
// depend on the order the answers were shown in.
func tieAnswer(l Label) (Answer, bool) {
	if l.ChosenID != 0 {
		return answerByID(l, l.ChosenID)
	}
	var pick Answer
	found := false
	for _, a := range l.Answers {
		if strings.TrimSpace(a.Text) == "" {
			continue
		}
		if !found || a.ID < pick.ID {
			pick, found = a, true
		}
	}
	return pick, found
}

// sftEntry is a built row with the answer it came from, kept for sorting.
type sftEntry struct {
	row    SFTRow
	answer Answer
}

func sftRows(tallies map[sftKey]*sftTally, rejected map[sftKey]bool, opt Options, stats *Stats) []SFTRow {
	entries := make([]sftEntry, 0, len(tallies))
	for key, t := range tallies {
		if rejected[key] {
			stats.Conflicts++
			continue
		}
		stats.Duplicates += t.votes - 1
		row := SFTRow{
			Messages: append(promptMessages(t.prompt.text, opt), assistantMessages(t.answer.Text)...),
			PromptID: PromptID(t.prompt.text),
			Model:    t.answer.Model,
			Category: t.prompt.category,
		}
		entries = append(entries, sftEntry{row: row, answer: t.answer})
	}
	slices.SortFunc(entries, func(x, y sftEntry) int {
		return cmp.Or(
			cmp.Compare(x.row.PromptID, y.row.PromptID),
			cmp.Compare(x.answer.ID, y.answer.ID),
			cmp.Compare(x.answer.Text, y.answer.Text),
		)
	})
	rows := make([]SFTRow, len(entries))
	for i, e := range entries {
		rows[i] = e.row
	}
	return rows
}
