package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// stream reads one event stream as a browser's EventSource does, until its done, failed or busy
// event, its end, or the cap.
func (v *visitor) stream(ctx context.Context, target string) streamResult {
	ctx, cancel := context.WithTimeout(ctx, v.o.streamCap)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.base+target, nil)
	if err != nil {
		return streamResult{outcome: outError, msg: err.Error()}
	}
	v.browserHeaders(req, false)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	start := time.Now()
	res, err := v.client.Do(req)
	if err != nil {
		return capped(ctx, streamResult{outcome: outError, msg: "GET " + target + ": " + err.Error()}, start)
	}
	defer res.Body.Close()
	r := streamResult{ttfb: time.Since(start)}
	if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		r.outcome, r.msg = outError, fmt.Sprintf("GET %s: status %d, %s: %s", target, res.StatusCode, ct, snippet(string(b)))
		return r
	}
	r = readEvents(res.Body, r, start)
	r.total = time.Since(start)
	if r.outcome == outError {
		r.msg = "GET " + target + ": " + r.msg
	}
	return capped(ctx, r, start)
}

// capped marks a result that the cap cut short.
func capped(ctx context.Context, r streamResult, start time.Time) streamResult {
	if r.outcome == outError && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		r.outcome, r.msg = outCapped, fmt.Sprintf("no end after %s: %s", time.Since(start).Round(time.Second), r.msg)
	}
	return r
}

// readEvents reads server-sent events until the answer's last one and classifies the stream.
func readEvents(body io.Reader, r streamResult, start time.Time) streamResult {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var event string
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event != "" && finish(&r, event, strings.Join(data, "\n"), start) {
				return r
			}
			event, data = "", nil
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	r.outcome = outError
	if err := sc.Err(); err != nil {
		r.msg = "reading the stream: " + err.Error()
	} else {
		r.msg = "the stream ended without a done, failed or busy event"
	}
	return r
}

// finish applies one event to the result; it reports whether the event ends the answer.
func finish(r *streamResult, event, data string, start time.Time) bool {
	switch event {
	case "delta":
		if r.firstDelta == 0 {
			r.firstDelta = time.Since(start)
		}
		return false
	case "done":
		var d struct {
			HTML   string `json:"html"`
			Tokens int    `json:"tokens"`
		}
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			r.outcome, r.msg = outError, fmt.Sprintf("done event: %v: %.200s", err, data)
			return true
		}
		r.outcome, r.tokens = outDone, d.Tokens
	case "failed":
		r.outcome, r.msg = outFailed, data
	case "busy":
		var d struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			r.outcome, r.msg = outError, fmt.Sprintf("busy event: %v: %.200s", err, data)
			return true
		}
		r.outcome, r.msg = outBusy, d.Message
		if d.Status != http.StatusServiceUnavailable {
			r.outcome = outRateLimited
		}
	default:
		return false // sources and anything new
	}
	return true
}
