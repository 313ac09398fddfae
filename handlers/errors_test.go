package handlers

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/mattn/go-sqlite3"

	"rustexpert/store"
)

// TestDiskFullErrorsSay507AndTheCause checks that every form of "no space" a write can meet
// (SQLite's SQLITE_FULL, an SQLite write error past the file size limit, a file write that found
// the disk full, the store's sentinel) reaches the user as 507 with a message naming the cause,
// while other errors keep their statuses.
func TestDiskFullErrorsSay507AndTheCause(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, tc := range []struct {
		name   string
		err    error
		status int
	}{
		{"sqlite full", fmt.Errorf("commit: %w", sqlite3.Error{Code: sqlite3.ErrFull}), http.StatusInsufficientStorage},
		{"sqlite write past RLIMIT_FSIZE", sqlite3.Error{Code: sqlite3.ErrIoErr, ExtendedCode: sqlite3.ErrIoErrWrite, SystemErrno: syscall.EFBIG}, http.StatusInsufficientStorage},
		{"file write", fmt.Errorf("write dataset: %w", &os.PathError{Op: "write", Path: "x.jsonl", Err: syscall.ENOSPC}), http.StatusInsufficientStorage},
		{"quota", &os.PathError{Op: "write", Path: "x", Err: syscall.EDQUOT}, http.StatusInsufficientStorage},
		{"sentinel", fmt.Errorf("%w: import", store.ErrDiskFull), http.StatusInsufficientStorage},
		{"other I/O error", sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.EIO}, http.StatusInternalServerError},
		{"constraint", sqlite3.Error{Code: sqlite3.ErrConstraint}, http.StatusInternalServerError},
		{"not found", fmt.Errorf("prompt 3: %w", store.ErrNotFound), http.StatusNotFound},
		{"plain", errors.New("boom"), http.StatusInternalServerError},
	} {
		r := httptest.NewRequest(http.MethodPost, "/annotate/1/2", nil)
		r.Header.Set("Accept", "application/json")
		w := httptest.NewRecorder()
		s.error(w, r, tc.err)
		full := tc.status == http.StatusInsufficientStorage
		if w.Code != tc.status || strings.Contains(w.Body.String(), "disk is full") != full {
			t.Errorf("%s: %d %q, want %d", tc.name, w.Code, w.Body.String(), tc.status)
		}
		if full && !strings.Contains(w.Body.String(), "not saved") {
			t.Errorf("%s: the message does not say nothing was saved: %q", tc.name, w.Body.String())
		}
	}
}
