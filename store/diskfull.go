package store

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/mattn/go-sqlite3"
)

// IsDiskFull reports whether err says that the disk, a quota or the file size limit is full:
// ErrDiskFull, SQLite's SQLITE_FULL ("database or disk is full"), an SQLite I/O error whose
// system error is ENOSPC, EDQUOT or EFBIG (a write past RLIMIT_FSIZE), or such a system error
// from a file write.
func IsDiskFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrDiskFull) {
		return true
	}
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrFull || noSpace(se.SystemErrno)) {
		return true
	}
	var errno syscall.Errno
	return errors.As(err, &errno) && noSpace(errno)
}

func noSpace(errno syscall.Errno) bool {
	return errno == syscall.ENOSPC || errno == syscall.EDQUOT || errno == syscall.EFBIG
}

// markDiskFull wraps a disk-full error in ErrDiskFull so that callers tell it apart with
// errors.Is; other errors are returned as they are.
func markDiskFull(err error) error {
	if err == nil || errors.Is(err, ErrDiskFull) || !IsDiskFull(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrDiskFull, err)
}
