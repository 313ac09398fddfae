package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"rustexpert/dataset"
	"rustexpert/generation"
	"rustexpert/inference"
	"rustexpert/render"
	"rustexpert/store"
	"rustexpert/training"
)

// standInTrainer is a STAND-IN for the training worker ("python -m worker KIND --config
// run.json"): it prints the protocol events of a two-step run and writes an adapter file.
const standInTrainer = `#!/bin/sh
out=$(sed -n 's/^  "output_dir": "\(.*\)",*$/\1/p' "$5")
mkdir -p "$out"
echo 'stand-in worker log line' >&2
echo '{"event":"start","max_steps":2,"resumed_at_step":0,"device":"cpu"}'
echo '{"event":"metric","step":1,"metrics":{"loss":0.69}}'
echo '{"event":"metric","step":2,"metrics":{"loss":0.5}}'
echo '{"r":8}' > "$out/adapter_config.json"
echo '{"event":"done","output":"'$out'","step":2,"metrics":{"train_loss":0.6}}'
`

// runsApp is the app with a training runner whose worker is the stand-in, a built-in base
// model, an endpoint model and one snapshot of each kind.
type runsApp struct {
	*testApp
	trainer *training.Runner
	base    store.Model
	sft     store.Dataset
	dpo     store.Dataset
}

func newRunsApp(t *testing.T) *runsApp {
	t.Helper()
	dir, st, log, hub := testParts(t)
	genFor := func(m store.Model) (inference.Generator, error) {
		return nil, errors.New("no generation in these tests")
	}
	runner := generation.New(st, genFor, hub, log, 1)
	python := filepath.Join(dir, "stand-in-python")
	if err := os.WriteFile(python, []byte(standInTrainer), 0o755); err != nil {
		t.Fatal(err)
	}
	trainer := training.New(st, hub, log, training.Options{Python: python, DataDir: dir})
	md := render.New()
	srv := httptest.NewServer(New(log, st, runner, hub, md, Config{DataDir: dir, Training: trainer}))
	t.Cleanup(srv.Close)
	a := &runsApp{testApp: &testApp{t: t, srv: srv, store: st, hub: hub, runner: runner, md: md, dataDir: dir}, trainer: trainer}
	ctx := t.Context()
	var err error
	if a.base, err = st.CreateModel(ctx, store.ModelInput{Name: "base", Provider: store.ProviderBuiltin, Base: "/models/base.gguf"}); err != nil {
		t.Fatal(err)
	}
	if _, err = st.CreateModel(ctx, store.ModelInput{Name: "remote", Endpoint: "http://127.0.0.1:1/v1"}); err != nil {
		t.Fatal(err)
	}
	q := "What does `?` do?"
	a.sft = a.snapshot("sft", []dataset.SFTRow{{Messages: []dataset.Message{{Role: "user", Content: q}, {Role: "assistant", Content: "It returns early."}},
		PromptID: dataset.PromptID(q)}})
	a.dpo = a.snapshot("dpo", []dataset.DPORow{{Prompt: q, Chosen: "It returns early.", Rejected: "Nothing.", PromptID: dataset.PromptID(q)}})
	return a
}

func (a *runsApp) snapshot(kind string, rows any) store.Dataset {
	a.t.Helper()
	var buf bytes.Buffer
	n, sha, err := dataset.WriteJSONL(&buf, rows)
	if err != nil {
		a.t.Fatal(err)
	}
	rel := filepath.Join("datasets", kind+".jsonl")
	os.MkdirAll(filepath.Join(a.dataDir, "datasets"), 0o755)
	if err := os.WriteFile(filepath.Join(a.dataDir, rel), buf.Bytes(), 0o644); err != nil {
		a.t.Fatal(err)
	}
	d, err := a.store.CreateDataset(a.t.Context(), store.Dataset{Kind: kind, OptionsJSON: "{}", StatsJSON: "{}", SHA256: sha, Rows: n, Path: rel}, 0)
	if err != nil {
		a.t.Fatal(err)
	}
	return d
}

func (a *runsApp) form(kind string, dataset store.Dataset, extra map[string]string) url.Values {
	f := url.Values{"kind": {kind}, "parent": {strconv.FormatInt(a.base.ID, 10)}, "dataset": {strconv.FormatInt(dataset.ID, 10)}}
	for k, v := range extra {
		f.Set(k, v)
	}
	return f
}

func TestRunsPageFormDefaultsByKind(t *testing.T) {
	a := newRunsApp(t)
	c := a.login("ann", store.RoleAnnotator)
	doc := c.page("/runs")
	if v, _ := testid(doc, "run-learning_rate").Attr("value"); v != "0.0002" {
		t.Errorf("SFT learning rate prefilled %q, want 0.0002", v)
	}
	if testid(doc, "run-beta").Length() != 0 {
		t.Error("the SFT form shows β")
	}
	if got := testid(doc, "run-parent").Find("option").Text(); !strings.Contains(got, "base") || strings.Contains(got, "remote") {
		t.Errorf("parent choices %q: want built-in models only", got)
	}
	if got := testid(doc, "run-dataset").Find("option[selected]").AttrOr("value", ""); got != strconv.FormatInt(a.sft.ID, 10) {
		t.Errorf("dataset preselected %q, want the SFT snapshot %d", got, a.sft.ID)
	}
	res := c.htmx(http.MethodGet, "/runs/form?kind=dpo&name=mine", nil)
	frag := parse(t, res)
	if v, _ := testid(frag, "run-learning_rate").Attr("value"); v != "5e-06" {
		t.Errorf("DPO learning rate %q, want 5e-06", v)
	}
	if v, _ := testid(frag, "run-beta").Attr("value"); v != "0.1" {
		t.Errorf("DPO β %q, want 0.1", v)
	}
	if v, _ := testid(frag, "run-name").Attr("value"); v != "mine" {
		t.Errorf("kind change lost the name: %q", v)
	}
	if got := testid(frag, "run-dataset").Find("option").Text(); !strings.Contains(got, "dpo") || strings.Contains(got, " sft ") {
		t.Errorf("DPO form datasets: %q", got)
	}
	viewer := a.login("vic", store.RoleViewer)
	if testid(viewer.page("/runs"), "new-run").Length() != 0 {
		t.Error("a viewer sees the new-run form")
	}
	if res := viewer.postForm("/runs", a.form("sft", a.sft, nil)); res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer starting a run: status %d, want 403", res.StatusCode)
	}
}

func TestRunPreviewShowsExactRunJSON(t *testing.T) {
	a := newRunsApp(t)
	c := a.login("ann", store.RoleAnnotator)
	res := c.htmx(http.MethodPost, "/runs/preview", a.form("dpo", a.dpo, map[string]string{"beta": "0.05", "max_steps": "20"}))
	doc := parse(t, res)
	var cfg training.Config
	if err := json.Unmarshal([]byte(testid(doc, "preview-json").Text()), &cfg); err != nil {
		t.Fatalf("preview is not run.json: %v\n%s", err, testid(doc, "preview-json").Text())
	}
	if cfg.Hyperparameters.Beta != 0.05 || cfg.Hyperparameters.MaxSteps != 20 || cfg.Model != "/models/base.gguf" ||
		cfg.Dataset != filepath.Join(a.dataDir, a.dpo.Path) {
		t.Errorf("previewed config = %+v", cfg)
	}
	if cmd := testid(doc, "preview-command").Text(); !strings.Contains(cmd, " -m worker dpo --config "+filepath.Join(a.dataDir, "runs", "1", "run.json")) {
		t.Errorf("previewed command %q", cmd)
	}
	res = c.htmx(http.MethodPost, "/runs/preview", a.form("dpo", a.sft, map[string]string{"learning_rate": "fast"}))
	problems := testid(parse(t, res), "preview-problems").Text()
	if !strings.Contains(problems, `Learning rate: "fast" is not a valid value`) {
		t.Errorf("problems = %q", problems)
	}
	res = c.htmx(http.MethodPost, "/runs/preview", a.form("dpo", a.sft, nil))
	if problems := testid(parse(t, res), "preview-problems").Text(); !strings.Contains(problems, "snapshot 1 is sft; a dpo run needs a dpo snapshot") {
		t.Errorf("kind mismatch problems = %q", problems)
	}
	if runs, _ := a.store.ListRuns(t.Context(), 10); len(runs) != 0 {
		t.Errorf("preview stored %d runs", len(runs))
	}
}

func TestRunLifecyclePages(t *testing.T) {
	a := newRunsApp(t)
	c := a.login("ann", store.RoleAnnotator)
	res := c.postForm("/runs", a.form("sft", a.sft, map[string]string{"name": "mine", "learning_rate": "1e-4"}))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/runs/1" {
		t.Fatalf("create: status %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
	doc := c.page("/runs/1")
	if st := testid(doc, "run-status").Text(); st != "queued" || testid(doc, "run-cancel").Length() != 1 {
		t.Errorf("queued run page: status %q, cancel %d", st, testid(doc, "run-cancel").Length())
	}
	if _, err := a.trainer.RunOne(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	doc = c.page("/runs/1")
	if st := testid(doc, "run-status").Text(); st != "done" {
		t.Fatalf("status %q, want done; error %q", st, testid(doc, "run-error").Text())
	}
	if got := testid(doc, "run-step").Text(); got != "2/2 (100%)" {
		t.Errorf("step %q", got)
	}
	if got := testid(doc, "run-model").Text(); !strings.Contains(got, "mine") {
		t.Errorf("model link %q", got)
	}
	if got := testid(doc, "run-final").Text(); !strings.Contains(got, "train_loss") || !strings.Contains(got, "0.6") {
		t.Errorf("final metrics %q", got)
	}
	if got := testid(doc, "run-log").Text(); !strings.Contains(got, "stand-in worker log line") {
		t.Errorf("log tail %q", got)
	}
	if testid(doc, "run-cancel").Length() != 0 || testid(doc, "run-resume").Length() != 0 {
		t.Error("a done run offers cancel or resume")
	}
	list := c.page("/runs")
	if row := testid(list, "run-row"); row.Length() != 1 || !strings.Contains(row.Text(), "mine") || !strings.Contains(row.Text(), "2/2") {
		t.Errorf("list row %q", row.Text())
	}
	again := c.page("/runs?from=1")
	if v, _ := testid(again, "run-learning_rate").Attr("value"); v != "0.0001" || testid(again, "run-again-note").Length() != 1 {
		t.Errorf("run again: learning rate %q", v)
	}
}

func TestRunCancelQueuedAndResume(t *testing.T) {
	a := newRunsApp(t)
	c := a.login("ann", store.RoleAnnotator)
	c.postForm("/runs", a.form("dpo", a.dpo, nil))
	if res := c.postForm("/runs/1/cancel", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: status %d", res.StatusCode)
	}
	doc := c.page("/runs/1")
	if st := testid(doc, "run-status").Text(); st != "canceled" || testid(doc, "run-resume").Length() != 1 {
		t.Fatalf("after cancel: %q", st)
	}
	if res := c.postForm("/runs/1/cancel", url.Values{}); res.StatusCode != http.StatusConflict {
		t.Errorf("second cancel: status %d, want 409", res.StatusCode)
	}
	if res := c.postForm("/runs/1/resume", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("resume: status %d", res.StatusCode)
	}
	if st := testid(c.page("/runs/1"), "run-status").Text(); st != "queued" {
		t.Errorf("after resume: %q", st)
	}
	if res := c.get("/runs/99"); res.StatusCode != http.StatusNotFound {
		t.Errorf("missing run: status %d", res.StatusCode)
	}
}

func TestRunSocketSendsSnapshotThenUpdates(t *testing.T) {
	a := newRunsApp(t)
	c := a.login("ann", store.RoleAnnotator)
	c.postForm("/runs", a.form("sft", a.sft, nil))
	dialer := websocket.Dialer{Jar: c.http.Jar, HandshakeTimeout: 5 * time.Second}
	conn, _, err := dialer.Dial(wsURL(a.testApp, "/ws/runs/1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var snap runSnapshot
	if err := conn.ReadJSON(&snap); err != nil || snap.Type != "snapshot" || snap.State.Status != store.RunQueued {
		t.Fatalf("snapshot = %+v, %v", snap, err)
	}
	if _, err := a.trainer.RunOne(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	var metrics []int
	var last training.Update
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		_, msg, err := conn.ReadMessage()
		var closed *websocket.CloseError
		if errors.As(err, &closed) {
			if closed.Code != websocket.CloseNormalClosure {
				t.Errorf("close code %d", closed.Code)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(msg, &last)
		if last.Type == "metric" {
			metrics = append(metrics, last.Step)
		}
	}
	if len(metrics) != 2 || last.Type != "state" || last.State.Status != store.RunDone || last.State.ModelName != "v1" {
		t.Errorf("updates: metric steps %v, last %+v", metrics, last)
	}
	// A finished run's socket sends the stored series and closes.
	conn2, _, err := dialer.Dial(wsURL(a.testApp, "/ws/runs/1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if err := conn2.ReadJSON(&snap); err != nil {
		t.Fatal(err)
	}
	if got := snap.Series["loss"]; len(got) != 2 || got[0] != [2]float64{1, 0.69} || got[1] != [2]float64{2, 0.5} || !snap.State.Finished {
		t.Errorf("finished snapshot: loss %v, state %+v", got, snap.State)
	}
}
