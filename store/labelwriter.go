package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/mattn/go-sqlite3"
)

// maxLabelBatch caps how many waiting label submissions share one transaction.
const maxLabelBatch = 128

// labelWriter commits concurrent label submissions together: one goroutine takes every
// submission waiting at that moment and writes them in one transaction, each inside its own
// savepoint so an invalid label fails alone. A submission returns only after its commit.
// Many annotators submitting at once then pay for one commit per batch, not one each.
type labelWriter struct {
	db   *sql.DB
	reqs chan labelRequest
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type labelRequest struct {
	in     LabelInput
	result chan error
}

func newLabelWriter(db *sql.DB) *labelWriter {
	w := &labelWriter{db: db, reqs: make(chan labelRequest), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// close stops the goroutine after the batch in progress; later submissions fail.
func (w *labelWriter) close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// submit hands a checked label to the writer and waits for its commit.
func (w *labelWriter) submit(ctx context.Context, in LabelInput) error {
	req := labelRequest{in: in, result: make(chan error, 1)}
	select {
	case w.reqs <- req:
	case <-w.stop:
		return fmt.Errorf("store is closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once handed over, the label is written whatever the caller does; wait for the outcome.
	return <-req.result
}

func (w *labelWriter) run() {
	defer close(w.done)
	for {
		var first labelRequest
		select {
		case first = <-w.reqs:
		case <-w.stop:
			return
		}
		batch := append(make([]labelRequest, 0, 16), first)
		batch = w.drain(batch)
		// Let the goroutines that are about to submit reach the channel: on a busy server this
		// makes the batches about twice as large (24 → 50 labels a commit at saturation); on an idle one
		// nothing else runs and the batch goes at once.
		for range gatherRounds {
			if len(batch) >= maxLabelBatch {
				break
			}
			runtime.Gosched()
			batch = w.drain(batch)
		}
		w.write(batch)
	}
}

// gatherRounds is how many times the writer yields to other goroutines and takes the submissions
// that arrived meanwhile before it writes a batch.
const gatherRounds = 2

// drain adds to batch every submission waiting now, up to maxLabelBatch.
func (w *labelWriter) drain(batch []labelRequest) []labelRequest {
	for len(batch) < maxLabelBatch {
		select {
		case req := <-w.reqs:
			batch = append(batch, req)
		default:
			return batch
		}
	}
	return batch
}

// write stores a batch in one transaction and answers every request.
func (w *labelWriter) write(batch []labelRequest) {
	results := make([]error, len(batch))
	err := runTx(context.Background(), w.db, func(tx *sql.Tx) error {
		for i, req := range batch {
			results[i] = writeLabel(tx, req.in)
		}
		return nil
	})
	for i, req := range batch {
		if err != nil && results[i] == nil {
			results[i] = err
		}
		req.result <- markDiskFull(results[i])
	}
}

// Label upserts, one statement a label. The prompt id is written only when the comparison has two
// answers or more and every answer the label names is one of them; otherwise it is NULL, which the
// NOT NULL constraint refuses (the statement alone is undone). A label that names at most three
// answers (every two-answer label, with or without its ranking, and a full ranking of three) checks
// them by id: its chosen (?5), rejected (?6) and one more (?11). A longer ranking checks its list
// (?11, JSON) through json_each, which costs about a third more. The guard sits in VALUES rather
// than in the WHERE of an INSERT … SELECT: with a row trigger on labels, SQLite copies the rows of an
// INSERT … SELECT into a temporary table first, a tenth of the cost of a label.
const (
	labelGuard    = `CASE WHEN (SELECT count(*) FROM responses WHERE job_id = ?2 AND prompt_id = ?1) >= 2`
	labelIDsCheck = `
		AND (?5 IS NULL OR EXISTS (SELECT 1 FROM responses WHERE id = ?5 AND job_id = ?2 AND prompt_id = ?1))
		AND (?6 IS NULL OR EXISTS (SELECT 1 FROM responses WHERE id = ?6 AND job_id = ?2 AND prompt_id = ?1))
		AND (?11 IS NULL OR EXISTS (SELECT 1 FROM responses WHERE id = ?11 AND job_id = ?2 AND prompt_id = ?1))`
	labelRankingCheck = `
		AND NOT EXISTS (SELECT 1 FROM json_each(?11) AS n
			WHERE n.value NOT IN (SELECT id FROM responses WHERE job_id = ?2 AND prompt_id = ?1))`
	labelInsert = `INSERT INTO labels (prompt_id, job_id, annotator_id, verdict, chosen_id, rejected_id,
			ranking_json, rationale, ms_spent, created_at, updated_at)
		VALUES (`
	labelValues = ` THEN ?1 END, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
		ON CONFLICT (prompt_id, job_id, annotator_id) DO UPDATE SET verdict = excluded.verdict, chosen_id = excluded.chosen_id,
			rejected_id = excluded.rejected_id, ranking_json = excluded.ranking_json, rationale = excluded.rationale,
			ms_spent = labels.ms_spent + excluded.ms_spent, suggested_by = '', updated_at = excluded.updated_at`
	labelIDsSQL     = labelInsert + labelGuard + labelIDsCheck + labelValues
	labelRankingSQL = labelInsert + labelGuard + labelRankingCheck + labelValues
)

// writeLabel stores one label with a single statement, which checks that every answer it names
// belongs to its comparison. A statement that fails is undone by SQLite alone; the batch goes on.
// Only when the label is refused does it look up why.
func writeLabel(tx *sql.Tx, in LabelInput) error {
	ctx := context.Background()
	query, others := labelIDsSQL, any(nil)
	switch extra := extraAnswers(in); {
	case len(extra) == 1:
		others = extra[0]
	case len(extra) > 1:
		query, others = labelRankingSQL, idList(namedAnswers(in))
	}
	_, err := tx.ExecContext(ctx, query,
		in.PromptID, in.JobID, in.AnnotatorID, in.Verdict, nullID(in.ChosenID), nullID(in.RejectedID), idList(in.Ranking),
		in.Rationale, in.MSSpent, now(), others)
	if !refused(err) {
		return err
	}
	if err := checkLabelAnswers(ctx, tx, in); err != nil {
		return err
	}
	return fmt.Errorf("%w: the label does not fit its comparison", ErrInvalid)
}

// refused reports whether a label statement failed its guard: every other column it writes is never
// NULL, so a NOT NULL failure is the prompt id the guard left out.
func refused(err error) bool {
	var e sqlite3.Error
	return errors.As(err, &e) && e.ExtendedCode == sqlite3.ErrConstraintNotNull
}

// extraAnswers returns the answers a label's ranking names besides its chosen and rejected ones,
// each once.
func extraAnswers(in LabelInput) []int64 {
	var extra []int64
	for _, id := range in.Ranking {
		if id != in.ChosenID && id != in.RejectedID && !slices.Contains(extra, id) {
			extra = append(extra, id)
		}
	}
	return extra
}

// idList writes ids as a JSON array.
func idList(ids []int64) string {
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}
