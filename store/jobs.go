package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Job statuses.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// Sampling is the sampling settings of one answer slot.
type Sampling struct {
	Temperature float64 `json:"temperature"`
	TopP        float64 `json:"top_p"`
	MaxTokens   int     `json:"max_tokens"`
	Seed        *int64  `json:"seed,omitempty"`
}

// Job is a generation job: N answers from one model for each prompt of a filter.
type Job struct {
	ID         int64
	ModelID    int64
	ModelName  string
	RAG        bool // answers with retrieved documentation in front of each prompt
	Filter     PromptFilter
	Params     []Sampling // one per answer slot; len(Params) == N
	N          int
	Status     string
	Total      int // prompts × N
	Done       int // answers stored
	Errors     int
	LastError  string
	Tokens     int
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
}

// Finished reports whether the job will not run again by itself.
func (j Job) Finished() bool {
	return j.Status == JobSucceeded || j.Status == JobFailed || j.Status == JobCancelled
}

// Task is one answer a job still has to write.
type Task struct {
	PromptID   int64
	PromptText string
	Slot       int
}

const jobColumns = `j.id, j.model_id, m.name, j.filter_json, j.params_json, j.n, j.status, j.total, j.errors, j.last_error,
	j.created_at, j.started_at, j.finished_at, j.done, j.tokens, j.rag`

// Label names what answers a job: the model, with "+rag" when retrieval feeds it.
func (j Job) Label() string {
	if j.RAG {
		return j.ModelName + "+rag"
	}
	return j.ModelName
}

// NewJob is what a generation job is made of.
type NewJob struct {
	ModelID int64
	Filter  PromptFilter
	Params  []Sampling // one per answer slot
	UserID  int64      // 0: created from the command line
	RAG     bool
}

// CreateJob stores a queued job for every prompt matching the filter, fixing that prompt set now.
func (s *Store) CreateJob(ctx context.Context, nj NewJob) (Job, error) {
	modelID, f, params := nj.ModelID, nj.Filter, nj.Params
	if len(params) < 1 || len(params) > 4 {
		return Job{}, fmt.Errorf("%w: answers per prompt: %d (want 1 to 4)", ErrInvalid, len(params))
	}
	for i, p := range params {
		if err := p.check(); err != nil {
			return Job{}, fmt.Errorf("%w: answer %d: %v", ErrInvalid, i+1, err)
		}
	}
	f.After, f.Limit = 0, 0
	filterJSON, _ := json.Marshal(f)
	paramsJSON, _ := json.Marshal(params)
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO generation_jobs (model_id, filter_json, params_json, n, status, created_by, created_at, rag)
			VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)`, modelID, string(filterJSON), string(paramsJSON), len(params), nullID(nj.UserID), now(), nj.RAG)
		if err != nil {
			return fmt.Errorf("insert job: %w", err)
		}
		id, _ = res.LastInsertId()
		q := f.query()
		res, err = tx.ExecContext(ctx, `INSERT INTO job_prompts (job_id, prompt_id) SELECT ?, p.id FROM `+q.from+` WHERE `+q.where,
			append([]any{id}, q.args...)...)
		if err != nil {
			return fmt.Errorf("select prompts: %w", err)
		}
		n, _ := res.RowsAffected()
		if n == 0 {
			return fmt.Errorf("%w: no prompt matches the filter", ErrInvalid)
		}
		_, err = tx.ExecContext(ctx, `UPDATE generation_jobs SET total = ? WHERE id = ?`, int(n)*len(params), id)
		return err
	})
	if err != nil {
		return Job{}, err
	}
	return s.Job(ctx, id)
}

func (p Sampling) check() error {
	switch {
	case p.Temperature < 0 || p.Temperature > 2:
		return fmt.Errorf("temperature %.2f is outside 0..2", p.Temperature)
	case p.TopP <= 0 || p.TopP > 1:
		return fmt.Errorf("top_p %.2f is outside (0, 1]", p.TopP)
	case p.MaxTokens < 1 || p.MaxTokens > 32768:
		return fmt.Errorf("max_tokens %d is outside 1..32768", p.MaxTokens)
	}
	return nil
}

// Job returns one job with its progress.
func (s *Store) Job(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(s.read.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM generation_jobs j JOIN models m ON m.id = j.model_id WHERE j.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	return j, err
}

// ListJobs returns the newest jobs first.
func (s *Store) ListJobs(ctx context.Context, limit int) ([]Job, error) {
	return queryAll(ctx, s.read, scanJob, `SELECT `+jobColumns+` FROM generation_jobs j JOIN models m ON m.id = j.model_id ORDER BY j.id DESC LIMIT ?`, limit)
}

func scanJob(row scanner) (Job, error) {
	var j Job
	var filterJSON, paramsJSON, created string
	var started, finished sql.NullString
	err := row.Scan(&j.ID, &j.ModelID, &j.ModelName, &filterJSON, &paramsJSON, &j.N, &j.Status, &j.Total, &j.Errors, &j.LastError,
		&created, &started, &finished, &j.Done, &j.Tokens, &j.RAG)
	if err != nil {
		return Job{}, err
	}
	json.Unmarshal([]byte(filterJSON), &j.Filter)
	json.Unmarshal([]byte(paramsJSON), &j.Params)
	j.CreatedAt = parseTime(created)
	j.StartedAt = parseNullTime(started)
	j.FinishedAt = parseNullTime(finished)
	return j, nil
}

// ClaimNextJob marks the oldest queued job running and returns it; ok is false when none waits.
func (s *Store) ClaimNextJob(ctx context.Context) (job Job, ok bool, err error) {
	var id int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT id FROM generation_jobs WHERE status = 'queued' ORDER BY id LIMIT 1`).Scan(&id)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE generation_jobs SET status = 'running', started_at = coalesce(started_at, ?), finished_at = NULL WHERE id = ?`, now(), id)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, false, nil
	}
	if err != nil {
		return Job{}, false, err
	}
	job, err = s.Job(ctx, id)
	return job, err == nil, err
}

// PendingTasks returns the answers a job has not written yet, in prompt order.
func (s *Store) PendingTasks(ctx context.Context, job Job) ([]Task, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT p.id, p.text FROM job_prompts jp JOIN prompts p ON p.id = jp.prompt_id
		WHERE jp.job_id = ? ORDER BY p.id`, job.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type prompt struct {
		id   int64
		text string
	}
	var prompts []prompt
	for rows.Next() {
		var p prompt
		if err := rows.Scan(&p.id, &p.text); err != nil {
			return nil, err
		}
		prompts = append(prompts, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	done, err := s.doneSlots(ctx, job.ID)
	if err != nil {
		return nil, err
	}
	var tasks []Task
	for _, p := range prompts {
		for slot := range job.N {
			if !done[[2]int64{p.id, int64(slot)}] {
				tasks = append(tasks, Task{PromptID: p.id, PromptText: p.text, Slot: slot})
			}
		}
	}
	return tasks, nil
}

func (s *Store) doneSlots(ctx context.Context, jobID int64) (map[[2]int64]bool, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT prompt_id, slot FROM responses WHERE job_id = ?`, jobID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	done := map[[2]int64]bool{}
	for rows.Next() {
		var k [2]int64
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			return nil, err
		}
		done[k] = true
	}
	return done, rows.Err()
}

// RecordJobError counts a failed answer and keeps its message.
func (s *Store) RecordJobError(ctx context.Context, jobID int64, msg string) error {
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE generation_jobs SET errors = errors + 1, last_error = ? WHERE id = ?`, msg, jobID)
		return err
	})
}

// FinishJob ends a running job with a final status.
func (s *Store) FinishJob(ctx context.Context, jobID int64, status, msg string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE generation_jobs SET status = ?, finished_at = ?,
			last_error = CASE WHEN ? <> '' THEN ? ELSE last_error END WHERE id = ? AND status = 'running'`,
			status, now(), msg, msg, jobID)
		return err
	})
}

// CancelJob stops a queued or running job.
func (s *Store) CancelJob(ctx context.Context, jobID int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE generation_jobs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status IN ('queued', 'running')`, now(), jobID)
		if err := expectOne(res, err); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: job %d is not queued or running", ErrConflict, jobID)
		} else {
			return err
		}
	})
}

// ResumeJob queues a failed or cancelled job again; finished answers are kept.
func (s *Store) ResumeJob(ctx context.Context, jobID int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE generation_jobs SET status = 'queued', finished_at = NULL, errors = 0, last_error = ''
			WHERE id = ? AND status IN ('failed', 'cancelled')`, jobID)
		if err := expectOne(res, err); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: job %d is not failed or cancelled", ErrConflict, jobID)
		} else {
			return err
		}
	})
}

// RequeueRunningJobs puts jobs left running by a stopped process back in the queue.
func (s *Store) RequeueRunningJobs(ctx context.Context) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE generation_jobs SET status = 'queued' WHERE status = 'running'`)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// JobStatus returns just a job's status (cheap, for workers checking for cancellation).
func (s *Store) JobStatus(ctx context.Context, jobID int64) (string, error) {
	var st string
	err := s.read.QueryRowContext(ctx, `SELECT status FROM generation_jobs WHERE id = ?`, jobID).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return st, err
}
