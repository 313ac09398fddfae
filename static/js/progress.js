// Live progress of generation jobs: every [data-job-progress] element (with data-job-id)
// follows its job over a websocket and keeps its numbers and <progress> bar current.
"use strict";
(() => {
  const FINAL = new Set(["succeeded", "failed", "cancelled"]);
  const FIRST_RETRY_MS = 500;
  const MAX_RETRY_MS = 15000;

  function setField(root, name, value) {
    root.querySelectorAll(`[data-field="${name}"]`).forEach((el) => {
      el.textContent = String(value);
    });
  }

  function render(root, p) {
    const total = Number(p.total) || 0;
    const done = Number(p.done) || 0;
    const percent = total > 0 ? Math.floor((done * 100) / total) : 0;
    setField(root, "done", done);
    setField(root, "total", total);
    setField(root, "percent", percent);
    setField(root, "errors", Number(p.errors) || 0);
    setField(root, "tokens_per_sec", (Number(p.tokens_per_sec) || 0).toFixed(1));
    setField(root, "last_error", p.last_error || "");
    root.querySelectorAll('[data-field="status"]').forEach((el) => {
      el.textContent = p.status;
      el.className = `badge ${p.status}`;
    });
    root.querySelectorAll("progress").forEach((bar) => {
      bar.max = Math.max(1, total);
      bar.value = done;
      bar.textContent = `${percent}%`;
    });
    const doneLink = root.querySelector("[data-done-link]");
    if (doneLink) doneLink.hidden = p.status !== "succeeded";
  }

  // reload replaces the element named by data-reload with a fresh copy from the server, so
  // the answers, the buttons and the timestamps show the job's final state.
  async function reload(root) {
    const selector = root.dataset.reload;
    if (!selector) return;
    try {
      const res = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      const fresh = doc.querySelector(selector);
      const current = document.querySelector(selector);
      if (!fresh || !current) return;
      current.replaceWith(fresh);
      if (window.htmx) window.htmx.process(fresh);
      if (fresh.hasAttribute("data-job-progress")) follow(fresh);
    } catch (err) {
      console.warn("reloading the job failed", err);
    }
  }

  function follow(root) {
    const id = root.dataset.jobId;
    if (!id) return;
    const note = root.querySelector("[data-reconnecting]");
    let retries = 0;
    let finished = false;

    const connect = () => {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(`${scheme}//${location.host}/ws/jobs/${encodeURIComponent(id)}`);
      ws.addEventListener("open", () => {
        retries = 0;
        if (note) note.hidden = true;
      });
      ws.addEventListener("message", (ev) => {
        let p;
        try {
          p = JSON.parse(ev.data);
        } catch {
          return;
        }
        render(root, p);
        if (FINAL.has(p.status) && !finished) {
          finished = true;
          reload(root);
        }
      });
      ws.addEventListener("close", () => {
        if (finished || !root.isConnected) return;
        if (note) note.hidden = false;
        // Back off with jitter so many open tabs do not reconnect in step.
        const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** retries) * (0.75 + Math.random() / 2);
        retries += 1;
        setTimeout(connect, delay);
      });
    };
    connect();
  }

  document.querySelectorAll("[data-job-progress]").forEach(follow);
})();
