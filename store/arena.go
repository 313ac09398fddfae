package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Arena votes and settings.
const (
	ArenaVoteA       = "a"
	ArenaVoteB       = "b"
	ArenaVoteTie     = "tie"
	ArenaVoteBothBad = "both_bad"
	// ArenaFinishFailed is a side's finish reason when its model failed to answer.
	ArenaFinishFailed = "failed"
	// ArenaOpenCategory is the category of a battle over a question the voter typed.
	ArenaOpenCategory = "open"
	// SettingArenaDailyCap is how many arena votes one voter may cast per day (UTC).
	SettingArenaDailyCap = "arena_daily_cap"
	// DefaultArenaDailyCap is the cap when the setting is missing or not a positive number.
	DefaultArenaDailyCap = 200
)

// ArenaSides are the battle's two sides, as named in paths and columns.
var arenaSides = [2]string{"a", "b"}

// ArenaBattle is one blind battle of two models over one question.
type ArenaBattle struct {
	ID       int64
	UserID   int64 // the voter: the user who started the battle
	Question string
	PromptID int64 // 0 for a typed question
	Category string
	Models   [2]string // side A and side B; the page hides them until the vote
	Answers  [2]string
	Done     [2]bool // the side's answer is stored (finished or failed)
	Finish   [2]string
	Tokens   [2]int
	Vote     string // "" until voted
	VotedAt  time.Time
	Dropped  string // why the vote does not count; "" when it counts
	Created  time.Time
}

// Ready reports whether both answers finished without failing, so the battle can be voted.
func (b ArenaBattle) Ready() bool {
	return b.Done[0] && b.Done[1] && b.Finish[0] != ArenaFinishFailed && b.Finish[1] != ArenaFinishFailed
}

// ArenaBattleInput starts a battle.
type ArenaBattleInput struct {
	UserID   int64
	Question string
	PromptID int64
	Category string
	Models   [2]string
}

// ArenaAnswer is one side's finished answer.
type ArenaAnswer struct {
	Text   string
	Finish string
	Tokens int
}

// ArenaVote is one counted vote as the leaderboard reads it.
type ArenaVote struct {
	ModelA, ModelB string
	Vote           string
	Category       string
}

const arenaColumns = `id, user_id, question, coalesce(prompt_id, 0), category, model_a, model_b,
	answer_a, answer_b, finish_a, finish_b, tokens_a, tokens_b, coalesce(vote, ''), voted_at, dropped, created_at`

func scanArenaBattle(row scanner) (ArenaBattle, error) {
	var b ArenaBattle
	var ans [2]sql.NullString
	var voted sql.NullString
	var created string
	err := row.Scan(&b.ID, &b.UserID, &b.Question, &b.PromptID, &b.Category, &b.Models[0], &b.Models[1],
		&ans[0], &ans[1], &b.Finish[0], &b.Finish[1], &b.Tokens[0], &b.Tokens[1], &b.Vote, &voted, &b.Dropped, &created)
	for i, a := range ans {
		b.Answers[i], b.Done[i] = a.String, a.Valid
	}
	b.VotedAt, b.Created = parseNullTime(voted), parseTime(created)
	return b, err
}

// CreateArenaBattle stores a new battle; its answers come later.
func (s *Store) CreateArenaBattle(ctx context.Context, in ArenaBattleInput) (ArenaBattle, error) {
	question, err := cleanQuestion(in.Question)
	if err != nil {
		return ArenaBattle{}, err
	}
	if in.Models[0] == "" || in.Models[1] == "" || in.Models[0] == in.Models[1] {
		return ArenaBattle{}, fmt.Errorf("%w: models: a battle needs two different models, not %q and %q", ErrInvalid, in.Models[0], in.Models[1])
	}
	category := strings.TrimSpace(in.Category)
	if category == "" {
		category = ArenaOpenCategory
	}
	var prompt any
	if in.PromptID != 0 {
		prompt = in.PromptID
	}
	var id int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO arena_battles (user_id, question, prompt_id, category, model_a, model_b, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, in.UserID, question, prompt, category, in.Models[0], in.Models[1], now())
		if err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
			return fmt.Errorf("%w: arena battle: no user %d or prompt %d", ErrInvalid, in.UserID, in.PromptID)
		}
		if err != nil {
			return fmt.Errorf("insert arena battle of user %d: %w", in.UserID, err)
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return ArenaBattle{}, err
	}
	return s.arenaBattle(ctx, s.write, id)
}

// UserArenaBattle returns the user's battle; another user's is ErrNotFound, as if it did not exist.
func (s *Store) UserArenaBattle(ctx context.Context, userID, id int64) (ArenaBattle, error) {
	b, err := s.arenaBattle(ctx, s.read, id)
	if err != nil {
		return ArenaBattle{}, err
	}
	if b.UserID != userID {
		return ArenaBattle{}, fmt.Errorf("arena battle %d: %w", id, ErrNotFound)
	}
	return b, nil
}

func (s *Store) arenaBattle(ctx context.Context, db querier, id int64) (ArenaBattle, error) {
	list, err := queryAll(ctx, db, scanArenaBattle, `SELECT `+arenaColumns+` FROM arena_battles WHERE id = ?`, id)
	if err != nil {
		return ArenaBattle{}, fmt.Errorf("read arena battle %d: %w", id, err)
	}
	if len(list) == 0 {
		return ArenaBattle{}, fmt.Errorf("arena battle %d: %w", id, ErrNotFound)
	}
	return list[0], nil
}

// AnswerArena stores one side's answer (side 0 is A, 1 is B). A side keeps its first stored
// answer: a second one is ErrConflict.
func (s *Store) AnswerArena(ctx context.Context, id int64, side int, a ArenaAnswer) error {
	if side < 0 || side > 1 {
		return fmt.Errorf("%w: arena battle %d: side %d (want 0 or 1)", ErrInvalid, id, side)
	}
	col := arenaSides[side]
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE arena_battles SET answer_`+col+` = ?, finish_`+col+` = ?, tokens_`+col+` = ?
			WHERE id = ? AND answer_`+col+` IS NULL`, a.Text, a.Finish, a.Tokens, id)
		if err != nil {
			return fmt.Errorf("store answer %s of arena battle %d: %w", col, id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := s.arenaBattle(ctx, tx, id); err != nil {
				return err
			}
			return fmt.Errorf("%w: arena battle %d: side %s is already answered", ErrConflict, id, strings.ToUpper(col))
		}
		return nil
	})
}

// ArenaVoteInput is a voter's verdict on a battle. Dropped, when set, is why the vote will not
// count (the handler checks the answers for model names).
type ArenaVoteInput struct {
	BattleID int64
	UserID   int64
	Vote     string
	Dropped  string
	DailyCap int
}

// VoteArena records the battle's one vote. It is ErrNotFound for another user's battle, ErrConflict
// when an answer is missing or failed, when the battle has its vote, or when the voter has cast
// DailyCap votes today (UTC).
func (s *Store) VoteArena(ctx context.Context, in ArenaVoteInput) (ArenaBattle, error) {
	switch in.Vote {
	case ArenaVoteA, ArenaVoteB, ArenaVoteTie, ArenaVoteBothBad:
	default:
		return ArenaBattle{}, fmt.Errorf("%w: vote: %q is not one of a, b, tie, both_bad", ErrInvalid, in.Vote)
	}
	var out ArenaBattle
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		b, err := s.arenaBattle(ctx, tx, in.BattleID)
		if err != nil {
			return err
		}
		if b.UserID != in.UserID {
			return fmt.Errorf("arena battle %d: %w", in.BattleID, ErrNotFound)
		}
		switch {
		case b.Vote != "":
			return fmt.Errorf("%w: arena battle %d already has your vote", ErrConflict, b.ID)
		case !b.Done[0] || !b.Done[1]:
			return fmt.Errorf("%w: arena battle %d: vote once both answers have finished", ErrConflict, b.ID)
		case !b.Ready():
			return fmt.Errorf("%w: arena battle %d: a model failed to answer; start a new battle", ErrConflict, b.ID)
		}
		if err := checkArenaCap(ctx, tx, in.UserID, in.DailyCap); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE arena_battles SET vote = ?, voted_at = ?, dropped = ? WHERE id = ?`,
			in.Vote, now(), in.Dropped, b.ID); err != nil {
			return fmt.Errorf("vote on arena battle %d: %w", b.ID, err)
		}
		out, err = s.arenaBattle(ctx, tx, b.ID)
		return err
	})
	return out, err
}

// arenaCapError is the voter's daily cap, reached.
func arenaCapError(cap int) error {
	return fmt.Errorf("%w: you have cast today's %d arena votes (the daily cap); voting opens again at midnight UTC", ErrConflict, cap)
}

func checkArenaCap(ctx context.Context, tx *sql.Tx, userID int64, cap int) error {
	n, err := arenaVotesSince(ctx, tx, userID, startOfDay(time.Now()))
	if err != nil {
		return err
	}
	if cap > 0 && n >= cap {
		return arenaCapError(cap)
	}
	return nil
}

func startOfDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func arenaVotesSince(ctx context.Context, db querier, userID int64, since time.Time) (int, error) {
	n, err := queryAll(ctx, db, scanValue[int], `SELECT count(*) FROM arena_battles
		WHERE user_id = ? AND vote IS NOT NULL AND voted_at >= ?`, userID, formatTime(since))
	if err != nil {
		return 0, fmt.Errorf("count arena votes of user %d: %w", userID, err)
	}
	return n[0], nil
}

// ArenaVotesToday counts the user's votes since midnight UTC.
func (s *Store) ArenaVotesToday(ctx context.Context, userID int64) (int, error) {
	return arenaVotesSince(ctx, s.read, userID, startOfDay(time.Now()))
}

// CheckArenaCap is ErrConflict, with a message for the voter, when the user has cast the day's
// votes; a battle is then not started.
func (s *Store) CheckArenaCap(ctx context.Context, userID int64, cap int) error {
	n, err := s.ArenaVotesToday(ctx, userID)
	if err != nil {
		return err
	}
	if cap > 0 && n >= cap {
		return arenaCapError(cap)
	}
	return nil
}

// ArenaDailyCap is the setting's value: votes per voter per day (DefaultArenaDailyCap when unset).
func (s *Store) ArenaDailyCap(ctx context.Context) (int, error) {
	v, err := s.Setting(ctx, SettingArenaDailyCap, strconv.Itoa(DefaultArenaDailyCap))
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return DefaultArenaDailyCap, nil
	}
	return n, nil
}

// ArenaVotes returns the counted votes (voted, not dropped) in the order they were cast; category
// "" means every category.
func (s *Store) ArenaVotes(ctx context.Context, category string) ([]ArenaVote, error) {
	q := `SELECT model_a, model_b, vote, category FROM arena_battles WHERE vote IS NOT NULL AND dropped = ''`
	var args []any
	if category != "" {
		q += ` AND category = ?`
		args = append(args, category)
	}
	votes, err := queryAll(ctx, s.read, func(row scanner) (ArenaVote, error) {
		var v ArenaVote
		err := row.Scan(&v.ModelA, &v.ModelB, &v.Vote, &v.Category)
		return v, err
	}, q+` ORDER BY voted_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read arena votes: %w", err)
	}
	return votes, nil
}

// ArenaCategories lists the categories of counted votes, sorted.
func (s *Store) ArenaCategories(ctx context.Context) ([]string, error) {
	cats, err := queryAll(ctx, s.read, scanValue[string], `SELECT DISTINCT category FROM arena_battles
		WHERE vote IS NOT NULL AND dropped = '' ORDER BY category`)
	if err != nil {
		return nil, fmt.Errorf("arena categories: %w", err)
	}
	return cats, nil
}

// ArenaDroppedCount counts voted battles that do not count.
// ArenaVotesStamp changes whenever the counted votes of the category (all categories when empty) do:
// their number, the newest battle and vote time; a vote is never changed once cast.
func (s *Store) ArenaVotesStamp(ctx context.Context, category string) (string, error) {
	q := `SELECT count(*) || '/' || coalesce(max(id), 0) || '/' || coalesce(max(voted_at), '') FROM arena_battles
		WHERE vote IS NOT NULL AND dropped = ''`
	var args []any
	if category != "" {
		q += ` AND category = ?`
		args = append(args, category)
	}
	stamps, err := queryAll(ctx, s.read, scanValue[string], q, args...)
	if err != nil {
		return "", fmt.Errorf("read the arena votes' stamp: %w", err)
	}
	return stamps[0], nil
}

func (s *Store) ArenaDroppedCount(ctx context.Context) (int, error) {
	n, err := queryAll(ctx, s.read, scanValue[int], `SELECT count(*) FROM arena_battles WHERE vote IS NOT NULL AND dropped <> ''`)
	if err != nil {
		return 0, fmt.Errorf("count dropped arena battles: %w", err)
	}
	return n[0], nil
}

// ArenaPrompt is a held-out prompt for a battle.
type ArenaPrompt struct {
	ID       int64
	Text     string
	Category string
}

// RandomHeldoutPrompt picks a held-out prompt at random; ErrNotFound when there is none.
func (s *Store) RandomHeldoutPrompt(ctx context.Context) (ArenaPrompt, error) {
	list, err := queryAll(ctx, s.read, func(row scanner) (ArenaPrompt, error) {
		var p ArenaPrompt
		err := row.Scan(&p.ID, &p.Text, &p.Category)
		return p, err
	}, `SELECT id, text, category FROM prompts WHERE split = 'heldout' ORDER BY id
		LIMIT 1 OFFSET abs(random()) % max(1, (SELECT count(*) FROM prompts WHERE split = 'heldout'))`)
	if err != nil {
		return ArenaPrompt{}, fmt.Errorf("sample a held-out prompt: %w", err)
	}
	if len(list) == 0 {
		return ArenaPrompt{}, fmt.Errorf("%w: no held-out prompts to sample; type a question or mark prompts held out", ErrNotFound)
	}
	return list[0], nil
}
