package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"

	"rustexpert/store"
	"rustexpert/training"
	"rustexpert/web"
)

const runListSize = 100

// runFields are the settings the new-run form shows, by their keys for training.Config.Set;
// dpoOnly ones are left out of SFT forms.
var runFields = []struct {
	key, label string
	dpoOnly    bool
}{
	{"learning_rate", "Learning rate", false},
	{"epochs", "Epochs", false},
	{"max_steps", "Max steps (-1: by epochs)", false},
	{"per_device_batch_size", "Batch per device", false},
	{"gradient_accumulation", "Gradient accumulation", false},
	{"warmup_ratio", "Warm-up ratio", false},
	{"lr_scheduler", "LR schedule", false},
	{"max_length", "Max length (tokens)", false},
	{"compile_layers", "Compile decoder layers (true/false, GPU)", false},
	{"beta", "β", true},
	{"loss_type", "Loss", true},
	{"lora.r", "LoRA r", false},
	{"lora.alpha", "LoRA α", false},
	{"lora.dropout", "LoRA dropout", false},
	{"lora.quantization", "Base in 4 bits (nf4 = QLoRA; none)", false},
	{"eval_fraction", "Eval fraction", false},
	{"logging_steps", "Log every N steps", false},
	{"save_steps", "Checkpoint every N steps", false},
	{"seed", "Seed", false},
}

// trainer returns the training runner, or an error when the server has none.
func (s *Server) trainer() (*training.Runner, error) {
	if s.cfg.Training == nil {
		return nil, fmt.Errorf("%w: training is not set up on this server", store.ErrNotFound)
	}
	return s.cfg.Training, nil
}

// settingValue reads one setting of a config as the form shows it.
func settingValue(cfg training.Config, key string) string {
	b, _ := json.Marshal(cfg)
	var m map[string]any
	json.Unmarshal(b, &m)
	section, name, nested := strings.Cut(key, ".")
	if !nested {
		if v, ok := m[key]; ok {
			return formatSetting(v)
		}
		section, name = "hyperparameters", key
	}
	sec, _ := m[section].(map[string]any)
	return formatSetting(sec[name])
}

func formatSetting(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return x
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// runForm builds the form for kind with the settings of cfg.
func (s *Server) runForm(ctx context.Context, kind string, cfg training.Config, f web.RunForm) (web.RunForm, error) {
	f.Kind = kind
	models, err := s.store.ListModels(ctx)
	if err != nil {
		return f, err
	}
	for _, m := range models {
		if m.Provider == store.ProviderBuiltin {
			f.Parents = append(f.Parents, web.RunOption{ID: m.ID, Label: m.Name})
		}
	}
	sets, err := s.store.ListDatasets(ctx)
	if err != nil {
		return f, err
	}
	for _, d := range sets {
		if d.Kind == kind {
			f.Datasets = append(f.Datasets, web.RunOption{ID: d.ID, Label: datasetLabel(d)})
		}
	}
	if f.DatasetID == "" && len(f.Datasets) > 0 {
		f.DatasetID = strconv.FormatInt(f.Datasets[0].ID, 10)
	}
	saved, err := s.store.SavedConfigs(ctx, "")
	if err != nil {
		return f, err
	}
	f.Saved = savedConfigOptions(saved)
	f.Fields = nil
	for _, fl := range runFields {
		if fl.dpoOnly && kind != store.RunDPO {
			continue
		}
		f.Fields = append(f.Fields, web.RunField{Key: fl.key, Label: fl.label, Value: settingValue(cfg, fl.key)})
	}
	return f, nil
}

func datasetLabel(d store.Dataset) string {
	return fmt.Sprintf("#%d %s · %d rows · %s", d.ID, d.Kind, d.Rows, d.CreatedAt.Local().Format(timeLayout))
}

func formKind(r *http.Request) string {
	if r.FormValue("kind") == store.RunDPO {
		return store.RunDPO
	}
	return store.RunSFT
}

// runRequest reads the form into a request: the kind's defaults with every typed setting set.
func runRequest(r *http.Request) (training.Request, []string) {
	kind := formKind(r)
	req := training.Request{Kind: kind, Name: strings.TrimSpace(r.FormValue("name")), Settings: training.Defaults(kind),
		CreatedBy: userFrom(r).ID}
	var problems []string
	req.ParentID, _ = strconv.ParseInt(r.FormValue("parent"), 10, 64)
	req.DatasetID, _ = strconv.ParseInt(r.FormValue("dataset"), 10, 64)
	for _, fl := range runFields {
		v := strings.TrimSpace(r.FormValue(fl.key))
		if v == "" || (fl.dpoOnly && kind != store.RunDPO) {
			continue
		}
		if err := req.Settings.Set(fl.key, v); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not a valid value", fl.label, v))
		}
	}
	return req, problems
}

// formFrom keeps what the user typed for the form shown again.
func formFrom(r *http.Request) web.RunForm {
	return web.RunForm{ParentID: r.FormValue("parent"), DatasetID: r.FormValue("dataset"), Name: strings.TrimSpace(r.FormValue("name")),
		ConfigName: strings.TrimSpace(r.FormValue("config_name")), GPUPrice: strings.TrimSpace(r.FormValue("gpu_price"))}
}

func (s *Server) handleRunsPage(w http.ResponseWriter, r *http.Request) {
	kind, cfg, form := store.RunSFT, training.Defaults(store.RunSFT), web.RunForm{}
	if from := r.URL.Query().Get("from"); from != "" {
		id, _ := strconv.ParseInt(from, 10, 64)
		run, err := s.store.Run(r.Context(), id)
		if err != nil {
			s.error(w, r, err)
			return
		}
		if cfg, err = training.ParseConfig([]byte(run.ConfigJSON)); err != nil {
			s.error(w, r, err)
			return
		}
		kind = run.Kind
		form = web.RunForm{ParentID: strconv.FormatInt(run.ParentID, 10), DatasetID: strconv.FormatInt(run.DatasetID, 10), Name: run.Name, FromRun: run.ID}
	} else if id := r.URL.Query().Get("config"); id != "" {
		var err error
		if kind, cfg, form, err = s.savedConfigForm(r.Context(), id); err != nil {
			s.error(w, r, err)
			return
		}
	} else if r.URL.Query().Get("kind") == store.RunDPO {
		kind, cfg = store.RunDPO, training.Defaults(store.RunDPO)
	}
	vm, err := s.runsPage(r, kind, cfg, form)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.RunsView(vm))
}

func (s *Server) runsPage(r *http.Request, kind string, cfg training.Config, form web.RunForm) (web.RunsPage, error) {
	ctx := r.Context()
	vm := web.RunsPage{Nav: s.nav(r, "Runs"), Enabled: s.cfg.Training != nil}
	var err error
	if vm.Form, err = s.runForm(ctx, kind, cfg, form); err != nil {
		return vm, err
	}
	if tr := s.cfg.Training; tr != nil {
		vm.Estimate = estimateBox(tr, time.Now())
	}
	saved, err := s.store.SavedConfigs(ctx, "")
	if err != nil {
		return vm, err
	}
	vm.Configs = savedConfigRows(saved)
	runs, err := s.store.ListRuns(ctx, runListSize)
	if err != nil {
		return vm, err
	}
	now := time.Now()
	for _, run := range runs {
		st := training.StateOf(run, now)
		vm.Runs = append(vm.Runs, web.RunRow{ID: run.ID, Kind: run.Kind, Name: run.Name, Status: run.Status, Parent: run.ParentName,
			Dataset: datasetName(run.DatasetID), Step: run.Step, MaxSteps: run.MaxSteps, Percent: st.Percent,
			Started: formatJobTime(run.StartedAt), Duration: formatDuration(st.ElapsedS), Model: run.ModelName, ModelID: run.ModelID})
	}
	return vm, nil
}

func datasetName(id int64) string {
	if id == 0 {
		return ""
	}
	return "#" + strconv.FormatInt(id, 10)
}

// formatDuration shows seconds as 1h02m, 3m05s or 12s; "" for none.
func formatDuration(sec float64) string {
	if sec <= 0 {
		return ""
	}
	d := time.Duration(sec) * time.Second
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
}

// handleRunForm answers a change of the form's kind with the form for that kind, its defaults
// and its snapshots, keeping the parent and the name; with load_config, it is the saved config's
// form.
func (s *Server) handleRunForm(w http.ResponseWriter, r *http.Request) {
	kind, cfg := formKind(r), training.Defaults(formKind(r))
	f := formFrom(r)
	f.DatasetID = ""
	if id := r.FormValue("load_config"); id != "" {
		var err error
		if kind, cfg, f, err = s.savedConfigForm(r.Context(), id); err != nil {
			s.error(w, r, err)
			return
		}
	}
	form, err := s.runForm(r.Context(), kind, cfg, f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.RunFormView(form, s.nav(r, "").CSRFToken))
}

// handleRunPreview shows the run.json and command line the form would start.
func (s *Server) handleRunPreview(w http.ResponseWriter, r *http.Request) {
	tr, err := s.trainer()
	if err != nil {
		s.error(w, r, err)
		return
	}
	req, problems := runRequest(r)
	var p web.RunPreview
	if len(problems) > 0 {
		p.Problems = problems
	} else if cfg, cmd, err := tr.Preview(r.Context(), req); err != nil {
		var ce *training.ConfigError
		if !errors.As(err, &ce) {
			s.error(w, r, err)
			return
		}
		p.Problems = ce.Problems
	} else {
		p.JSON, p.Command = string(cfg.JSON()), shellQuote(cmd)
	}
	s.render(w, r, http.StatusOK, web.RunPreviewView(p))
}

// shellQuote joins a command line, quoting the words a shell would split or expand.
func shellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

func (s *Server) handleRunCreate(w http.ResponseWriter, r *http.Request) {
	tr, err := s.trainer()
	if err != nil {
		s.error(w, r, err)
		return
	}
	req, problems := runRequest(r)
	if len(problems) == 0 {
		run, err := tr.Create(r.Context(), req)
		if err == nil {
			http.Redirect(w, r, runPath(run.ID), http.StatusSeeOther)
			return
		}
		var ce *training.ConfigError
		switch {
		case errors.As(err, &ce):
			problems = ce.Problems
		case errors.Is(err, store.ErrInvalid):
			problems = []string{formMessage(err)}
		default:
			s.error(w, r, err)
			return
		}
	}
	vm, err := s.runsPage(r, req.Kind, req.Settings, formFrom(r))
	if err != nil {
		s.error(w, r, err)
		return
	}
	for _, p := range problems {
		vm.Errors = append(vm.Errors, web.FieldError{Message: p})
	}
	s.render(w, r, http.StatusUnprocessableEntity, web.RunsView(vm))
}

func runPath(id int64) string { return "/runs/" + strconv.FormatInt(id, 10) }

func (s *Server) runFromURL(r *http.Request) (store.Run, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		return store.Run{}, fmt.Errorf("run id: %w", store.ErrNotFound)
	}
	return s.store.Run(r.Context(), id)
}

func (s *Server) handleRunPage(w http.ResponseWriter, r *http.Request) {
	run, err := s.runFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	st := training.StateOf(run, time.Now())
	var logTail []string
	if tr, err := s.trainer(); err == nil {
		if st, err = tr.State(r.Context(), run.ID); err != nil {
			s.error(w, r, err)
			return
		}
		logTail = tr.LogTail(run.ID)
	}
	vm := web.RunPage{
		Nav: s.nav(r, "Runs"), ID: run.ID, Kind: run.Kind, Name: run.Name, Parent: run.ParentName, ParentID: run.ParentID,
		Dataset: datasetName(run.DatasetID), DatasetID: run.DatasetID, State: stateView(st), ConfigJSON: run.ConfigJSON,
		Log: logTail, CanCancel: !run.Finished(), CanResume: run.Resumable(),
		CreatedAt: formatJobTime(run.CreatedAt), FinishedAt: formatJobTime(run.FinishedAt),
	}
	if tr, err := s.trainer(); err == nil && vm.Nav.CanEdit() && run.Status == store.RunDone && run.ModelID != 0 {
		if model, err := s.store.Model(r.Context(), run.ModelID); err == nil {
			box := s.exportBox(r, tr, run, model)
			vm.Export = &box
		}
	}
	names := make([]string, 0, len(st.Final))
	for k := range st.Final {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		vm.Final = append(vm.Final, web.RunMetric{Name: k, Value: strconv.FormatFloat(st.Final[k], 'g', 6, 64)})
	}
	s.render(w, r, http.StatusOK, web.RunView(vm))
}

func stateView(st training.State) web.RunStateView {
	v := web.RunStateView{Status: st.Status, Step: st.Step, MaxSteps: st.MaxSteps, Percent: st.Percent, Elapsed: formatDuration(st.ElapsedS),
		Device: st.Device, Checkpoint: st.Checkpoint, Error: st.Error, StartedAt: st.StartedAt, ModelID: st.ModelID,
		ModelName: st.ModelName, Finished: st.Finished}
	if st.ETAS >= 0 {
		v.ETA = formatDuration(max(st.ETAS, 1))
	}
	return v
}

// handleRunCancel cancels a run. A queued run's cancel is audited in its own transaction; a running
// one is stopped by a signal, so its audit row is written once the signal is sent.
func (s *Server) handleRunCancel(w http.ResponseWriter, r *http.Request) {
	s.runAction(w, r, func(tr *training.Runner, ctx context.Context, id int64) error {
		run, err := s.store.Run(ctx, id)
		if err != nil {
			return err
		}
		if err := tr.Cancel(ctx, id); err != nil || run.Status != store.RunRunning {
			return err
		}
		return s.store.RecordAudit(ctx, "run.cancel", fmt.Sprintf("run %d", id), map[string]any{"was": store.RunRunning})
	})
}

func (s *Server) handleRunResume(w http.ResponseWriter, r *http.Request) {
	s.runAction(w, r, (*training.Runner).Resume)
}

func (s *Server) runAction(w http.ResponseWriter, r *http.Request, act func(*training.Runner, context.Context, int64) error) {
	tr, err := s.trainer()
	if err != nil {
		s.error(w, r, err)
		return
	}
	run, err := s.runFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := act(tr, r.Context(), run.ID); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, runPath(run.ID), http.StatusSeeOther)
}

// runSnapshot is the first message of a run's websocket: its state, every metric stored so far
// (name → [step, value] pairs) and the log tail.
type runSnapshot struct {
	Type   string                  `json:"type"`
	State  training.State          `json:"state"`
	Series map[string][][2]float64 `json:"series"`
	Lines  []string                `json:"lines"`
}

// handleRunSocket streams a run: a snapshot at once, then every update the runner publishes
// (state, metric, log), until the run ends, the client leaves or falls too far behind.
func (s *Server) handleRunSocket(w http.ResponseWriter, r *http.Request) {
	tr, err := s.trainer()
	if err != nil {
		s.error(w, r, err)
		return
	}
	run, err := s.runFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	// Subscribe before reading the snapshot so that no update falls between the two; the page
	// replaces a step it already has.
	updates, unsubscribe := s.hub.Subscribe(training.Topic(run.ID))
	defer unsubscribe()
	snap, err := s.runSnapshot(r.Context(), tr, run.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	upgrader := websocket.Upgrader{CheckOrigin: sameHost}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	first, _ := json.Marshal(snap)
	gone := readUntilGone(conn)
	reason := streamProgress(conn, first, snap.State.Finished, updates, gone, runFinished, "run finished")
	s.log.Debug("run websocket closed", slog.Int64("run_id", run.ID), slog.String("reason", reason))
}

func (s *Server) runSnapshot(ctx context.Context, tr *training.Runner, id int64) (runSnapshot, error) {
	st, err := tr.State(ctx, id)
	if err != nil {
		return runSnapshot{}, err
	}
	points, err := s.store.RunMetrics(ctx, id)
	if err != nil {
		return runSnapshot{}, err
	}
	series := map[string][][2]float64{}
	for _, p := range points {
		series[p.Name] = append(series[p.Name], [2]float64{float64(p.Step), p.Value})
	}
	return runSnapshot{Type: "snapshot", State: st, Series: series, Lines: tr.LogTail(id)}, nil
}

func runFinished(msg []byte) bool {
	var u training.Update
	if err := json.Unmarshal(msg, &u); err != nil {
		return false
	}
	return u.Type == "state" && u.State != nil && u.State.Finished
}
