package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Verdicts a label can carry.
const (
	VerdictPair    = "pair"
	VerdictTie     = "tie"
	VerdictBothBad = "both_bad"
	VerdictSkip    = "skip"
)

// MaxRationaleBytes caps a label's free-text rationale.
const MaxRationaleBytes = 8 << 10

// Item identifies a comparison: the answers one job wrote to one prompt.
type Item struct {
	JobID    int64
	PromptID int64
}

// LabelInput is one person's judgement of one comparison.
type LabelInput struct {
	Item
	AnnotatorID int64
	Verdict     string
	ChosenID    int64   // best answer, for "pair"
	RejectedID  int64   // worst answer, for "pair"
	Ranking     []int64 // optional full ranking, best first
	Rationale   string
	MSSpent     int64
}

// Label is a stored judgement.
type Label struct {
	ID            int64
	Item          Item
	PromptText    string
	Category      string
	Split         string
	AnnotatorID   int64
	AnnotatorName string
	Verdict       string
	ChosenID      int64
	RejectedID    int64
	Ranking       []int64
	Rationale     string
	SuggestedBy   string
	MSSpent       int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// SubmitLabel stores a label, or replaces the annotator's earlier label of the same comparison,
// so a double submission is stored once. Concurrent submissions are committed together (see
// labelWriter); each returns after its own commit.
func (s *Store) SubmitLabel(ctx context.Context, in LabelInput) error {
	if err := in.check(); err != nil {
		return err
	}
	return s.labels.submit(ctx, in)
}

func (in *LabelInput) check() error {
	in.Rationale = strings.TrimSpace(in.Rationale)
	switch {
	case in.Verdict != VerdictPair && in.Verdict != VerdictTie && in.Verdict != VerdictBothBad && in.Verdict != VerdictSkip:
		return fmt.Errorf("%w: verdict %q (want pair, tie, both_bad or skip)", ErrInvalid, in.Verdict)
	case in.Verdict == VerdictPair && (in.ChosenID == 0 || in.RejectedID == 0):
		return fmt.Errorf("%w: pick the best and the worst answer", ErrInvalid)
	case in.Verdict == VerdictPair && in.ChosenID == in.RejectedID:
		return fmt.Errorf("%w: the best and the worst answer must differ", ErrInvalid)
	case len(in.Rationale) > MaxRationaleBytes || !utf8.ValidString(in.Rationale):
		return fmt.Errorf("%w: rationale: at most %d bytes of UTF-8 text", ErrInvalid, MaxRationaleBytes)
	case in.MSSpent < 0:
		in.MSSpent = 0
	}
	if in.Verdict != VerdictPair {
		in.ChosenID, in.RejectedID, in.Ranking = 0, 0, nil
	}
	if in.MSSpent > int64(time.Hour/time.Millisecond) {
		in.MSSpent = int64(time.Hour / time.Millisecond)
	}
	return nil
}

// checkLabelAnswers makes sure every answer the label names belongs to its comparison.
func checkLabelAnswers(ctx context.Context, tx *sql.Tx, in LabelInput) error {
	ids, err := answerIDs(ctx, tx, in.Item)
	if err != nil {
		return err
	}
	if len(ids) < 2 {
		return fmt.Errorf("%w: job %d has fewer than two answers to prompt %d", ErrNotFound, in.JobID, in.PromptID)
	}
	named := namedAnswers(in)
	for _, id := range named {
		if !slices.Contains(ids, id) {
			return fmt.Errorf("%w: answer %d is not one of this prompt's answers", ErrInvalid, id)
		}
	}
	return nil
}

// UndoLastLabel deletes the annotator's most recent label and returns its comparison.
func (s *Store) UndoLastLabel(ctx context.Context, annotatorID int64) (Item, error) {
	var it Item
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id, job_id, prompt_id FROM labels WHERE annotator_id = ? ORDER BY updated_at DESC, id DESC LIMIT 1`,
			annotatorID).Scan(&id, &it.JobID, &it.PromptID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: nothing to undo", ErrNotFound)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM labels WHERE id = ?`, id)
		return err
	})
	return it, err
}

// NextItem returns the next comparison in the annotator's queue after the given one (zero Item:
// from the start). A comparison is queued while it is open: all its answers are written and it has
// fewer labels than the overlap setting (kept up to date by the comparisons triggers).
func (s *Store) NextItem(ctx context.Context, annotatorID int64, after Item) (Item, bool, error) {
	return s.queueItem(ctx, nextItemSQL, annotatorID, after)
}

// queueHead + a condition + queueTail is one comparison of the annotator's queue (open, not labelled
// by them) in (job, prompt) order, from the condition on; ?1, ?2 are a comparison's job and prompt,
// ?3 the annotator.
const (
	queueHead = `SELECT c.job_id, c.prompt_id FROM comparisons c
		WHERE c.open = 1 AND `
	queueTail = `
		AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.prompt_id = c.prompt_id AND l.job_id = c.job_id AND l.annotator_id = ?3)
		ORDER BY c.job_id, c.prompt_id LIMIT 1`
	nextItemSQL = queueHead + `(c.job_id, c.prompt_id) > (?1, ?2)` + queueTail
	// The second part runs only when the first finds nothing.
	itemAfterSQL = `SELECT job_id, prompt_id FROM (` + nextItemSQL + `)
		UNION ALL SELECT job_id, prompt_id FROM (` + queueHead + `(c.job_id, c.prompt_id) <> (?1, ?2)` + queueTail + `)
		LIMIT 1`
)

// ItemAfter returns the comparison of the annotator's queue after the given one, or, when none is
// after it, the first of the queue unless that is the given one: where the focus view goes after
// a label. One statement.
func (s *Store) ItemAfter(ctx context.Context, annotatorID int64, current Item) (Item, bool, error) {
	return s.queueItem(ctx, itemAfterSQL, annotatorID, current)
}

// queueItem runs a query of the annotator's queue (the parameters of queueHead) for one comparison.
// The query is a few index seeks, so it runs to its end even when the request is cancelled: under a
// context that can be cancelled, database/sql and the driver start a watcher for every query, which
// costs more than the query itself.
func (s *Store) queueItem(ctx context.Context, query string, annotatorID int64, from Item) (Item, bool, error) {
	var it Item
	err := s.read.QueryRowContext(context.WithoutCancel(ctx), query, from.JobID, from.PromptID, annotatorID).Scan(&it.JobID, &it.PromptID)
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, false, nil
	}
	return it, err == nil, err
}

// PreviousItem returns the comparison the annotator labelled just before the given one
// (or the most recent one when the given one has no label of theirs).
func (s *Store) PreviousItem(ctx context.Context, annotatorID int64, current Item) (Item, bool, error) {
	var it Item
	err := s.read.QueryRowContext(ctx, `SELECT job_id, prompt_id FROM labels WHERE annotator_id = ?
		AND id < coalesce((SELECT id FROM labels WHERE annotator_id = ? AND job_id = ? AND prompt_id = ?), 9223372036854775807)
		ORDER BY id DESC LIMIT 1`, annotatorID, annotatorID, current.JobID, current.PromptID).Scan(&it.JobID, &it.PromptID)
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, false, nil
	}
	return it, err == nil, err
}

// Progress counts an annotator's and the team's labelling.
type Progress struct {
	Mine        int // labels by this annotator
	MinePending int // comparisons still in this annotator's queue
	TeamDone    int // comparisons with enough labels
	TeamTotal   int // comparisons ready for labelling
	MineAvgMS   int64
}

// LabelProgress returns personal and team progress for an annotator.
func (s *Store) LabelProgress(ctx context.Context, annotatorID int64) (Progress, error) {
	var p Progress
	err := s.read.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM comparisons WHERE ready = 1),
		(SELECT count(*) FROM comparisons WHERE ready = 1 AND open = 0),
		(SELECT count(*) FROM comparisons c WHERE c.open = 1 AND NOT EXISTS
			(SELECT 1 FROM labels l WHERE l.prompt_id = c.prompt_id AND l.job_id = c.job_id AND l.annotator_id = ?))`,
		annotatorID).Scan(&p.TeamTotal, &p.TeamDone, &p.MinePending)
	if err != nil {
		return p, fmt.Errorf("team progress: %w", err)
	}
	err = s.read.QueryRowContext(ctx, `SELECT count(*), CAST(round(coalesce(avg(ms_spent), 0)) AS INTEGER) FROM labels WHERE annotator_id = ?`, annotatorID).
		Scan(&p.Mine, &p.MineAvgMS)
	return p, err
}

// LabelFilter narrows the review list. Zero values match everything.
type LabelFilter struct {
	AnnotatorID int64
	Category    string
	Verdict     string
	Source      string // "" every label, LabelsByPeople people's only, else that suggester's (e.g. "compiler")
	Limit       int
}

// LabelsByPeople is the LabelFilter.Source of the labels people made (suggested_by empty).
const LabelsByPeople = "people"

const labelColumns = `l.id, l.job_id, l.prompt_id, p.text, p.category, p.split, l.annotator_id, u.name, l.verdict,
	coalesce(l.chosen_id, 0), coalesce(l.rejected_id, 0), l.ranking_json, l.rationale, l.suggested_by, l.ms_spent, l.created_at, l.updated_at`

// ListLabels returns labels, newest first.
func (s *Store) ListLabels(ctx context.Context, f LabelFilter) ([]Label, error) {
	var conds []string
	var args []any
	if f.AnnotatorID != 0 {
		conds, args = append(conds, `l.annotator_id = ?`), append(args, f.AnnotatorID)
	}
	if f.Category != "" {
		conds, args = append(conds, `p.category = ?`), append(args, f.Category)
	}
	if f.Verdict != "" {
		conds, args = append(conds, `l.verdict = ?`), append(args, f.Verdict)
	}
	switch f.Source {
	case "":
	case LabelsByPeople:
		conds = append(conds, `l.suggested_by = ''`)
	default:
		conds, args = append(conds, `l.suggested_by = ?`), append(args, f.Source)
	}
	where := "1"
	if len(conds) > 0 {
		where = strings.Join(conds, " AND ")
	}
	q := `SELECT ` + labelColumns + ` FROM labels l JOIN prompts p ON p.id = l.prompt_id JOIN users u ON u.id = l.annotator_id
		WHERE ` + where + ` ORDER BY l.updated_at DESC, l.id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return queryAll(ctx, s.read, scanLabel, q, args...)
}

// LabelOf returns the annotator's label of a comparison, if any.
func (s *Store) LabelOf(ctx context.Context, annotatorID int64, it Item) (Label, bool, error) {
	l, err := scanLabel(s.read.QueryRowContext(ctx, `SELECT `+labelColumns+` FROM labels l JOIN prompts p ON p.id = l.prompt_id
		JOIN users u ON u.id = l.annotator_id WHERE l.annotator_id = ? AND l.job_id = ? AND l.prompt_id = ?`, annotatorID, it.JobID, it.PromptID))
	if errors.Is(err, sql.ErrNoRows) {
		return Label{}, false, nil
	}
	return l, err == nil, err
}

func scanLabel(row scanner) (Label, error) {
	var l Label
	var ranking, created, updated string
	err := row.Scan(&l.ID, &l.Item.JobID, &l.Item.PromptID, &l.PromptText, &l.Category, &l.Split, &l.AnnotatorID, &l.AnnotatorName,
		&l.Verdict, &l.ChosenID, &l.RejectedID, &ranking, &l.Rationale, &l.SuggestedBy, &l.MSSpent, &created, &updated)
	json.Unmarshal([]byte(ranking), &l.Ranking)
	l.CreatedAt = parseTime(created)
	l.UpdatedAt = parseTime(updated)
	return l, err
}

// LabelWithAnswers is a label with the answers of its comparison, for dataset exports.
type LabelWithAnswers struct {
	Label
	Answers []Response
}

// LabelsForExport returns every label with its comparison's answers, in label id order.
func (s *Store) LabelsForExport(ctx context.Context) ([]LabelWithAnswers, error) {
	labels, err := s.ListLabels(ctx, LabelFilter{})
	if err != nil {
		return nil, err
	}
	answers := map[Item][]Response{}
	rows, err := s.read.QueryContext(ctx, `SELECT `+responseColumns+` FROM responses r JOIN models m ON m.id = r.model_id
		WHERE EXISTS (SELECT 1 FROM labels l WHERE l.job_id = r.job_id AND l.prompt_id = r.prompt_id) ORDER BY r.slot`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanResponse(rows)
		if err != nil {
			return nil, err
		}
		it := Item{JobID: r.JobID, PromptID: r.PromptID}
		answers[it] = append(answers[it], r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]LabelWithAnswers, 0, len(labels))
	for i := len(labels) - 1; i >= 0; i-- {
		out = append(out, LabelWithAnswers{Label: labels[i], Answers: answers[labels[i].Item]})
	}
	return out, nil
}

// namedAnswers returns every answer id a label names.
func namedAnswers(in LabelInput) []int64 {
	named := append([]int64{}, in.Ranking...)
	if in.Verdict == VerdictPair {
		named = append(named, in.ChosenID, in.RejectedID)
	}
	return named
}

// querier is what both *sql.DB and *sql.Tx offer for reads.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ItemAnswerIDs returns the ids of a comparison's answers in slot order.
func (s *Store) ItemAnswerIDs(ctx context.Context, it Item) ([]int64, error) {
	if ids, _, ok := s.answerIDs.get(it); ok {
		return ids, nil
	}
	_, generation, _ := s.answerIDs.get(it)
	ids, err := answerIDs(ctx, s.read, it)
	if err == nil {
		s.answerIDs.put(it, ids, generation)
	}
	return ids, err
}

func answerIDs(ctx context.Context, q querier, it Item) ([]int64, error) {
	return queryAll(ctx, q, scanValue[int64], `SELECT id FROM responses WHERE job_id = ? AND prompt_id = ? ORDER BY slot`, it.JobID, it.PromptID)
}

// LabelByID returns one label.
func (s *Store) LabelByID(ctx context.Context, id int64) (Label, error) {
	l, err := scanLabel(s.read.QueryRowContext(ctx, `SELECT `+labelColumns+` FROM labels l JOIN prompts p ON p.id = l.prompt_id
		JOIN users u ON u.id = l.annotator_id WHERE l.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Label{}, fmt.Errorf("label %d: %w", id, ErrNotFound)
	}
	return l, err
}
