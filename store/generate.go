package store

import (
	"context"
	"fmt"
)

// promptExcerptChars is how much of a prompt a job's answer list shows.
const promptExcerptChars = 160

// JobAnswer is one stored answer of a job with the start of the prompt it answers.
type JobAnswer struct {
	Response
	PromptExcerpt string
}

// LatestJobAnswers returns a job's answers, newest first, at most limit of them.
func (s *Store) LatestJobAnswers(ctx context.Context, jobID int64, limit int) ([]JobAnswer, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+responseColumns+`, substr(p.text, 1, ?)
		FROM responses r JOIN models m ON m.id = r.model_id JOIN prompts p ON p.id = r.prompt_id
		WHERE r.job_id = ? ORDER BY r.id DESC LIMIT ?`, promptExcerptChars, jobID, limit)
	if err != nil {
		return nil, fmt.Errorf("answers of job %d: %w", jobID, err)
	}
	defer rows.Close()
	var out []JobAnswer
	for rows.Next() {
		var a JobAnswer
		a.Response, err = scanResponse(withExtra{rows, []any{&a.PromptExcerpt}})
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// withExtra scans the columns a scan function knows and then a few more after them.
type withExtra struct {
	row   scanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error {
	return w.row.Scan(append(dest, w.extra...)...)
}
