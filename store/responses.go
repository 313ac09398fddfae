package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"
)

// Response is one answer a model wrote to a prompt.
type Response struct {
	ID           int64
	PromptID     int64
	ModelID      int64
	ModelName    string
	JobID        int64
	Slot         int
	Params       Sampling
	Text         string
	Tokens       int
	LatencyMS    int64
	FinishReason string
	CreatedAt    time.Time
}

// SaveResponse stores an answer once; a second answer for the same job, prompt and slot is ignored.
func (s *Store) SaveResponse(ctx context.Context, r Response) error {
	params, _ := json.Marshal(r.Params)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO responses (prompt_id, model_id, job_id, slot, params_json, text, tokens, latency_ms, finish_reason, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, prompt_id, slot) DO NOTHING`,
			r.PromptID, r.ModelID, r.JobID, r.Slot, string(params), r.Text, r.Tokens, r.LatencyMS, r.FinishReason, now())
		return err
	})
	s.answerIDs.forget(Item{JobID: r.JobID, PromptID: r.PromptID})
	return err
}

const responseColumns = `r.id, r.prompt_id, r.model_id, m.name, r.job_id, r.slot, r.params_json, r.text, r.tokens, r.latency_ms, r.finish_reason, r.created_at`

// ItemResponses returns the answers of one comparison (a prompt's answers from one job) by slot.
func (s *Store) ItemResponses(ctx context.Context, jobID, promptID int64) ([]Response, error) {
	return queryAll(ctx, s.read, scanResponse, `SELECT `+responseColumns+` FROM responses r JOIN models m ON m.id = r.model_id
		WHERE r.job_id = ? AND r.prompt_id = ? ORDER BY r.slot`, jobID, promptID)
}

func scanResponse(row scanner) (Response, error) {
	var r Response
	var params, created string
	var jobID sql.NullInt64
	err := row.Scan(&r.ID, &r.PromptID, &r.ModelID, &r.ModelName, &jobID, &r.Slot, &params, &r.Text, &r.Tokens, &r.LatencyMS, &r.FinishReason, &created)
	r.JobID = jobID.Int64
	json.Unmarshal([]byte(params), &r.Params)
	r.CreatedAt = parseTime(created)
	return r, err
}
