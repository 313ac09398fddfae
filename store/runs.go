package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Run kinds and statuses.
const (
	RunSFT = "sft"
	RunDPO = "dpo"

	RunQueued      = "queued"
	RunRunning     = "running"
	RunDone        = "done"
	RunFailed      = "failed"
	RunCanceled    = "canceled"
	RunInterrupted = "interrupted"
)

// Run is one fine-tuning run: what it trains from, on what, and how far it got.
type Run struct {
	ID          int64
	Kind        string // sft | dpo
	Name        string // the name asked for the model it produces ("" = the default)
	ParentID    int64
	ParentName  string
	DatasetID   int64
	ConfigJSON  string // the run.json the worker gets
	Status      string
	CreatedBy   int64
	CreatedAt   time.Time
	StartedAt   time.Time
	FinishedAt  time.Time
	OutputDir   string
	Checkpoint  string // the last checkpoint the worker reported
	Step        int
	MaxSteps    int
	MetricsJSON string // final metrics of the done event
	Error       string
	Device      string
	ModelID     int64 // the model the run produced
	ModelName   string
}

// Finished reports whether the run will not go on by itself.
func (r Run) Finished() bool {
	return r.Status != RunQueued && r.Status != RunRunning
}

// Resumable reports whether the run may be queued again.
func (r Run) Resumable() bool {
	return r.Status == RunFailed || r.Status == RunCanceled || r.Status == RunInterrupted
}

// RunInput is what creating a run takes.
type RunInput struct {
	Kind      string
	Name      string
	ParentID  int64
	DatasetID int64
	CreatedBy int64
}

// RunConfig gives the run.json and the output folder of the run with the given id; it runs
// inside the transaction that creates the run, so that the paths can name the run.
type RunConfig func(id int64) (configJSON, outputDir string, err error)

// MetricPoint is one value of one metric at one step.
type MetricPoint struct {
	Name  string
	Step  int
	Value float64
}

// RunEnd is how a running run ended.
type RunEnd struct {
	Status      string // done | failed | canceled | interrupted
	Error       string
	MetricsJSON string
	Step        int
	Checkpoint  string // kept when empty
	// Model, for a done run, is registered (its name made unique with -2, -3, …) in the same
	// transaction and becomes the run's output model.
	Model *ModelInput
}

const runColumns = `r.id, r.kind, r.name, coalesce(r.parent_model_id, 0), coalesce(p.name, ''), coalesce(r.dataset_id, 0),
	r.config_json, r.status, coalesce(r.created_by, 0), r.created_at, r.started_at, r.finished_at, r.output_dir, r.checkpoint,
	r.step, r.max_steps, r.metrics_json, r.error, r.device, coalesce(r.output_model_id, 0), coalesce(o.name, '')`

const runFrom = ` FROM runs r LEFT JOIN models p ON p.id = r.parent_model_id LEFT JOIN models o ON o.id = r.output_model_id`

// maxRunError bounds the stored error text (a validator report or a log tail).
const maxRunError = 8000

// CheckModelName reports whether name can name a model (ErrInvalid says why).
func CheckModelName(name string) error {
	in := ModelInput{Name: name, Provider: ProviderBuiltin, Base: "-"}
	return in.clean()
}

// CreateRun stores a queued run. config gives its run.json and output folder from its id.
func (s *Store) CreateRun(ctx context.Context, in RunInput, config RunConfig) (Run, error) {
	if in.Kind != RunSFT && in.Kind != RunDPO {
		return Run{}, fmt.Errorf("%w: kind: %q (want sft or dpo)", ErrInvalid, in.Kind)
	}
	if in.Name != "" {
		if err := CheckModelName(in.Name); err != nil {
			return Run{}, err
		}
	}
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO runs (kind, name, parent_model_id, dataset_id, config_json, status, created_by, created_at)
			VALUES (?, ?, nullif(?, 0), nullif(?, 0), '{}', 'queued', ?, ?)`, in.Kind, in.Name, in.ParentID, in.DatasetID, nullID(in.CreatedBy), now())
		if err != nil {
			return fmt.Errorf("insert run: %w", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		cfg, out, err := config(id)
		if err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, `UPDATE runs SET config_json = ?, output_dir = ? WHERE id = ?`, cfg, out, id); err != nil {
			return err
		}
		return audit(ctx, tx, "run.start", fmt.Sprintf("run %d", id), map[string]any{"kind": in.Kind, "name": in.Name,
			"parent_model_id": in.ParentID, "dataset_id": in.DatasetID})
	})
	if err != nil {
		return Run{}, err
	}
	return s.Run(ctx, id)
}

// NextRunID is the id the next run will most likely get (for previews).
func (s *Store) NextRunID(ctx context.Context) (int64, error) {
	var id int64
	err := s.read.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM runs`).Scan(&id)
	return id, err
}

// Run returns one run.
func (s *Store) Run(ctx context.Context, id int64) (Run, error) {
	r, err := scanRun(s.read.QueryRowContext(ctx, `SELECT `+runColumns+runFrom+` WHERE r.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return r, err
}

// RunOfModel returns the finished run that produced the model (ErrNotFound for a model no run made).
func (s *Store) RunOfModel(ctx context.Context, modelID int64) (Run, error) {
	r, err := scanRun(s.read.QueryRowContext(ctx, `SELECT `+runColumns+runFrom+` WHERE r.output_model_id = ? ORDER BY r.id DESC LIMIT 1`, modelID))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run of model %d: %w", modelID, ErrNotFound)
	}
	return r, err
}

// ListRuns returns the newest runs first.
func (s *Store) ListRuns(ctx context.Context, limit int) ([]Run, error) {
	return queryAll(ctx, s.read, scanRun, `SELECT `+runColumns+runFrom+` ORDER BY r.id DESC LIMIT ?`, limit)
}

func scanRun(row scanner) (Run, error) {
	var r Run
	var created string
	var started, finished sql.NullString
	err := row.Scan(&r.ID, &r.Kind, &r.Name, &r.ParentID, &r.ParentName, &r.DatasetID, &r.ConfigJSON, &r.Status, &r.CreatedBy,
		&created, &started, &finished, &r.OutputDir, &r.Checkpoint, &r.Step, &r.MaxSteps, &r.MetricsJSON, &r.Error, &r.Device,
		&r.ModelID, &r.ModelName)
	if err != nil {
		return Run{}, err
	}
	r.CreatedAt = parseTime(created)
	r.StartedAt = parseNullTime(started)
	r.FinishedAt = parseNullTime(finished)
	return r, nil
}

// ClaimRun marks a queued run running and returns it: the run with the given id, or with id 0
// the oldest queued run. ok is false when there is no such queued run.
func (s *Store) ClaimRun(ctx context.Context, id int64) (run Run, ok bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		q := `SELECT id FROM runs WHERE status = 'queued' ORDER BY id LIMIT 1`
		args := []any{}
		if id != 0 {
			q, args = `SELECT id FROM runs WHERE status = 'queued' AND id = ?`, []any{id}
		}
		if err := tx.QueryRowContext(ctx, q, args...).Scan(&id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE runs SET status = 'running', started_at = coalesce(started_at, ?), finished_at = NULL,
			error = '' WHERE id = ?`, now(), id)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, err
	}
	run, err = s.Run(ctx, id)
	return run, err == nil, err
}

// StartRunAttempt records what the worker's start event says: the device, the planned steps and
// the step it resumed at.
func (s *Store) StartRunAttempt(ctx context.Context, id int64, device string, maxSteps, step int) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE runs SET device = ?, max_steps = ?, step = ? WHERE id = ?`, device, maxSteps, step, id)
		return err
	})
}

// SaveRunCheckpoint records the run's latest checkpoint.
func (s *Store) SaveRunCheckpoint(ctx context.Context, id int64, step int, path string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE runs SET checkpoint = ?, step = max(step, ?) WHERE id = ?`, path, step, id)
		return err
	})
}

// AddRunMetrics stores a batch of metric values in one transaction and moves the run's step to
// the highest step among them. A value at a step already stored (a resumed run repeating steps
// after its checkpoint) replaces the old one; non-finite values are refused.
func (s *Store) AddRunMetrics(ctx context.Context, id int64, points []MetricPoint) error {
	if len(points) == 0 {
		return nil
	}
	top := 0
	for _, p := range points {
		if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			return fmt.Errorf("%w: run %d: metric %s at step %d is %v", ErrInvalid, id, p.Name, p.Step, p.Value)
		}
		top = max(top, p.Step)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO run_metrics (run_id, name, step, value) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, p := range points {
			if _, err := stmt.ExecContext(ctx, id, p.Name, p.Step, p.Value); err != nil {
				return fmt.Errorf("run %d: metric %s step %d: %w", id, p.Name, p.Step, err)
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE runs SET step = max(step, ?) WHERE id = ?`, top, id)
		return err
	})
}

// RunMetrics returns every stored metric value of a run, by name then step.
func (s *Store) RunMetrics(ctx context.Context, id int64) ([]MetricPoint, error) {
	return queryAll(ctx, s.read, func(row scanner) (MetricPoint, error) {
		var p MetricPoint
		err := row.Scan(&p.Name, &p.Step, &p.Value)
		return p, err
	}, `SELECT name, step, value FROM run_metrics WHERE run_id = ? ORDER BY name, step`, id)
}

// FinishRun ends a running run; for a done run with end.Model it registers that model too.
func (s *Store) FinishRun(ctx context.Context, id int64, end RunEnd) error {
	switch end.Status {
	case RunDone, RunFailed, RunCanceled, RunInterrupted:
	default:
		return fmt.Errorf("%w: run %d: final status %q", ErrInvalid, id, end.Status)
	}
	if len(end.Error) > maxRunError {
		end.Error = end.Error[:maxRunError]
	}
	if end.Model != nil {
		if err := end.Model.clean(); err != nil {
			return fmt.Errorf("run %d: output model: %w", id, err)
		}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var modelID int64
		if end.Model != nil {
			var err error
			if modelID, err = insertUniqueModel(ctx, tx, *end.Model); err != nil {
				return fmt.Errorf("run %d: register model: %w", id, err)
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, error = ?, metrics_json = ?, step = max(step, ?),
			checkpoint = CASE WHEN ? <> '' THEN ? ELSE checkpoint END, output_model_id = coalesce(nullif(?, 0), output_model_id),
			finished_at = ? WHERE id = ? AND status = 'running'`,
			end.Status, end.Error, end.MetricsJSON, end.Step, end.Checkpoint, end.Checkpoint, modelID, now(), id)
		if err := expectOne(res, err); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: run %d is not running", ErrConflict, id)
		} else {
			return err
		}
	})
}

// insertUniqueModel registers in under its name, or the first of name-2, name-3, … not taken.
func insertUniqueModel(ctx context.Context, tx *sql.Tx, in ModelInput) (int64, error) {
	base := in.Name
	for i := 1; i <= 1000; i++ {
		name := base
		if i > 1 {
			name = base + "-" + strconv.Itoa(i)
		}
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM models WHERE name = ?`, name).Scan(&taken); err != nil {
			return 0, err
		}
		if taken > 0 {
			continue
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO models (name, provider, endpoint, served_name, api_key_env, base, adapter,
			chat_template, context_length, parent_id, dataset_id, notes, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, nullif(?, 0), nullif(?, 0), ?, ?)`, name, in.Provider, in.Endpoint, in.ServedName,
			in.APIKeyEnv, in.Base, in.Adapter, in.ChatTemplate, in.ContextLength, in.ParentID, in.DatasetID, in.Notes, now())
		if err != nil {
			return 0, err
		}
		return res.LastInsertId()
	}
	return 0, fmt.Errorf("%w: every name from %s to %s-1000 is taken", ErrConflict, base, base)
}

// CancelQueuedRun cancels a run that has not started.
func (s *Store) CancelQueuedRun(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET status = 'canceled', finished_at = ? WHERE id = ? AND status = 'queued'`, now(), id)
		if err := expectOne(res, err); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: run %d is not queued", ErrConflict, id)
		} else if err != nil {
			return err
		}
		return audit(ctx, tx, "run.cancel", fmt.Sprintf("run %d", id), map[string]any{"was": "queued"})
	})
}

// RequeueRun queues a failed, canceled or interrupted run again with a new run.json (which
// names the checkpoint to resume from).
func (s *Store) RequeueRun(ctx context.Context, id int64, configJSON string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET status = 'queued', config_json = ?, error = '', finished_at = NULL
			WHERE id = ? AND status IN ('failed', 'canceled', 'interrupted')`, configJSON, id)
		if err := expectOne(res, err); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: run %d is not failed, canceled or interrupted", ErrConflict, id)
		} else if err != nil {
			return err
		}
		return audit(ctx, tx, "run.resume", fmt.Sprintf("run %d", id), nil)
	})
}

// InterruptRunningRuns marks runs left running by a stopped process interrupted; it returns how many.
func (s *Store) InterruptRunningRuns(ctx context.Context) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET status = 'interrupted', finished_at = ?,
			error = 'the app stopped while the run was running; resume it to go on from its last checkpoint'
			WHERE status = 'running'`, now())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
