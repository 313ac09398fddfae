package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Actor is who makes a change, as the audit log names them. A request's actor rides in its
// context (WithActor); changes made without one are the server's own ("system").
type Actor struct {
	UserID int64  // 0 for the command line and the server
	Name   string // the user's name, "cli" or "system"
}

// CLIActor is the actor of changes made with the rustexpert command.
var CLIActor = Actor{Name: "cli"}

type actorKey struct{}

// WithActor returns ctx carrying the actor of the changes made with it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// actorOf returns ctx's actor, or "system".
func actorOf(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok && a.Name != "" {
		return a
	}
	return Actor{Name: "system"}
}

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	ID      int64
	At      time.Time
	ActorID int64
	Actor   string
	Action  string
	Target  string
	Details string // a JSON object
}

// audit appends a row to the audit log inside tx, the transaction of the change it records.
func audit(ctx context.Context, tx *sql.Tx, action, target string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	data, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit %s %s: details: %w", action, target, err)
	}
	a := actorOf(ctx)
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor_id, actor, action, target, details) VALUES (?, nullif(?, 0), ?, ?, ?, ?)`,
		now(), a.UserID, a.Name, action, target, string(data))
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", action, target, err)
	}
	return nil
}

// RecordAudit appends a row on its own, for a change that is not a transaction of this store (a
// signal to a running worker, a label edit that the label writer commits in its batch).
func (s *Store) RecordAudit(ctx context.Context, action, target string, details map[string]any) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return audit(ctx, tx, action, target, details) })
}

// AuditFilter selects audit rows; zero fields select everything.
type AuditFilter struct {
	Actor    string    // exact name (case-insensitive)
	Action   string    // exact action, or a prefix ending in "." ("user." is every user change)
	Target   string    // substring of the target
	Since    time.Time // at or after
	Until    time.Time // before
	BeforeID int64     // rows older than this id (paging)
	Limit    int       // default 100, at most 1000
}

// ListAudit returns the matching rows, newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.Actor != "" {
		add(`actor = ? COLLATE NOCASE`, f.Actor)
	}
	switch {
	case strings.HasSuffix(f.Action, "."):
		where = append(where, `substr(action, 1, ?) = ?`)
		args = append(args, len(f.Action), f.Action)
	case f.Action != "":
		add(`action = ?`, f.Action)
	}
	if f.Target != "" {
		add(`instr(target, ?) > 0`, f.Target)
	}
	if !f.Since.IsZero() {
		add(`at >= ?`, formatTime(f.Since))
	}
	if !f.Until.IsZero() {
		add(`at < ?`, formatTime(f.Until))
	}
	if f.BeforeID > 0 {
		add(`id < ?`, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := `SELECT id, at, coalesce(actor_id, 0), actor, action, target, details FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at string
		if err := rows.Scan(&e.ID, &at, &e.ActorID, &e.Actor, &e.Action, &e.Target, &e.Details); err != nil {
			return nil, err
		}
		e.At = parseTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditActions returns the actions that occur in the log, for the page's filter.
func (s *Store) AuditActions(ctx context.Context) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT action FROM audit_log ORDER BY action`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
