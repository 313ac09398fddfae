package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of side-by-side chats.
const (
	// MaxChatColumns is how many models one chat compares.
	MaxChatColumns = 3
	// MaxChatQuestionBytes bounds one question.
	MaxChatQuestionBytes = 32 << 10
	chatTitleRunes       = 80
)

// Chat roles.
const (
	ChatRoleUser      = "user"
	ChatRoleAssistant = "assistant"
)

// Chat is one side-by-side conversation of a user: every question goes to each of its columns.
type Chat struct {
	ID         int64
	UserID     int64
	Title      string
	ShareToken string // empty until the chat is shared
	CreatedAt  time.Time
}

// ChatTurn is one message of one column.
type ChatTurn struct {
	ChatID       int64
	Seq          int64
	Column       int
	ModelID      int64  // 0 when the model was deleted
	ModelName    string // empty when the model was deleted
	Role         string
	Content      string
	FinishReason string       // assistant turns: stop, length, stopped
	Tokens       int          // assistant turns: completion tokens as the model counted them
	RAG          bool         // user turns: the column answers with retrieved documentation
	Sources      string       // answers of such columns: the sources the model was given (JSON)
	Sampling     ChatSampling // answers: the settings they were written with; zero when not recorded
	Check        *Check       // answers: the compiler's stored verdict; nil until checked
	CreatedAt    time.Time
}

// ChatSampling is how a column's answer was sampled. The zero value means not recorded (answers
// stored before the settings were).
type ChatSampling struct {
	Temperature float64
	TopP        float64 // 1 keeps every token
	MaxTokens   int
}

// Recorded reports whether the settings were stored with the answer.
func (p ChatSampling) Recorded() bool { return p.MaxTokens > 0 }

// ChatAnswer is a finished (or stopped) answer of one column.
type ChatAnswer struct {
	Content      string
	FinishReason string
	Tokens       int
	RAG          bool         // user turns: the column answers with retrieved documentation
	Sources      string       // answers of such columns: the sources given to the model (JSON)
	Sampling     ChatSampling // answers: the settings used
}

// ChatColumnSpec is one column of a new chat: its model and whether it retrieves documentation.
type ChatColumnSpec struct {
	ModelID int64
	RAG     bool
}

const chatColumns = `id, user_id, title, coalesce(share_token, ''), created_at`

const chatTurnColumns = `t.chat_id, t.seq, t."column", coalesce(t.model_id, 0), coalesce(m.name, ''), t.role, t.content,
	t.finish_reason, t.tokens, t.rag, t.sources, coalesce(t.temperature, 0), coalesce(t.top_p, 0), coalesce(t.max_tokens, 0),
	c.seq IS NOT NULL, coalesce(c.code_hash, ''), coalesce(c.has_code, 0), coalesce(c.compiles, 0), coalesce(c.errors, 0),
	coalesce(c.warnings, 0), coalesce(c.lints, -1), coalesce(c.first_error, ''), coalesce(c.timed_out, 0), t.created_at`

const chatTurnFrom = ` FROM chat_turns t LEFT JOIN models m ON m.id = t.model_id
	LEFT JOIN chat_checks c ON c.chat_id = t.chat_id AND c.seq = t.seq`

// CreateChat starts a chat of the user with one column per model (1 to MaxChatColumns) and puts the
// question to each column. The chat's title is the question's first line.
func (s *Store) CreateChat(ctx context.Context, userID int64, question string, modelIDs []int64) (Chat, error) {
	cols := make([]ChatColumnSpec, len(modelIDs))
	for i, id := range modelIDs {
		cols[i] = ChatColumnSpec{ModelID: id}
	}
	return s.CreateChatColumns(ctx, userID, question, cols)
}

// CreateChatColumns is CreateChat with columns that may retrieve documentation.
func (s *Store) CreateChatColumns(ctx context.Context, userID int64, question string, cols []ChatColumnSpec) (Chat, error) {
	question, err := cleanQuestion(question)
	if err != nil {
		return Chat{}, err
	}
	if len(cols) < 1 || len(cols) > MaxChatColumns {
		return Chat{}, fmt.Errorf("%w: columns: choose 1 to %d models, not %d", ErrInvalid, MaxChatColumns, len(cols))
	}
	var id int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO chats (user_id, title, created_at) VALUES (?, ?, ?)`,
			userID, chatTitle(question), now())
		if err != nil {
			return fmt.Errorf("insert chat of user %d: %w", userID, err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		for col, c := range cols {
			if err := insertChatTurn(ctx, tx, id, col, c.ModelID, ChatRoleUser, ChatAnswer{Content: question, RAG: c.RAG}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Chat{}, err
	}
	return s.chat(ctx, s.write, `id = ?`, id)
}

// AskChat puts a follow-up question to every column of the chat, each column keeping its model.
func (s *Store) AskChat(ctx context.Context, chatID int64, question string) error {
	question, err := cleanQuestion(question)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		models, err := columnModels(ctx, tx, chatID)
		if err != nil {
			return err
		}
		for col, c := range models {
			if err := insertChatTurn(ctx, tx, chatID, col, c.ModelID, ChatRoleUser, ChatAnswer{Content: question, RAG: c.RAG}); err != nil {
				return err
			}
		}
		return nil
	})
}

// columnModels returns the model (0 for a deleted model) and retrieval setting of each column of a
// chat, by column.
func columnModels(ctx context.Context, tx *sql.Tx, chatID int64) ([]ChatColumnSpec, error) {
	// SQLite takes the bare model_id and rag from the row that holds min(seq): the column's first question.
	rows, err := tx.QueryContext(ctx, `SELECT "column", coalesce(model_id, 0), rag, min(seq) FROM chat_turns
		WHERE chat_id = ? AND role = 'user' GROUP BY "column" ORDER BY "column"`, chatID)
	if err != nil {
		return nil, fmt.Errorf("columns of chat %d: %w", chatID, err)
	}
	defer rows.Close()
	var models []ChatColumnSpec
	for rows.Next() {
		var col int
		var c ChatColumnSpec
		var first int64
		if err := rows.Scan(&col, &c.ModelID, &c.RAG, &first); err != nil {
			return nil, err
		}
		models = append(models, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(models) == 0 {
		return nil, fmt.Errorf("chat %d: %w", chatID, ErrNotFound)
	}
	return models, nil
}

func insertChatTurn(ctx context.Context, tx *sql.Tx, chatID int64, col int, modelID int64, role string, a ChatAnswer) error {
	var model any
	if modelID != 0 {
		model = modelID
	}
	var temperature, topP, maxTokens any // NULL: not recorded
	if a.Sampling.Recorded() {
		temperature, topP, maxTokens = a.Sampling.Temperature, a.Sampling.TopP, a.Sampling.MaxTokens
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO chat_turns (chat_id, seq, "column", model_id, role, content, finish_reason, tokens,
		rag, sources, temperature, top_p, max_tokens, created_at)
		VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM chat_turns WHERE chat_id = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		chatID, chatID, col, model, role, a.Content, a.FinishReason, a.Tokens, a.RAG, a.Sources, temperature, topP, maxTokens, now())
	if err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
		return fmt.Errorf("%w: column %d: no model with id %d", ErrInvalid, col+1, modelID)
	}
	if err != nil {
		return fmt.Errorf("insert turn of chat %d column %d: %w", chatID, col, err)
	}
	return nil
}

func cleanQuestion(q string) (string, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return "", fmt.Errorf("%w: question: empty", ErrInvalid)
	}
	if len(q) > MaxChatQuestionBytes || !utf8.ValidString(q) {
		return "", fmt.Errorf("%w: question: at most %d bytes of UTF-8 text", ErrInvalid, MaxChatQuestionBytes)
	}
	return q, nil
}

// chatTitle is the question's first line, cut to chatTitleRunes characters.
func chatTitle(question string) string {
	line, _, _ := strings.Cut(question, "\n")
	line = strings.TrimSpace(line)
	if utf8.RuneCountInString(line) <= chatTitleRunes {
		return line
	}
	return string([]rune(line)[:chatTitleRunes-1]) + "…"
}

// AnswerChat stores a column's answer to its user turn userSeq, replacing an earlier answer to it.
// It is ErrConflict when the column has a newer question, ErrNotFound when userSeq is not the
// column's user turn.
func (s *Store) AnswerChat(ctx context.Context, chatID int64, col int, userSeq int64, a ChatAnswer) (ChatTurn, error) {
	var turn ChatTurn
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var modelID int64
		err := tx.QueryRowContext(ctx, `SELECT coalesce(model_id, 0) FROM chat_turns
			WHERE chat_id = ? AND "column" = ? AND seq = ? AND role = 'user'`, chatID, col, userSeq).Scan(&modelID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("chat %d column %d: question %d: %w", chatID, col, userSeq, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read question %d of chat %d: %w", userSeq, chatID, err)
		}
		var newer int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM chat_turns WHERE chat_id = ? AND "column" = ? AND seq > ? AND role = 'user'`,
			chatID, col, userSeq).Scan(&newer); err != nil {
			return err
		}
		if newer > 0 {
			return fmt.Errorf("%w: chat %d column %d has a newer question", ErrConflict, chatID, col)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM chat_turns WHERE chat_id = ? AND "column" = ? AND seq > ?`, chatID, col, userSeq); err != nil {
			return fmt.Errorf("drop old answer of chat %d column %d: %w", chatID, col, err)
		}
		if err := insertChatTurn(ctx, tx, chatID, col, modelID, ChatRoleAssistant, a); err != nil {
			return err
		}
		turn, err = scanChatTurn(tx.QueryRowContext(ctx, `SELECT `+chatTurnColumns+chatTurnFrom+
			` WHERE t.chat_id = ? ORDER BY t.seq DESC LIMIT 1`, chatID))
		return err
	})
	return turn, err
}

// DropChatAnswer deletes a column's last answer when it is the column's last turn, so the column's
// last question can be answered again. A column whose last turn is a question is left as it is.
func (s *Store) DropChatAnswer(ctx context.Context, chatID int64, col int) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM chat_turns WHERE chat_id = ? AND role = 'assistant' AND seq = (
			SELECT max(seq) FROM chat_turns WHERE chat_id = ? AND "column" = ?)`, chatID, chatID, col)
		if err != nil {
			return fmt.Errorf("drop last answer of chat %d column %d: %w", chatID, col, err)
		}
		return nil
	})
}

// ChatTurns returns every turn of a chat in seq order.
func (s *Store) ChatTurns(ctx context.Context, chatID int64) ([]ChatTurn, error) {
	turns, err := queryAll(ctx, s.read, scanChatTurn, `SELECT `+chatTurnColumns+chatTurnFrom+` WHERE t.chat_id = ? ORDER BY t.seq`, chatID)
	if err != nil {
		return nil, fmt.Errorf("turns of chat %d: %w", chatID, err)
	}
	return turns, nil
}

func scanChatTurn(row scanner) (ChatTurn, error) {
	var t ChatTurn
	var c Check
	var checked bool
	var created string
	err := row.Scan(&t.ChatID, &t.Seq, &t.Column, &t.ModelID, &t.ModelName, &t.Role, &t.Content, &t.FinishReason, &t.Tokens,
		&t.RAG, &t.Sources, &t.Sampling.Temperature, &t.Sampling.TopP, &t.Sampling.MaxTokens,
		&checked, &c.CodeHash, &c.HasCode, &c.Compiles, &c.Errors, &c.Warnings, &c.Lints, &c.FirstError, &c.TimedOut, &created)
	if checked {
		t.Check = &c
	}
	t.CreatedAt = parseTime(created)
	return t, err
}

// UserChat returns the user's chat; another user's chat is ErrNotFound, as if it did not exist.
func (s *Store) UserChat(ctx context.Context, userID, chatID int64) (Chat, error) {
	c, err := s.chat(ctx, s.read, `id = ?`, chatID)
	if err != nil {
		return Chat{}, err
	}
	if c.UserID != userID {
		return Chat{}, fmt.Errorf("chat %d: %w", chatID, ErrNotFound)
	}
	return c, nil
}

// ChatByShareToken returns the chat shared under token.
func (s *Store) ChatByShareToken(ctx context.Context, token string) (Chat, error) {
	if token == "" {
		return Chat{}, fmt.Errorf("shared chat: %w", ErrNotFound)
	}
	return s.chat(ctx, s.read, `share_token = ?`, token)
}

// ListChats returns the user's latest chats, newest first.
func (s *Store) ListChats(ctx context.Context, userID int64, limit int) ([]Chat, error) {
	chats, err := queryAll(ctx, s.read, scanChat, `SELECT `+chatColumns+` FROM chats WHERE user_id = ? ORDER BY id DESC LIMIT ?`, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("chats of user %d: %w", userID, err)
	}
	return chats, nil
}

// ShareChat gives the chat a random share token, keeping the one it has, and returns it.
func (s *Store) ShareChat(ctx context.Context, chatID int64) (string, error) {
	b := make([]byte, 24)
	rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE chats SET share_token = coalesce(share_token, ?) WHERE id = ?`, token, chatID)
		if err != nil {
			return fmt.Errorf("share chat %d: %w", chatID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("chat %d: %w", chatID, ErrNotFound)
		}
		return tx.QueryRowContext(ctx, `SELECT share_token FROM chats WHERE id = ?`, chatID).Scan(&token)
	})
	return token, err
}

func (s *Store) chat(ctx context.Context, db *sql.DB, where string, arg any) (Chat, error) {
	c, err := scanChat(db.QueryRowContext(ctx, `SELECT `+chatColumns+` FROM chats WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Chat{}, fmt.Errorf("chat: %w", ErrNotFound)
	}
	if err != nil {
		return Chat{}, fmt.Errorf("read chat: %w", err)
	}
	return c, nil
}

func scanChat(row scanner) (Chat, error) {
	var c Chat
	var created string
	err := row.Scan(&c.ID, &c.UserID, &c.Title, &c.ShareToken, &created)
	c.CreatedAt = parseTime(created)
	return c, err
}
