// Live progress of the docs sources page: the running task's [data-rag-task] element follows it
// over a websocket and keeps its bar and counts current; when the task ends (or another one is
// seen), the sources section is loaded again to show the stored report and the new counts.
"use strict";
(() => {
  const FIRST_RETRY_MS = 500;
  const MAX_RETRY_MS = 15000;

  function setField(root, name, value) {
    root.querySelectorAll(`[data-field="${name}"]`).forEach((el) => {
      el.textContent = String(value);
    });
  }

  function render(root, t) {
    const total = Number(t.total) || 0;
    const done = Number(t.done) || 0;
    const percent = total > 0 ? Math.floor((done * 100) / total) : t.running ? 0 : 100;
    for (const name of ["written", "chunks", "skipped"]) setField(root, name, Number(t[name]) || 0);
    setField(root, "done", done);
    setField(root, "total", total);
    setField(root, "percent", percent);
    setField(root, "file", t.file || "");
    setField(root, "summary", t.summary || "");
    setField(root, "state", t.running ? "running" : "done");
    root.querySelectorAll('[data-field="error"]').forEach((el) => {
      el.textContent = t.error || "";
      el.hidden = !t.error;
    });
    root.querySelectorAll("progress").forEach((bar) => {
      bar.max = Math.max(1, total);
      bar.value = total > 0 ? done : t.running ? 0 : 1;
      bar.textContent = `${percent}%`;
    });
    root.dataset.running = String(Boolean(t.running));
  }

  // reload replaces the sources section with a fresh copy from the server.
  async function reload() {
    try {
      const res = await fetch(location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      const fresh = doc.querySelector("#rag-sources");
      const current = document.querySelector("#rag-sources");
      if (!fresh || !current) return;
      current.replaceWith(fresh);
      start();
    } catch (err) {
      console.warn("reloading the sources failed", err);
    }
  }

  function taskKey(t) {
    return t.kind === "embed" ? "embed" : t.source;
  }

  function follow(root) {
    const note = root.querySelector("[data-reconnecting]");
    let retries = 0;
    let ended = false;

    const connect = () => {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(`${scheme}//${location.host}/ws/rag/tasks`);
      ws.addEventListener("open", () => {
        retries = 0;
        if (note) note.hidden = true;
      });
      ws.addEventListener("message", (ev) => {
        let t;
        try {
          t = JSON.parse(ev.data);
        } catch {
          return;
        }
        if (ended) return;
        if (taskKey(t) !== root.dataset.ragTask) {
          ended = true;
          reload();
          return;
        }
        render(root, t);
        if (!t.running) {
          ended = true;
          reload();
        }
      });
      ws.addEventListener("close", () => {
        if (ended || !root.isConnected) return;
        if (note) note.hidden = false;
        // Back off with jitter so many open pages do not reconnect in step.
        const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** retries) * (0.75 + Math.random() / 2);
        retries += 1;
        setTimeout(connect, delay);
      });
    };
    connect();
  }

  function start() {
    document.querySelectorAll('[data-rag-task][data-running="true"]').forEach(follow);
  }

  start();
})();
