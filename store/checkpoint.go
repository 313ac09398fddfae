package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
)

// checkpointInterval is how often the WAL is copied back into the database file.
const checkpointInterval = time.Second

// writerConnector opens writer connections with SQLite's automatic checkpoints off: an automatic
// checkpoint runs inside whichever commit crosses the threshold and fsyncs the database file,
// stalling every writer queued behind it for milliseconds. The checkpointer does it instead.
type writerConnector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

func newWriterConnector(dsn string) writerConnector {
	return writerConnector{dsn: dsn, drv: &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 0", nil)
		return err
	}}}
}

func (c writerConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }

func (c writerConnector) Driver() driver.Driver { return c.drv }

// checkpointer copies the WAL into the database file from its own connection every interval.
// A PASSIVE checkpoint never blocks the writer or the readers; the fsync happens here.
//
// SQLite starts the WAL over from its beginning only when a write transaction begins with every
// frame already copied into the database file, which never happens by itself while writes come
// back to back (labels at saturation): each checkpoint ends behind the commits made during it. The
// WAL then grows without bound (about 40 MB a second), every commit extends the file, which costs
// the kernel about twice as much as overwriting a frame, and every read that follows a commit (its
// connection's page cache emptied) looks its pages up in a longer WAL index. So when the WAL has
// grown past walRestartFrames, the checkpointer catches up to within a few frames and then holds
// the one writer connection while a last pass copies the rest (see startOver).
type checkpointer struct {
	db     *sql.DB
	writer *sql.DB
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	ctx    context.Context // cancelled by close, so that waiting for the writer ends
	cancel context.CancelFunc
}

// walRestartFrames is the WAL length, in frames (pages), from which the checkpointer makes the WAL
// start over (about 4 MB).
const walRestartFrames = 1000

// catchUpFrames: a pass that had fewer new frames than this to copy is close enough to the end of
// the WAL for the last pass, the one that holds the writer, to be short.
const catchUpFrames = 64

func newCheckpointer(path string, writer *sql.DB, interval time.Duration) (*checkpointer, error) {
	db, err := sql.Open("sqlite3", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, writer: writer, stop: make(chan struct{}), done: make(chan struct{}), ctx: ctx, cancel: cancel}
	go c.run(interval)
	return c, nil
}

func (c *checkpointer) run(interval time.Duration) {
	defer close(c.done)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-ticker.C:
			if frames, _, err := c.checkpoint(); err == nil && frames >= walRestartFrames {
				c.startOver(frames)
			}
		}
	}
}

// checkpoint runs one PASSIVE checkpoint and returns the WAL's frame count and how many frames
// are now in the database file.
func (c *checkpointer) checkpoint() (walFrames, checkpointed int, err error) {
	var busy int
	err = c.db.QueryRowContext(c.ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &walFrames, &checkpointed)
	return walFrames, checkpointed, err
}

// startOver copies the whole WAL into the database file with no write in progress, so that the
// next write transaction starts the WAL over. frames is the WAL's length at the last checkpoint.
// First it catches up with the writes made meanwhile, a few passes that each copy what came during
// the one before; then it takes the writer connection (writers wait in Go, as for any write) for a
// last pass over the frames left, at most a batch or two, and its two fsyncs: measured 0.5–3 ms at
// 3,000 labels/s and up to 15 ms at saturation on a busy disk, once a second. A reader still on an
// older snapshot keeps its frames from being copied; readers take microseconds, so the last pass is
// tried again for up to about a millisecond, and otherwise the WAL starts over after a later
// checkpoint.
func (c *checkpointer) startOver(frames int) error {
	for range 4 {
		next, _, err := c.checkpoint()
		if err != nil {
			return err
		}
		if next-frames < catchUpFrames { // also when the WAL started over meanwhile
			break
		}
		frames = next
	}
	conn, err := c.writer.Conn(c.ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for range 10 {
		frames, checkpointed, err := c.checkpoint()
		if err != nil || checkpointed == frames {
			return err
		}
		time.Sleep(100 * time.Microsecond)
	}
	return nil
}

// close stops the goroutine and closes its connection.
func (c *checkpointer) close() error {
	c.once.Do(func() {
		close(c.stop)
		c.cancel()
	})
	<-c.done
	return c.db.Close()
}
