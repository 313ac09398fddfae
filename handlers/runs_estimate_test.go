package handlers

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/store"
)

// standInGatedWorker is a STAND-IN for the training worker ("python -m worker KIND --config
// FILE") for estimates, runs and exports. Training prints three steps and waits after the first
// until the file train-gate exists in the data folder; an export waits for export-gate, then
// writes the adapter and the card and reports its files.
const standInGatedWorker = `#!/bin/sh
dir=$(dirname "$0")
out=$(sed -n 's/^  "output_dir": "\(.*\)",*$/\1/p' "$5")
if [ "$3" = export ]; then
  card=$(sed -n 's/^  "card": "\(.*\)",*$/\1/p' "$5")
  echo 'stand-in export: loading' >&2
  while [ ! -e "$dir/export-gate" ]; do sleep 0.02; done
  mkdir -p "$out" && cp "$card" "$out/README.md" && echo '{"r":8}' > "$out/adapter_config.json"
  echo '{"event":"done","output":"'$out'","files":["README.md","adapter_config.json"]}'
  exit 0
fi
echo 'stand-in worker: loading' >&2
echo '{"event":"start","max_steps":3,"resumed_at_step":0,"device":"cpu"}'
echo '{"event":"metric","step":1,"metrics":{"loss":0.69}}'
while [ ! -e "$dir/train-gate" ]; do sleep 0.02; done
echo '{"event":"metric","step":2,"metrics":{"loss":0.6}}'
echo '{"event":"metric","step":3,"metrics":{"loss":0.5}}'
mkdir -p "$out" && echo '{"r":8}' > "$out/adapter_config.json"
echo '{"event":"done","output":"'$out'","step":3,"metrics":{"train_loss":0.6,"peak_memory_gib":1.5}}'
`

// newGatedRunsApp is the runs app with the gated stand-in worker.
func newGatedRunsApp(t *testing.T) *runsApp {
	t.Helper()
	a := newRunsApp(t)
	a.setWorker(standInGatedWorker)
	return a
}

func (a *runsApp) setWorker(script string) {
	a.t.Helper()
	if err := os.WriteFile(filepath.Join(a.dataDir, "stand-in-python"), []byte(script), 0o755); err != nil {
		a.t.Fatal(err)
	}
}

// open creates a gate file of the stand-in worker.
func (a *runsApp) open(gate string) {
	a.t.Helper()
	if err := os.WriteFile(filepath.Join(a.dataDir, gate), nil, 0o644); err != nil {
		a.t.Fatal(err)
	}
}

// poll GETs a fragment until cond holds for it, or fails after a minute.
func (c *client) poll(path, what string, cond func(*goquery.Document) bool) *goquery.Document {
	c.app.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		res := c.htmx(http.MethodGet, path, nil)
		if res.StatusCode != http.StatusOK {
			c.app.t.Fatalf("GET %s: status %d", path, res.StatusCode)
		}
		doc := parse(c.app.t, res)
		if cond(doc) {
			return doc
		}
		if time.Now().After(deadline) {
			html, _ := doc.Html()
			c.app.t.Fatalf("timed out waiting for %s; last answer:\n%s", what, html)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func running(doc *goquery.Document) bool {
	return testid(doc, "run-estimate").AttrOr("data-running", "") == "true"
}

func TestRunEstimateShowsProgressThenPrediction(t *testing.T) {
	a := newGatedRunsApp(t)
	c := a.login("ann", store.RoleAnnotator)
	form := a.form("sft", a.sft, map[string]string{"max_steps": "30", "gpu_price": "2.5"})
	doc := parse(t, c.htmx(http.MethodPost, "/runs/estimate", form))
	box := testid(doc, "run-estimate")
	if !running(doc) || box.AttrOr("hx-get", "") != "/runs/estimate" || box.AttrOr("hx-trigger", "") != "every 1s" {
		t.Fatalf("started box does not poll: %v", box.Nodes)
	}
	if got := testid(doc, "estimate-what").Text(); !strings.Contains(got, "SFT of base on dataset 1") || !strings.Contains(got, "by ann") {
		t.Errorf("what = %q", got)
	}
	doc = c.poll("/runs/estimate", "trial step 1", func(d *goquery.Document) bool {
		return strings.Contains(testid(d, "estimate-step").Text(), "trial step 1 of 3")
	})
	if testid(doc, "estimate-cancel").Length() != 1 || !strings.Contains(testid(doc, "estimate-log").Text(), "stand-in worker: loading") {
		t.Errorf("running box lacks stop button or log")
	}

	// One estimate at a time: a second one is refused as busy, and the box keeps following the first.
	doc = parse(t, c.htmx(http.MethodPost, "/runs/estimate", a.form("dpo", a.dpo, nil)))
	if got := testid(doc, "estimate-busy").Text(); !strings.Contains(got, "Busy: another estimate is using the GPU") || !running(doc) {
		t.Errorf("second estimate: busy %q, running %v", got, running(doc))
	}
	if st := testid(c.page("/runs"), "run-estimate"); st.AttrOr("data-running", "") != "true" {
		t.Error("the runs page does not show the running estimate")
	}

	a.open("train-gate")
	doc = c.poll("/runs/estimate", "the prediction", func(d *goquery.Document) bool { return !running(d) })
	if _, polls := testid(doc, "run-estimate").Attr("hx-trigger"); polls {
		t.Error("a finished estimate box still polls")
	}
	for id, want := range map[string]string{
		"estimate-duration": "(30 steps)",
		"estimate-pace":     " steps/s (",
		"estimate-memory":   "1.5 GiB",
		"estimate-cost":     "at 2.50 per GPU hour",
		"estimate-device":   "cpu, over a 3-step trial",
	} {
		if got := testid(doc, id).Text(); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want %q in it", id, got, want)
		}
	}
	if testid(doc, "estimate-error").Length() != 0 {
		t.Errorf("error shown: %q", testid(doc, "estimate-error").Text())
	}
	if runs, _ := a.store.ListRuns(t.Context(), 10); len(runs) != 0 {
		t.Errorf("an estimate stored %d runs", len(runs))
	}
	viewer := a.login("vic", store.RoleViewer)
	if res := viewer.htmx(http.MethodPost, "/runs/estimate", form); res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer estimating: status %d, want 403", res.StatusCode)
	}
}

func TestRunEstimateBusyWhileARunTrains(t *testing.T) {
	a := newGatedRunsApp(t)
	c := a.login("ann", store.RoleAnnotator)
	c.postForm("/runs", a.form("sft", a.sft, nil))
	done := make(chan error, 1)
	go func() { _, err := a.trainer.RunOne(t.Context(), 1); done <- err }()
	deadline := time.Now().Add(time.Minute)
	for run, _ := a.store.Run(t.Context(), 1); run.Step < 1; run, _ = a.store.Run(t.Context(), 1) {
		if time.Now().After(deadline) {
			t.Fatal("the run did not reach step 1")
		}
		time.Sleep(10 * time.Millisecond)
	}
	doc := parse(t, c.htmx(http.MethodPost, "/runs/estimate", a.form("sft", a.sft, nil)))
	if got := testid(doc, "estimate-busy").Text(); got != "Busy: run 1 is training on the GPU; estimate once it has ended" {
		t.Errorf("busy = %q", got)
	}
	if running(doc) {
		t.Error("a refused estimate polls")
	}
	a.open("train-gate")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRunEstimateShowsProblemsAndWorkerErrors(t *testing.T) {
	a := newRunsApp(t)
	c := a.login("ann", store.RoleAnnotator)
	doc := parse(t, c.htmx(http.MethodPost, "/runs/estimate", a.form("sft", a.sft, map[string]string{"learning_rate": "fast", "gpu_price": "cheap"})))
	got := testid(doc, "estimate-problems").Text()
	for _, want := range []string{`Learning rate: "fast" is not a valid value`, `GPU price per hour: "cheap" is not a number of at least 0`} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}
	doc = parse(t, c.htmx(http.MethodPost, "/runs/estimate", a.form("dpo", a.sft, nil)))
	if got := testid(doc, "estimate-problems").Text(); !strings.Contains(got, "snapshot 1 is sft; a dpo run needs a dpo snapshot") {
		t.Errorf("kind mismatch: %q", got)
	}
	if res := c.htmx(http.MethodPost, "/runs/estimate/cancel", url.Values{}); res.StatusCode != http.StatusConflict {
		t.Errorf("cancel without an estimate: status %d, want 409", res.StatusCode)
	}

	a.setWorker(`#!/bin/sh
echo 'Traceback (most recent call last): torch missing' >&2
echo '{"event":"error","message":"a required Python package is missing: torch"}'
exit 3
`)
	parse(t, c.htmx(http.MethodPost, "/runs/estimate", a.form("sft", a.sft, nil)))
	doc = c.poll("/runs/estimate", "the failure", func(d *goquery.Document) bool { return !running(d) })
	if got := testid(doc, "estimate-error").Text(); got != "a required Python package is missing: torch" {
		t.Errorf("error = %q", got)
	}
	if got := testid(doc, "estimate-log").Text(); !strings.Contains(got, "torch missing") {
		t.Errorf("log = %q", got)
	}
	if testid(doc, "estimate-result").Length() != 0 {
		t.Error("a failed estimate shows a result")
	}
}

func TestRunEstimateStop(t *testing.T) {
	a := newGatedRunsApp(t)
	c := a.login("ann", store.RoleAnnotator)
	parse(t, c.htmx(http.MethodPost, "/runs/estimate", a.form("sft", a.sft, nil)))
	c.poll("/runs/estimate", "trial step 1", func(d *goquery.Document) bool {
		return strings.Contains(testid(d, "estimate-step").Text(), "trial step 1 of")
	})
	if res := c.htmx(http.MethodPost, "/runs/estimate/cancel", url.Values{}); res.StatusCode != http.StatusOK {
		t.Fatalf("stop: status %d", res.StatusCode)
	}
	doc := c.poll("/runs/estimate", "the stop", func(d *goquery.Document) bool { return !running(d) })
	if got := testid(doc, "estimate-error").Text(); got != "canceled" {
		t.Errorf("stopped estimate says %q", got)
	}
	// The GPU is free again.
	a.open("train-gate")
	if doc := parse(t, c.htmx(http.MethodPost, "/runs/estimate", a.form("sft", a.sft, nil))); testid(doc, "estimate-busy").Length() != 0 {
		t.Errorf("estimate after a stop: %q", testid(doc, "estimate-busy").Text())
	}
	c.poll("/runs/estimate", "the second estimate", func(d *goquery.Document) bool { return !running(d) })
}
