package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kinds of share links: what a link shows.
const (
	ShareChat        = "chat"        // a saved side-by-side chat; target: the chat's id
	ShareEvalReport  = "eval_report" // the /eval face-to-face report; target: its query string
	ShareRun         = "run"         // a training run's page; target: the run's id
	ShareLeaderboard = "leaderboard" // the arena leaderboard; target: its category ("" = all)
)

// States of a share link.
const (
	ShareLive    = "live"
	ShareExpired = "expired"
	ShareRevoked = "revoked"
)

// ErrGone is a share link that no longer works: it was revoked or it has expired. The share comes
// back with it, so the caller can say when.
var ErrGone = errors.New("gone")

// Limits of share links.
const (
	shareTokenBytes    = 24 // 192 random bits
	maxShareTargetLen  = 1024
	maxShareTitleRunes = 200
	shareListLimit     = 1000
)

// Share is one read-only link.
type Share struct {
	ID            int64
	Token         string
	Kind          string
	Target        string
	Title         string // what the link shows, in words
	CreatedBy     int64
	CreatedByName string
	CreatedAt     time.Time
	ExpiresAt     time.Time // zero: never
	RevokedAt     time.Time // zero: not revoked
	RevokedBy     int64
	RevokedByName string
	Views         int
	LastViewedAt  time.Time // zero: never viewed
}

// State is the link's state at the time at: revoked, expired or live.
func (sh Share) State(at time.Time) string {
	switch {
	case !sh.RevokedAt.IsZero():
		return ShareRevoked
	case !sh.ExpiresAt.IsZero() && !at.Before(sh.ExpiresAt):
		return ShareExpired
	}
	return ShareLive
}

// ShareInput is a new link: what it shows, who makes it and when it expires (zero: never).
type ShareInput struct {
	Kind      string
	Target    string
	Title     string
	CreatedBy int64
	ExpiresAt time.Time
}

// ShareFilter selects links; zero fields select everything.
type ShareFilter struct {
	CreatedBy int64  // links of this user only
	Kind      string // with Target: the links of one thing
	Target    string
	Limit     int // default and most: 1000
}

// ValidShareKind reports whether kind is one of the kinds of share links.
func ValidShareKind(kind string) bool {
	return kind == ShareChat || kind == ShareEvalReport || kind == ShareRun || kind == ShareLeaderboard
}

const shareColumns = `sh.id, sh.token, sh.kind, sh.target, sh.title, sh.created_by, coalesce(cu.name, ''), sh.created_at,
	sh.expires_at, sh.revoked_at, coalesce(sh.revoked_by, 0), coalesce(ru.name, ''), sh.views, sh.last_viewed_at`

const shareFrom = ` FROM shares sh LEFT JOIN users cu ON cu.id = sh.created_by LEFT JOIN users ru ON ru.id = sh.revoked_by`

// CreateShare makes a link with a new random token. A chat's link also becomes the chat's current
// link (chats.share_token), which the chat page shows. The audit row is written in the same
// transaction. The caller checks that the user may see the target.
func (s *Store) CreateShare(ctx context.Context, in ShareInput) (Share, error) {
	if err := checkShareInput(&in); err != nil {
		return Share{}, err
	}
	token := newShareToken()
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var expires any
		if !in.ExpiresAt.IsZero() {
			expires = formatTime(in.ExpiresAt)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO shares (token, kind, target, title, created_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, token, in.Kind, in.Target, in.Title, in.CreatedBy, now(), expires)
		if err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
			return fmt.Errorf("%w: share link: no user with id %d", ErrInvalid, in.CreatedBy)
		}
		if err != nil {
			return fmt.Errorf("insert %s share of %q: %w", in.Kind, in.Target, err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		if in.Kind == ShareChat {
			if err := setChatLink(ctx, tx, in.Target, token); err != nil {
				return err
			}
		}
		return audit(ctx, tx, "share.create", shareAuditTarget(id, in.Kind, in.Target),
			map[string]any{"kind": in.Kind, "target": in.Target, "title": in.Title, "expires_at": expires})
	})
	if err != nil {
		return Share{}, err
	}
	return s.share(ctx, s.write, `sh.id = ?`, id)
}

// checkShareInput checks and trims a new link's fields.
func checkShareInput(in *ShareInput) error {
	in.Target = strings.TrimSpace(in.Target)
	in.Title = strings.TrimSpace(in.Title)
	switch {
	case !ValidShareKind(in.Kind):
		return fmt.Errorf("%w: share kind %q: must be chat, eval_report, run or leaderboard", ErrInvalid, in.Kind)
	case in.Kind != ShareLeaderboard && in.Target == "":
		return fmt.Errorf("%w: share target: empty for a %s link", ErrInvalid, in.Kind)
	case len(in.Target) > maxShareTargetLen || !utf8.ValidString(in.Target):
		return fmt.Errorf("%w: share target: at most %d bytes of UTF-8 text", ErrInvalid, maxShareTargetLen)
	case !utf8.ValidString(in.Title):
		return fmt.Errorf("%w: share title: not UTF-8 text", ErrInvalid)
	case in.CreatedBy <= 0:
		return fmt.Errorf("%w: share link: no user", ErrInvalid)
	}
	if r := []rune(in.Title); len(r) > maxShareTitleRunes {
		in.Title = string(r[:maxShareTitleRunes-1]) + "…"
	}
	return nil
}

// setChatLink makes token the chat's current link; a chat that does not exist is ErrNotFound.
func setChatLink(ctx context.Context, tx *sql.Tx, target, token string) error {
	chatID, err := strconv.ParseInt(target, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: chat share target %q is not a chat id", ErrInvalid, target)
	}
	res, err := tx.ExecContext(ctx, `UPDATE chats SET share_token = ? WHERE id = ?`, token, chatID)
	if err != nil {
		return fmt.Errorf("set link of chat %d: %w", chatID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("chat %d: %w", chatID, ErrNotFound)
	}
	return nil
}

func shareAuditTarget(id int64, kind, target string) string {
	return fmt.Sprintf("share %d (%s %s)", id, kind, target)
}

// newShareToken returns 24 random bytes in base64url: 32 characters safe in a URL path.
func newShareToken() string {
	b := make([]byte, shareTokenBytes)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ShareByToken returns the link with this token. An unknown token is ErrNotFound; a revoked or
// expired link comes back together with an error wrapping ErrGone.
func (s *Store) ShareByToken(ctx context.Context, token string) (Share, error) {
	if token == "" || len(token) > 128 {
		return Share{}, fmt.Errorf("share link: %w", ErrNotFound)
	}
	sh, err := s.share(ctx, s.read, `sh.token = ?`, token)
	if err != nil {
		return Share{}, err
	}
	if st := sh.State(time.Now()); st != ShareLive {
		return sh, fmt.Errorf("share link %d: %s: %w", sh.ID, st, ErrGone)
	}
	return sh, nil
}

// Share returns the link with this id.
func (s *Store) Share(ctx context.Context, id int64) (Share, error) {
	return s.share(ctx, s.read, `sh.id = ?`, id)
}

func (s *Store) share(ctx context.Context, db querier, where string, arg any) (Share, error) {
	list, err := queryAll(ctx, db, scanShare, `SELECT `+shareColumns+shareFrom+` WHERE `+where, arg)
	if err != nil {
		return Share{}, fmt.Errorf("read share link: %w", err)
	}
	if len(list) == 0 {
		return Share{}, fmt.Errorf("share link: %w", ErrNotFound)
	}
	return list[0], nil
}

func scanShare(row scanner) (Share, error) {
	var sh Share
	var created string
	var expires, revoked, viewed sql.NullString
	err := row.Scan(&sh.ID, &sh.Token, &sh.Kind, &sh.Target, &sh.Title, &sh.CreatedBy, &sh.CreatedByName, &created,
		&expires, &revoked, &sh.RevokedBy, &sh.RevokedByName, &sh.Views, &viewed)
	sh.CreatedAt, sh.ExpiresAt, sh.RevokedAt, sh.LastViewedAt = parseTime(created), parseNullTime(expires), parseNullTime(revoked), parseNullTime(viewed)
	return sh, err
}

// RecordShareView counts one view of a link and notes when it was.
func (s *Store) RecordShareView(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE shares SET views = views + 1, last_viewed_at = ? WHERE id = ?`, now(), id); err != nil {
			return fmt.Errorf("count view of share link %d: %w", id, err)
		}
		return nil
	})
}

// ListShares returns the matching links, newest first.
func (s *Store) ListShares(ctx context.Context, f ShareFilter) ([]Share, error) {
	var where []string
	var args []any
	if f.CreatedBy != 0 {
		where, args = append(where, `sh.created_by = ?`), append(args, f.CreatedBy)
	}
	if f.Kind != "" {
		where, args = append(where, `sh.kind = ? AND sh.target = ?`), append(args, f.Kind, f.Target)
	}
	q := `SELECT ` + shareColumns + shareFrom
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	limit := f.Limit
	if limit <= 0 || limit > shareListLimit {
		limit = shareListLimit
	}
	shares, err := queryAll(ctx, s.read, scanShare, q+` ORDER BY sh.id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list share links: %w", err)
	}
	return shares, nil
}

// RevokeShare ends a link for good. Admins revoke any link, other users their own: another user's
// link is ErrNotFound, as if it did not exist. Revoking a revoked link changes nothing. A chat whose
// current link it was gets its newest live link instead (or none). The audit row is written in the
// same transaction.
func (s *Store) RevokeShare(ctx context.Context, id int64, by User) (Share, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		sh, err := s.share(ctx, tx, `sh.id = ?`, id)
		if err != nil {
			return err
		}
		if !by.IsAdmin() && sh.CreatedBy != by.ID {
			return fmt.Errorf("share link %d: %w", id, ErrNotFound)
		}
		if !sh.RevokedAt.IsZero() {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE shares SET revoked_at = ?, revoked_by = ? WHERE id = ?`, now(), by.ID, id); err != nil {
			return fmt.Errorf("revoke share link %d: %w", id, err)
		}
		if sh.Kind == ShareChat {
			if err := replaceChatLink(ctx, tx, sh); err != nil {
				return err
			}
		}
		return audit(ctx, tx, "share.revoke", shareAuditTarget(id, sh.Kind, sh.Target),
			map[string]any{"kind": sh.Kind, "target": sh.Target, "created_by": sh.CreatedBy, "state_before": sh.State(time.Now())})
	})
	if err != nil {
		return Share{}, err
	}
	return s.share(ctx, s.write, `sh.id = ?`, id)
}

// replaceChatLink gives a chat whose current link was the revoked one its newest live link, or none.
func replaceChatLink(ctx context.Context, tx *sql.Tx, revoked Share) error {
	others, err := queryAll(ctx, tx, scanShare, `SELECT `+shareColumns+shareFrom+
		` WHERE sh.kind = 'chat' AND sh.target = ? AND sh.revoked_at IS NULL ORDER BY sh.id DESC`, revoked.Target)
	if err != nil {
		return fmt.Errorf("links of chat %s: %w", revoked.Target, err)
	}
	var next any
	at := time.Now()
	for _, o := range others {
		if o.State(at) == ShareLive {
			next = o.Token
			break
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE chats SET share_token = ? WHERE share_token = ?`, next, revoked.Token); err != nil {
		return fmt.Errorf("replace link of chat %s: %w", revoked.Target, err)
	}
	return nil
}
