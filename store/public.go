package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// visitorPasswordHash marks the users row of an anonymous visitor: it is not a bcrypt hash, so no
// password matches it and nobody logs in as a visitor.
const visitorPasswordHash = "!visitor"

// VisitorUser returns the id of the users row that owns the chats and battles of the visitor whose
// cookie holds token; ErrNotFound while the visitor has changed nothing yet.
func (s *Store) VisitorUser(ctx context.Context, token string) (int64, error) {
	ids, err := queryAll(ctx, s.read, scanValue[int64], `SELECT user_id FROM visitors WHERE token_hash = ?`, hashToken(token))
	if err != nil {
		return 0, fmt.Errorf("read visitor: %w", err)
	}
	if len(ids) == 0 {
		return 0, fmt.Errorf("visitor: %w", ErrNotFound)
	}
	return ids[0], nil
}

// CreateVisitor gives the visitor whose cookie holds token a users row of its own (role viewer, no
// password) and records the address it came from; it returns the row's id. A visitor that has one
// already (two first requests at once) gets the existing id.
func (s *Store) CreateVisitor(ctx context.Context, token, ip string) (int64, error) {
	if strings.TrimSpace(token) == "" {
		return 0, fmt.Errorf("%w: visitor: empty token", ErrInvalid)
	}
	hash := hashToken(token)
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT user_id FROM visitors WHERE token_hash = ?`, hash).Scan(&id)
		if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// '<' cannot be part of a person's user name, so the name never collides with one.
		res, err := tx.ExecContext(ctx, `INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)`,
			"<visitor "+hash[:16]+">", visitorPasswordHash, RoleViewer, now())
		if err != nil {
			return fmt.Errorf("insert the user of a visitor: %w", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO visitors (user_id, token_hash, ip, created_at) VALUES (?, ?, ?, ?)`,
			id, hash, ip, now()); err != nil {
			return fmt.Errorf("insert visitor %d: %w", id, err)
		}
		return nil
	})
	return id, err
}

// VisitorArenaVotesToday counts the arena votes cast since midnight UTC by every visitor that came
// from ip.
func (s *Store) VisitorArenaVotesToday(ctx context.Context, ip string) (int, error) {
	n, err := queryAll(ctx, s.read, scanValue[int], `SELECT count(*) FROM arena_battles
		WHERE user_id IN (SELECT user_id FROM visitors WHERE ip = ?) AND vote IS NOT NULL AND voted_at >= ?`,
		ip, formatTime(startOfDay(time.Now())))
	if err != nil {
		return 0, fmt.Errorf("count arena votes of visitors from %s: %w", ip, err)
	}
	return n[0], nil
}

// CheckVisitorArenaCap is ErrConflict, with a message for the voter, when the visitors of ip have
// cast the day's votes together.
func (s *Store) CheckVisitorArenaCap(ctx context.Context, ip string, cap int) error {
	n, err := s.VisitorArenaVotesToday(ctx, ip)
	if err != nil {
		return err
	}
	if cap > 0 && n >= cap {
		return arenaCapError(cap)
	}
	return nil
}

// ModelOrigin is how a registered model was made, as far as the registry knows: the training run
// that produced it and the dataset snapshot it was trained on (zero values when unknown).
type ModelOrigin struct {
	RunID       int64
	RunKind     string // sft | dpo
	DatasetID   int64
	DatasetKind string
	DatasetRows int
}

// ModelOrigins returns the origin of every registered model by model id: the latest done run whose
// output it is, and the model's dataset (else that run's).
func (s *Store) ModelOrigins(ctx context.Context) (map[int64]ModelOrigin, error) {
	type row struct {
		model int64
		o     ModelOrigin
	}
	rows, err := queryAll(ctx, s.read, func(sc scanner) (row, error) {
		var r row
		err := sc.Scan(&r.model, &r.o.RunID, &r.o.RunKind, &r.o.DatasetID, &r.o.DatasetKind, &r.o.DatasetRows)
		return r, err
	}, `SELECT m.id, coalesce(r.id, 0), coalesce(r.kind, ''), coalesce(d.id, 0), coalesce(d.kind, ''), coalesce(d.rows, 0)
		FROM models m
		LEFT JOIN runs r ON r.id = (SELECT max(id) FROM runs WHERE output_model_id = m.id AND status = 'done')
		LEFT JOIN datasets d ON d.id = coalesce(m.dataset_id, r.dataset_id)`)
	if err != nil {
		return nil, fmt.Errorf("read model origins: %w", err)
	}
	out := make(map[int64]ModelOrigin, len(rows))
	for _, r := range rows {
		out[r.model] = r.o
	}
	return out, nil
}
