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
type checkpointer struct {
	db   *sql.DB
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func newCheckpointer(path string, interval time.Duration) (*checkpointer, error) {
	db, err := sql.Open("sqlite3", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
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
			c.checkpoint()
		}
	}
}

// checkpoint runs one PASSIVE checkpoint and returns the WAL's frame count and how many frames
// are now in the database file.
func (c *checkpointer) checkpoint() (walFrames, checkpointed int, err error) {
	var busy int
	err = c.db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &walFrames, &checkpointed)
	return walFrames, checkpointed, err
}

// close stops the goroutine and closes its connection.
func (c *checkpointer) close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return c.db.Close()
}
