package store

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/mattn/go-sqlite3"

	"rustexpert/sheet"
)

func TestIsDiskFull(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{sqlite3.Error{Code: sqlite3.ErrFull}, true},
		{fmt.Errorf("commit: %w", sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.EFBIG}), true},
		{sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.ENOSPC}, true},
		{&os.PathError{Op: "write", Path: "a", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("x: %w", ErrDiskFull), true},
		{sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.EIO}, false},
		{sqlite3.Error{Code: sqlite3.ErrBusy}, false},
		{&os.PathError{Op: "open", Path: "a", Err: syscall.ENOENT}, false},
		{ErrInvalid, false},
		{nil, false},
	} {
		if got := IsDiskFull(tc.err); got != tc.want {
			t.Errorf("IsDiskFull(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestFullDatabaseRefusesWritesAndKeepsCommitted caps the database at its size (PRAGMA
// max_page_count on the writer connection), which gives SQLite's real "database or disk is
// full": writes fail as ErrDiskFull, all or nothing, and once the cap is lifted the same
// connection writes again with every committed row in place.
func TestFullDatabaseRefusesWritesAndKeepsCommitted(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	if _, err := st.ImportPrompts(ctx, []sheet.Row{{Line: 2, Text: "What does ? do?", Split: "train"}}, "test", 0); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := st.write.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := st.write.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	var rows []sheet.Row
	for i := range 200 {
		rows = append(rows, sheet.Row{Line: i + 2, Text: fmt.Sprintf("Prompt %d: %s", i, strings.Repeat("why does the borrow checker refuse this? ", 40)), Split: "train"})
	}
	_, err := st.ImportPrompts(ctx, rows, "big", 0)
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "database or disk is full") {
		t.Fatalf("import into a full database: %v, want ErrDiskFull", err)
	}
	if errors.Is(err, ErrInvalid) {
		t.Errorf("a full disk reads as invalid input: %v", err)
	}
	if page, _ := st.ListPrompts(ctx, PromptFilter{}); page.Total != 1 {
		t.Fatalf("%d prompts after the failed import, want the 1 committed before", page.Total)
	}
	if _, err := st.write.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	if n, err := st.ImportPrompts(ctx, rows, "big", 0); err != nil || n != len(rows) {
		t.Fatalf("import after space returned: n=%d err=%v", n, err)
	}
}
