package store

import (
	"context"
	"slices"
)

// SharedItemLabels returns the people's labels of every comparison that at least two people
// labelled, ordered by comparison and annotator name. Machine suggestions nobody confirmed are
// left out, since agreement is measured between people.
func (s *Store) SharedItemLabels(ctx context.Context) ([]Label, error) {
	return queryAll(ctx, s.read, scanLabel, `SELECT `+labelColumns+` FROM labels l JOIN prompts p ON p.id = l.prompt_id
		JOIN users u ON u.id = l.annotator_id
		WHERE l.suggested_by = '' AND (SELECT count(*) FROM labels o
			WHERE o.job_id = l.job_id AND o.prompt_id = l.prompt_id AND o.suggested_by = '') >= 2
		ORDER BY l.job_id, l.prompt_id, u.name`)
}

// slotQueryChunk keeps each IN list far below SQLite's limit on bound parameters.
const slotQueryChunk = 500

// ResponseSlots returns the slot (0 for the first answer of a comparison) of each answer id
// that exists; unknown ids are absent from the map.
func (s *Store) ResponseSlots(ctx context.Context, ids []int64) (map[int64]int, error) {
	out := make(map[int64]int, len(ids))
	for chunk := range slices.Chunk(ids, slotQueryChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := s.read.QueryContext(ctx, `SELECT id, slot FROM responses WHERE id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			var slot int
			if err := rows.Scan(&id, &slot); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = slot
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
