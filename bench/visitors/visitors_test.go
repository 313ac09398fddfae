package main

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// The streams as handlers' eventStream writes them: a comment first, then the events.
func TestReadEventsClassifiesStreams(t *testing.T) {
	cases := []struct {
		name, body, outcome, msg string
		tokens                   int
	}{
		{"done", ": streaming\n\nevent: delta\ndata: A crate\n\nevent: delta\ndata:  is\ndata: a unit\n\n" +
			"event: done\ndata: {\"html\":\"<p>A crate</p>\\n\",\"finish_reason\":\"length\",\"tokens\":32}\n\n", outDone, "", 32},
		{"busy", ": streaming\n\nevent: busy\ndata: {\"status\":503,\"message\":\"The server is busy; try again in 5 s.\",\"retry_after\":5}\n\n",
			outBusy, "The server is busy; try again in 5 s.", 0},
		{"rate limited", ": streaming\n\nevent: busy\ndata: {\"status\":429,\"message\":\"Too many requests.\",\"retry_after\":3}\n\n",
			outRateLimited, "Too many requests.", 0},
		{"failed", ": streaming\n\nevent: failed\ndata: the model failed to answer; start a new battle\n\n",
			outFailed, "the model failed to answer; start a new battle", 0},
		{"cut", ": streaming\n\nevent: delta\ndata: A crate\n\n", outError, "the stream ended without a done, failed or busy event", 0},
		{"bad done", ": streaming\n\nevent: done\ndata: {\"html\":\n\n", outError, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := readEvents(strings.NewReader(c.body), streamResult{}, time.Now())
			if r.outcome != c.outcome || r.tokens != c.tokens || (c.msg != "" && r.msg != c.msg) {
				t.Errorf("got %s %q (%d tokens), want %s %q (%d tokens)", r.outcome, r.msg, r.tokens, c.outcome, c.msg, c.tokens)
			}
			if c.outcome == outDone && r.firstDelta <= 0 {
				t.Error("no time to the first text")
			}
		})
	}
}

// A part of the new-chat form as the server renders it.
const chatForm = `<body hx-headers='{"X-CSRF-Token":"FrX8vjEK-b6hoY8"}' data-csrf="FrX8vjEK-b6hoY8">` +
	`<select name="model_0" data-testid="model-0"><option value="">(no column)</option> <option value="1">base</option>` +
	`<option value="2" selected>v1</option><option value="3">v2</option></select>` +
	`<select name="model_1" data-testid="model-1"><option value="">(no column)</option> <option value="1">base</option>` +
	`<option value="2">v1</option><option value="3" selected>v2</option></select>` +
	`<select name="model_2" data-testid="model-2"><option value="">(no column)</option> <option value="1">base</option></select>` +
	`<link rel="stylesheet" href="/static/css/app.css"><script src="/static/js/chat.js" defer></script>`

func TestReadsTheChatForm(t *testing.T) {
	if got := csrfOf(chatForm); got != "FrX8vjEK-b6hoY8" {
		t.Errorf("csrf %q", got)
	}
	models := chatModels(chatForm)
	if len(models) != 2 || models["0"] != "2" || models["1"] != "3" {
		t.Errorf("picked models %v, want column 0 → 2, column 1 → 3 and no column 2", models)
	}
	if refs := assetRef.FindAllStringSubmatch(chatForm, -1); len(refs) != 2 || refs[1][1] != "/static/js/chat.js" {
		t.Errorf("assets %v", refs)
	}
}

func TestSlope(t *testing.T) {
	xs := []float64{0, 0.25, 0.5, 0.75}
	ys := []float64{100, 102.5, 105, 107.5}
	if got := slope(xs, ys); math.Abs(got-10) > 1e-9 {
		t.Errorf("slope %v, want 10", got)
	}
	if got := slope([]float64{1}, []float64{5}); got != 0 {
		t.Errorf("slope of one point %v, want 0", got)
	}
}

func TestReadMemoryOfThisProcess(t *testing.T) {
	m, err := readMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.rssMiB <= 0 || m.anonMiB <= 0 || m.anonMiB > m.rssMiB {
		t.Errorf("RSS %.1f MiB, anonymous %.1f MiB", m.rssMiB, m.anonMiB)
	}
	if _, err := readMemory(-1); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

func TestGCTraceLine(t *testing.T) {
	line := "gc 9 @0.080s 6%: 0.033+2.7+0.014 ms clock, 0.066+0.69/0.84/1.5+0.029 ms cpu, 19->21->14 MB, 22 MB goal, 0 MB stacks, 0 MB globals, 2 P"
	m := gcLine.FindStringSubmatch(line)
	if m == nil || m[1] != "9" || m[2] != "6" || m[5] != "14" {
		t.Errorf("parsed %q", m)
	}
}
