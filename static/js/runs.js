// The run page: follows a training run over its websocket (/ws/runs/{id}) and keeps the
// status, step, elapsed time, ETA, log tail and one small uPlot chart per metric current.
"use strict";
(() => {
  const root = document.querySelector("#run-detail[data-run-id]");
  if (!root) return;
  const id = root.dataset.runId;
  const chartsBox = document.querySelector("[data-charts]");
  const logBox = document.querySelector("[data-log]");
  const logToggle = document.querySelector("[data-log-scale]");
  const MAX_LOG_LINES = 200;
  const FIRST_RETRY_MS = 500;
  const MAX_RETRY_MS = 15000;

  const series = new Map(); // metric name → Map(step → value)
  const charts = new Map(); // metric name → { plot, box, log }
  let state = null;
  let wasFinished = root.dataset.finished === "true";

  function setField(name, value) {
    root.querySelectorAll(`[data-field="${name}"]`).forEach((el) => {
      el.textContent = String(value);
    });
  }

  function duration(sec) {
    if (!(sec > 0)) return "";
    sec = Math.round(sec);
    const h = Math.floor(sec / 3600);
    const m = Math.floor((sec % 3600) / 60);
    const s = sec % 60;
    if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
    if (m > 0) return `${m}m${String(s).padStart(2, "0")}s`;
    return `${s}s`;
  }

  function renderState(st) {
    state = st;
    state.receivedAt = Date.now();
    setField("step", st.step);
    setField("max_steps", st.max_steps);
    setField("percent", st.percent);
    setField("device", st.device || "");
    setField("checkpoint", st.checkpoint || "");
    setField("elapsed", duration(st.elapsed_s));
    setField("eta", st.eta_s >= 0 ? duration(Math.max(1, st.eta_s)) : "");
    const err = root.querySelector('[data-field="error"]');
    if (err) {
      err.textContent = st.error || "";
      err.hidden = !st.error;
    }
    root.querySelectorAll('[data-field="status"]').forEach((el) => {
      el.textContent = st.status;
      const colour = { done: "succeeded", failed: "failed", interrupted: "failed", canceled: "cancelled" }[st.status] || st.status;
      el.className = `badge ${st.status} ${colour}`;
    });
    root.querySelectorAll("progress").forEach((bar) => {
      bar.max = Math.max(1, st.max_steps);
      bar.value = st.step;
      bar.textContent = `${st.percent}%`;
    });
    // A run that ends while the page is open: reload once for the buttons, final metrics and model link.
    if (st.finished && !wasFinished) {
      wasFinished = true;
      setTimeout(() => location.reload(), 300);
    }
    if (!st.finished) wasFinished = false;
  }

  // The elapsed clock ticks between updates while the run runs.
  setInterval(() => {
    if (!state || state.status !== "running") return;
    const extra = (Date.now() - state.receivedAt) / 1000;
    setField("elapsed", duration(state.elapsed_s + extra));
  }, 1000);

  function appendLog(lines) {
    if (!logBox || !lines || lines.length === 0) return;
    const kept = (logBox.textContent ? logBox.textContent.replace(/\n$/, "").split("\n") : []).concat(lines);
    logBox.textContent = kept.slice(-MAX_LOG_LINES).join("\n") + "\n";
    logBox.scrollTop = logBox.scrollHeight;
  }

  function addPoint(name, step, value) {
    if (typeof value !== "number" || !isFinite(value)) return;
    if (!series.has(name)) series.set(name, new Map());
    series.get(name).set(step, value);
  }

  // Metric order: losses first, then rewards, then the rest by name.
  function rank(name) {
    if (name === "loss") return 0;
    if (name === "eval_loss") return 1;
    if (name.startsWith("rewards/")) return 2;
    return 3;
  }

  function data(name) {
    const points = [...series.get(name).entries()].sort((a, b) => a[0] - b[0]);
    return [points.map((p) => p[0]), points.map((p) => p[1])];
  }

  function chartWidth() {
    const w = chartsBox.clientWidth || 900;
    return Math.max(240, Math.min(420, Math.floor(w / 2) - 16));
  }

  function options(name, log, values) {
    // A log scale needs positive values; a metric with zero or negatives stays linear.
    const canLog = log && values.every((v) => v > 0);
    return {
      title: name,
      width: chartWidth(),
      height: 180,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false }, y: canLog ? { distr: 3 } : { auto: true } },
      axes: [{ label: "step" }, {}],
      // With a handful of points, points are drawn as dots so one point is visible.
      series: [{ label: "step" }, { label: name, stroke: "#b7410e", width: 1.5, points: { show: values.length <= 5, size: 5 } }],
    };
  }

  function draw(name) {
    if (!window.uPlot || !chartsBox) return;
    const d = data(name);
    const log = !!(logToggle && logToggle.checked);
    const existing = charts.get(name);
    if (existing && existing.log === log && existing.points === (d[0].length <= 5)) {
      existing.plot.setData(d);
      return;
    }
    if (existing) existing.plot.destroy();
    let box = existing ? existing.box : null;
    if (!box) {
      box = document.createElement("div");
      box.className = "run-chart";
      box.dataset.metric = name;
      box.style.display = "inline-block";
      box.style.margin = "0 8px 8px 0";
      insertSorted(box, name);
    }
    box.textContent = "";
    const plot = new window.uPlot(options(name, log, d[1]), d, box);
    charts.set(name, { plot, box, log, points: d[0].length <= 5 });
  }

  function insertSorted(box, name) {
    const empty = chartsBox.querySelector("[data-no-metrics]");
    if (empty) empty.remove();
    const after = [...chartsBox.querySelectorAll(".run-chart")].find((el) => {
      const other = el.dataset.metric;
      return rank(name) < rank(other) || (rank(name) === rank(other) && name < other);
    });
    chartsBox.insertBefore(box, after || null);
  }

  function drawAll() {
    [...series.keys()].forEach(draw);
  }

  if (logToggle) logToggle.addEventListener("change", drawAll);

  function handle(msg) {
    switch (msg.type) {
      case "snapshot":
        renderState(msg.state);
        Object.entries(msg.series || {}).forEach(([name, pts]) => pts.forEach(([step, v]) => addPoint(name, step, v)));
        if (logBox && msg.lines) logBox.textContent = "";
        appendLog(msg.lines);
        drawAll();
        break;
      case "state":
        if (msg.state) renderState(msg.state);
        break;
      case "metric":
        Object.entries(msg.metrics || {}).forEach(([name, v]) => {
          addPoint(name, msg.step, v);
          draw(name);
        });
        if (state && msg.step > state.step) {
          state.step = msg.step;
          setField("step", msg.step);
        }
        break;
      case "log":
        appendLog(msg.lines);
        break;
    }
  }

  let retries = 0;
  function connect() {
    const note = root.querySelector("[data-reconnecting]");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws/runs/${encodeURIComponent(id)}`);
    ws.addEventListener("open", () => {
      retries = 0;
      if (note) note.hidden = true;
    });
    ws.addEventListener("message", (ev) => {
      try {
        handle(JSON.parse(ev.data));
      } catch (err) {
        console.warn("run update", err);
      }
    });
    ws.addEventListener("close", (ev) => {
      if (ev.code === 1000 && state && state.finished) return;
      if (note) note.hidden = false;
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** retries) * (0.75 + Math.random() / 2);
      retries += 1;
      setTimeout(connect, delay);
    });
  }
  // uPlot loads with defer before this script; connect once the page is parsed.
  connect();
})();
