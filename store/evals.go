package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Eval run states.
const (
	EvalRunning = "running"
	EvalDone    = "done"
	EvalFailed  = "failed"
)

// EvalRun is one benchmark run of a model: n answers to every problem of a bench, scored.
type EvalRun struct {
	ID           int64
	Model        string // registered name, NAME+rag, or completions:FILE
	Bench        string
	Format       string // multipl-e or exercism
	N            int
	SettingsJSON string
	Status       string
	Error        string
	SummaryJSON  string // the eval summary once done; "{}" before
	Started      time.Time
	Finished     time.Time // zero while running
}

// EvalRunInput starts an eval run.
type EvalRunInput struct {
	Model        string
	Bench        string
	Format       string
	N            int
	SettingsJSON string
}

// EvalResult is one scored answer of a run.
type EvalResult struct {
	Problem    string
	Sample     int
	Category   string
	Status     string
	Compiled   bool
	Passed     bool
	Lints      int // -1 when not counted
	Seconds    float64
	Detail     string
	Completion string
}

const evalRunColumns = `id, model, bench, format, n, settings, status, error, summary, started_at, finished_at`

func scanEvalRun(row scanner) (EvalRun, error) {
	var r EvalRun
	var started string
	var finished sql.NullString
	err := row.Scan(&r.ID, &r.Model, &r.Bench, &r.Format, &r.N, &r.SettingsJSON, &r.Status, &r.Error, &r.SummaryJSON, &started, &finished)
	r.Started, r.Finished = parseTime(started), parseNullTime(finished)
	return r, err
}

// CreateEvalRun records a run before its first answer is scored.
func (s *Store) CreateEvalRun(ctx context.Context, in EvalRunInput) (EvalRun, error) {
	switch {
	case strings.TrimSpace(in.Model) == "":
		return EvalRun{}, fmt.Errorf("%w: eval run: model is empty", ErrInvalid)
	case strings.TrimSpace(in.Bench) == "":
		return EvalRun{}, fmt.Errorf("%w: eval run: bench is empty", ErrInvalid)
	case in.Format != "multipl-e" && in.Format != "exercism":
		return EvalRun{}, fmt.Errorf("%w: eval run: format %q (want multipl-e or exercism)", ErrInvalid, in.Format)
	case in.N < 1:
		return EvalRun{}, fmt.Errorf("%w: eval run: n %d (want 1 or more)", ErrInvalid, in.N)
	}
	settings := in.SettingsJSON
	if settings == "" {
		settings = "{}"
	}
	if !json.Valid([]byte(settings)) {
		return EvalRun{}, fmt.Errorf("%w: eval run: settings are not JSON", ErrInvalid)
	}
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO eval_runs (model, bench, format, n, settings, started_at) VALUES (?, ?, ?, ?, ?, ?)`,
			in.Model, in.Bench, in.Format, in.N, settings, now())
		if err != nil {
			return fmt.Errorf("insert eval run of %s on %s: %w", in.Model, in.Bench, err)
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return EvalRun{}, err
	}
	return s.evalRun(ctx, s.write, id)
}

// EvalRun returns one run.
func (s *Store) EvalRun(ctx context.Context, id int64) (EvalRun, error) {
	return s.evalRun(ctx, s.read, id)
}

func (s *Store) evalRun(ctx context.Context, db querier, id int64) (EvalRun, error) {
	list, err := queryAll(ctx, db, scanEvalRun, `SELECT `+evalRunColumns+` FROM eval_runs WHERE id = ?`, id)
	if err != nil {
		return EvalRun{}, fmt.Errorf("read eval run %d: %w", id, err)
	}
	if len(list) == 0 {
		return EvalRun{}, fmt.Errorf("eval run %d: %w", id, ErrNotFound)
	}
	return list[0], nil
}

// EvalRuns lists the runs, newest first.
func (s *Store) EvalRuns(ctx context.Context) ([]EvalRun, error) {
	runs, err := queryAll(ctx, s.read, scanEvalRun, `SELECT `+evalRunColumns+` FROM eval_runs ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list eval runs: %w", err)
	}
	return runs, nil
}

// SaveEvalResult stores one scored answer of a running run; a second result for the same problem and
// sample is ErrConflict.
func (s *Store) SaveEvalResult(ctx context.Context, runID int64, r EvalResult) error {
	if r.Problem == "" || r.Sample < 0 {
		return fmt.Errorf("%w: eval run %d: result needs a problem and a sample ≥ 0 (got %q, %d)", ErrInvalid, runID, r.Problem, r.Sample)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		run, err := s.evalRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		if run.Status != EvalRunning {
			return fmt.Errorf("%w: eval run %d is %s", ErrConflict, runID, run.Status)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO eval_results (run_id, problem, sample, category, status, compiled, passed, lints, seconds, detail, completion)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			runID, r.Problem, r.Sample, r.Category, r.Status, r.Compiled, r.Passed, r.Lints, r.Seconds, r.Detail, r.Completion)
		switch {
		case err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed"):
			return fmt.Errorf("%w: eval run %d already has sample %d of %s", ErrConflict, runID, r.Sample, r.Problem)
		case err != nil && strings.Contains(err.Error(), "CHECK constraint failed"):
			return fmt.Errorf("%w: eval run %d: status %q of %s", ErrInvalid, runID, r.Status, r.Problem)
		case err != nil:
			return fmt.Errorf("store result %s#%d of eval run %d: %w", r.Problem, r.Sample, runID, err)
		}
		return nil
	})
}

// FinishEvalRun ends a running run: done with its summary, or failed with the error.
func (s *Store) FinishEvalRun(ctx context.Context, id int64, status, summaryJSON, errMsg string) error {
	if status != EvalDone && status != EvalFailed {
		return fmt.Errorf("%w: eval run %d: final status %q", ErrInvalid, id, status)
	}
	if summaryJSON == "" {
		summaryJSON = "{}"
	}
	if !json.Valid([]byte(summaryJSON)) {
		return fmt.Errorf("%w: eval run %d: summary is not JSON", ErrInvalid, id)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE eval_runs SET status = ?, summary = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'running'`,
			status, summaryJSON, errMsg, now(), id)
		if err != nil {
			return fmt.Errorf("finish eval run %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			run, err := s.evalRun(ctx, tx, id)
			if err != nil {
				return err
			}
			return fmt.Errorf("%w: eval run %d is already %s", ErrConflict, id, run.Status)
		}
		return nil
	})
}

// EvalResults returns a run's scored answers by problem and sample.
func (s *Store) EvalResults(ctx context.Context, runID int64) ([]EvalResult, error) {
	results, err := queryAll(ctx, s.read, func(row scanner) (EvalResult, error) {
		var r EvalResult
		err := row.Scan(&r.Problem, &r.Sample, &r.Category, &r.Status, &r.Compiled, &r.Passed, &r.Lints, &r.Seconds, &r.Detail, &r.Completion)
		return r, err
	}, `SELECT problem, sample, category, status, compiled, passed, lints, seconds, detail, completion
		FROM eval_results WHERE run_id = ? ORDER BY problem, sample`, runID)
	if err != nil {
		return nil, fmt.Errorf("read results of eval run %d: %w", runID, err)
	}
	return results, nil
}
