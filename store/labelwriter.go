package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
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
	result chan labelResult
}

type labelResult struct {
	created bool
	err     error
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
func (w *labelWriter) submit(ctx context.Context, in LabelInput) (bool, error) {
	req := labelRequest{in: in, result: make(chan labelResult, 1)}
	select {
	case w.reqs <- req:
	case <-w.stop:
		return false, fmt.Errorf("store is closed")
	case <-ctx.Done():
		return false, ctx.Err()
	}
	// Once handed over, the label is written whatever the caller does; wait for the outcome.
	res := <-req.result
	return res.created, res.err
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
	results := make([]labelResult, len(batch))
	err := runTx(context.Background(), w.db, func(tx *sql.Tx) error {
		for i, req := range batch {
			results[i] = writeLabel(tx, req.in)
		}
		return nil
	})
	for i, req := range batch {
		if err != nil && results[i].err == nil {
			results[i] = labelResult{err: err}
		}
		results[i].err = markDiskFull(results[i].err)
		req.result <- results[i]
	}
}

// Label upserts. Both insert only when the comparison has two answers or more and every answer
// the label names is one of them: a label without a ranking names at most its chosen and rejected
// answers, checked by their ids (a third cheaper per label than the ranking's check by json_each).
const (
	labelInsert = `INSERT INTO labels (prompt_id, job_id, annotator_id, verdict, chosen_id, rejected_id,
			ranking_json, rationale, ms_spent, created_at, updated_at)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10
		WHERE (SELECT count(*) FROM responses WHERE job_id = ?2 AND prompt_id = ?1) >= 2`
	labelPairCheck = `
		AND (?5 IS NULL OR EXISTS (SELECT 1 FROM responses WHERE id = ?5 AND job_id = ?2 AND prompt_id = ?1))
		AND (?6 IS NULL OR EXISTS (SELECT 1 FROM responses WHERE id = ?6 AND job_id = ?2 AND prompt_id = ?1))`
	labelRankingCheck = `
		AND NOT EXISTS (SELECT 1 FROM json_each(?11) AS n
			WHERE n.value NOT IN (SELECT id FROM responses WHERE job_id = ?2 AND prompt_id = ?1))`
	labelUpsert = `
		ON CONFLICT (prompt_id, job_id, annotator_id) DO UPDATE SET verdict = excluded.verdict, chosen_id = excluded.chosen_id,
			rejected_id = excluded.rejected_id, ranking_json = excluded.ranking_json, rationale = excluded.rationale,
			ms_spent = labels.ms_spent + excluded.ms_spent, suggested_by = '', updated_at = excluded.updated_at
		RETURNING created_at = updated_at`
	labelPairSQL    = labelInsert + labelPairCheck + labelUpsert
	labelRankingSQL = labelInsert + labelRankingCheck + labelUpsert
)

// writeLabel stores one label with a single statement, which checks that every answer it names
// belongs to its comparison. A statement that fails is undone by SQLite alone; the batch goes on.
// Only when the label is refused does it look up why.
func writeLabel(tx *sql.Tx, in LabelInput) labelResult {
	ctx := context.Background()
	query, ranking, named := labelPairSQL, []byte("[]"), []byte("[]")
	if len(in.Ranking) > 0 {
		query = labelRankingSQL
		ranking, _ = json.Marshal(in.Ranking)
		named, _ = json.Marshal(namedAnswers(in))
	}
	var created bool
	err := tx.QueryRowContext(ctx, query,
		in.PromptID, in.JobID, in.AnnotatorID, in.Verdict, nullID(in.ChosenID), nullID(in.RejectedID), string(ranking),
		in.Rationale, in.MSSpent, now(), string(named)).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		err = checkLabelAnswers(ctx, tx, in)
		if err == nil {
			err = fmt.Errorf("%w: the label does not fit its comparison", ErrInvalid)
		}
	}
	return labelResult{created: created, err: err}
}
