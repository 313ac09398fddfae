package handlers

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"rustexpert/generation"
	"rustexpert/store"
)

// Websocket timing: a ping every wsPingPeriod; a client that sends nothing (not even the pong)
// for wsPongWait is gone; no single write may take longer than wsWriteWait.
const (
	wsWriteWait  = 10 * time.Second
	wsPingPeriod = 20 * time.Second
	wsPongWait   = wsPingPeriod + wsWriteWait
	// wsCloseGrace is how long the server waits for the client to answer its close frame.
	wsCloseGrace = 2 * time.Second
	// wsReadLimit bounds what a client may send; it has nothing to say beyond control frames.
	wsReadLimit = 512
)

// sameHost accepts a websocket handshake only from pages of this site. Requests without an
// Origin header do not come from a browser page, so a cross-site page cannot make them.
func sameHost(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// handleJobSocket streams a job's progress: the current state at once, then every update
// the runner publishes, until the job ends, the client leaves or falls too far behind.
func (s *Server) handleJobSocket(w http.ResponseWriter, r *http.Request) {
	job, err := s.jobFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	// Subscribe before reading the snapshot so that no update falls between the two.
	updates, unsubscribe := s.hub.Subscribe(generation.Topic(job.ID))
	defer unsubscribe()
	if job, err = s.store.Job(r.Context(), job.ID); err != nil {
		s.error(w, r, err)
		return
	}
	upgrader := websocket.Upgrader{CheckOrigin: sameHost}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has answered the client already.
		return
	}
	defer conn.Close()
	snapshot, _ := json.Marshal(jobSnapshot(job))
	gone := readUntilGone(conn)
	reason := streamProgress(conn, snapshot, job.Finished(), updates, gone, progressFinished, "job finished")
	s.log.Debug("job websocket closed", slog.Int64("job_id", job.ID), slog.String("reason", reason))
}

// readUntilGone reads (and drops) what the client sends, which keeps pongs and close frames
// flowing; the returned channel is closed when the connection is gone or silent too long.
func readUntilGone(conn *websocket.Conn) <-chan struct{} {
	gone := make(chan struct{})
	conn.SetReadLimit(wsReadLimit)
	conn.SetReadDeadline(time.Now().Add(wsPongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsPongWait)) })
	go func() {
		defer close(gone)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	return gone
}

// streamProgress is the connection's only writer: the snapshot, then each update until one
// that last reports as the final one (the stream then closes with the reason done). It
// returns why the stream ended.
func streamProgress(conn *websocket.Conn, snapshot []byte, finished bool, updates <-chan []byte, gone <-chan struct{},
	last func([]byte) bool, done string) string {
	if err := writeText(conn, snapshot); err != nil {
		return "write failed"
	}
	if finished {
		closeConn(conn, websocket.CloseNormalClosure, done, gone)
		return done
	}
	ping := time.NewTicker(wsPingPeriod)
	defer ping.Stop()
	for {
		select {
		case <-gone:
			return "client gone"
		case msg, ok := <-updates:
			if !ok {
				// The hub dropped this subscriber for falling behind; the client reconnects
				// and starts again from a fresh snapshot.
				closeConn(conn, websocket.CloseTryAgainLater, "fell behind; reconnect", gone)
				return "dropped as too slow"
			}
			if err := writeText(conn, msg); err != nil {
				return "write failed"
			}
			if last(msg) {
				closeConn(conn, websocket.CloseNormalClosure, done, gone)
				return done
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)); err != nil {
				return "ping failed"
			}
		}
	}
}

func writeText(conn *websocket.Conn, msg []byte) error {
	conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
	return conn.WriteMessage(websocket.TextMessage, msg)
}

// closeConn sends a close frame and gives the client a moment to answer it, as the protocol asks.
func closeConn(conn *websocket.Conn, code int, text string, gone <-chan struct{}) {
	err := conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(wsWriteWait))
	if err != nil {
		return
	}
	select {
	case <-gone:
	case <-time.After(wsCloseGrace):
	}
}

func progressFinished(msg []byte) bool {
	var p generation.Progress
	if err := json.Unmarshal(msg, &p); err != nil {
		return false
	}
	return store.Job{Status: p.Status}.Finished()
}
