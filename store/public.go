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

// VisitorTTL is how long a visitor's cookie lives from its first visit. The visitors row is made at
// or after that visit, so a row created more than VisitorTTL ago belongs to an expired cookie.
const VisitorTTL = 30 * 24 * time.Hour

// pruneVisitorBatch is how many visitors one transaction of PruneVisitors deletes, so the single
// writer is never held for long.
const pruneVisitorBatch = 500

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

// VisitorPrune counts what PruneVisitors forgot.
type VisitorPrune struct {
	Visitors int // visitors whose token and address were forgotten
	Chats    int // their chats, each with its turns, checks and share links
}

// expiredVisitor starts the token_hash of a pruned visitor's row; a sha256 in hex never does, so no
// token finds the row again.
const expiredVisitor = "expired "

// PruneVisitors forgets every visitor whose row was created before cutoff (now − VisitorTTL: their
// cookie has expired, so nobody can reach them), a batch of visitors per transaction: their chats
// are deleted and their visitors row keeps neither token hash nor address. The row itself stays, as
// the mark that CountUsers and ListUsers leave the users row out by; the users row stays too, and
// with it the visitor's arena battles and votes, so the leaderboard does not change. A token
// presented again afterwards is a new visitor's.
func (s *Store) PruneVisitors(ctx context.Context, cutoff time.Time) (VisitorPrune, error) {
	var total VisitorPrune
	for {
		n, more, err := s.pruneVisitorBatch(ctx, cutoff, pruneVisitorBatch)
		total.Visitors += n.Visitors
		total.Chats += n.Chats
		if err != nil || !more {
			return total, err
		}
	}
}

// pruneVisitorBatch forgets, in one transaction, up to limit visitors created before cutoff; more
// is true when it found limit of them, so more may wait. They are found on a reading connection,
// so the scan of the visitors table does not hold the writer.
func (s *Store) pruneVisitorBatch(ctx context.Context, cutoff time.Time, limit int) (n VisitorPrune, more bool, err error) {
	found, err := queryAll(ctx, s.read, scanValue[int64], `SELECT user_id FROM visitors
		WHERE created_at < ? AND token_hash NOT LIKE ? ORDER BY user_id LIMIT ?`, formatTime(cutoff), expiredVisitor+"%", limit)
	if err != nil {
		return VisitorPrune{}, false, fmt.Errorf("read visitors created before %s: %w", formatTime(cutoff), err)
	}
	if len(found) == 0 {
		return VisitorPrune{}, false, nil
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		in, args := inList(found)
		// Another prune may have forgotten some of them meanwhile.
		users, err := queryAll(ctx, tx, scanValue[int64], `SELECT user_id FROM visitors WHERE user_id IN `+in+`
			AND token_hash NOT LIKE ?`, append(args, expiredVisitor+"%")...)
		if err != nil || len(users) == 0 {
			return err
		}
		chats, err := deleteVisitorChats(ctx, tx, users)
		if err != nil {
			return err
		}
		if err := forgetVisitors(ctx, tx, users); err != nil {
			return err
		}
		n = VisitorPrune{Visitors: len(users), Chats: chats}
		return nil
	})
	if err != nil {
		return VisitorPrune{}, false, err
	}
	return n, len(found) == limit, nil
}

// deleteVisitorChats deletes the chats of users (their turns and checks go with them by cascade)
// and the share links of those chats, and returns how many chats it deleted.
func deleteVisitorChats(ctx context.Context, tx *sql.Tx, users []int64) (int, error) {
	in, args := inList(users)
	if _, err := tx.ExecContext(ctx, `DELETE FROM shares WHERE kind = 'chat' AND target IN
		(SELECT CAST(id AS TEXT) FROM chats WHERE user_id IN `+in+`)`, args...); err != nil {
		return 0, fmt.Errorf("delete the share links of the chats of %d expired visitors: %w", len(users), err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM chats WHERE user_id IN `+in, args...)
	if err != nil {
		return 0, fmt.Errorf("delete the chats of %d expired visitors: %w", len(users), err)
	}
	n, err := res.RowsAffected() // cascaded turns and checks are not counted
	return int(n), err
}

// forgetVisitors drops the token hash and address from the visitors rows of users, and renames
// their users rows, whose names came from the token hash, so that the token can start anew.
func forgetVisitors(ctx context.Context, tx *sql.Tx, users []int64) error {
	in, args := inList(users)
	if _, err := tx.ExecContext(ctx, `UPDATE visitors SET token_hash = ? || user_id, ip = '' WHERE user_id IN `+in,
		append([]any{expiredVisitor}, args...)...); err != nil {
		return fmt.Errorf("forget %d expired visitors: %w", len(users), err)
	}
	// '<' keeps the name apart from people's, and "expired" from the names CreateVisitor gives.
	if _, err := tx.ExecContext(ctx, `UPDATE users SET name = '<expired visitor ' || id || '>' WHERE id IN `+in, args...); err != nil {
		return fmt.Errorf("rename the users rows of %d expired visitors: %w", len(users), err)
	}
	return nil
}

// inList is "(?,?,…)" for ids, with ids as its arguments.
func inList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "(" + placeholders(len(ids)) + ")", args
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
