// Side-by-side chat: Enter sends the question (Shift+Enter starts a new line), every pending answer
// streams from /chat/{id}/stream/{col} over an EventSource, Stop closes it (the server stores what
// was written), Regenerate asks the column's last question again, and code blocks get copy buttons.
// A "busy" event (the server's generation slots or the reader's rate limit are used up) shows its
// message in the column with a Retry button.
// Model output arrives as plain text and is appended as text; only the server's sanitized HTML of
// the finished answer is put in as HTML, with the server's compiler badge placeholder, which HTMX
// then replaces with the badge (GET /chat/{id}/turns/{seq}/check).
"use strict";
(() => {
  const thread = document.getElementById("chat-thread");
  const streams = new Map(); // column → its open EventSource

  function csrf() {
    return document.body.dataset.csrf || "";
  }

  function columnHead(col) {
    return document.querySelector(`[data-chat-columns] [data-col="${col}"]`);
  }

  function setBusy() {
    const busy = streams.size > 0;
    document.querySelectorAll("[data-chat-form] [data-testid=send]").forEach((b) => { b.disabled = busy; });
    document.querySelectorAll("[data-chat-columns] [data-col]").forEach((head) => {
      const stop = head.querySelector("[data-stop]");
      if (stop) stop.hidden = !streams.has(head.dataset.col);
    });
  }

  // showSources lists the documentation a retrieval column's model was given (text and http(s)
  // links only: nothing from the server goes in as HTML).
  function showSources(answer, data) {
    const list = answer.querySelector("[data-answer-sources]");
    if (!list) return;
    let sources;
    try {
      sources = JSON.parse(data);
    } catch {
      return;
    }
    list.replaceChildren(...sources.map((src) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      if (/^https?:\/\//.test(src.url)) link.href = src.url;
      link.rel = "noopener noreferrer";
      link.textContent = `[${src.n}] ${src.title}`;
      item.dataset.n = String(src.n);
      item.append(link);
      return item;
    }));
  }

  // markCited marks the sources the finished answer refers to as [n].
  function markCited(answer) {
    const text = answer.querySelector("[data-answer-body]")?.textContent || "";
    answer.querySelectorAll("[data-answer-sources] li[data-n]").forEach((item) => {
      item.toggleAttribute("data-cited", text.includes(`[${item.dataset.n}]`));
    });
  }

  function addCopyButtons(root) {
    root.querySelectorAll(".answer-body pre").forEach((pre) => {
      if (pre.previousElementSibling?.classList.contains("copy-code")) return;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy-code secondary";
      button.textContent = "Copy";
      button.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(pre.textContent);
          button.textContent = "Copied";
        } catch {
          button.textContent = "Copy failed";
        }
        setTimeout(() => { button.textContent = "Copy"; }, 1500);
      });
      pre.before(button);
    });
  }

  // showBusy puts a refused stream's message into the answer with a button that streams it again.
  function showBusy(answer, data) {
    answer.querySelector("[data-answer-body]").replaceChildren(window.busyMessage(data, () => stream(answer)));
    answer.dataset.busy = "";
  }

  function streamURL(col) {
    const head = columnHead(col);
    const q = new URLSearchParams();
    const t = head?.querySelector("[data-temperature]")?.value;
    const m = head?.querySelector("[data-max-tokens]")?.value;
    const p = head?.querySelector("[data-top-p]")?.value;
    if (t) q.set("temperature", t);
    if (p) q.set("top_p", p);
    if (m) q.set("max_tokens", m);
    return `${thread.dataset.chatUrl}/stream/${encodeURIComponent(col)}?${q}`;
  }

  // showCheck puts the server's badge (or its placeholder, which asks for the badge) under the answer.
  function showCheck(answer, html) {
    const slot = answer.querySelector("[data-answer-check]");
    if (!slot) return;
    slot.innerHTML = html || ""; // rendered by the server
    if (html && window.htmx) window.htmx.process(slot);
  }

  // stream fills one answer from its column's event stream.
  function stream(answer) {
    const col = answer.dataset.col;
    streams.get(col)?.close();
    const body = answer.querySelector("[data-answer-body]");
    const meta = answer.querySelector("[data-answer-meta]");
    const text = document.createElement("div");
    text.className = "streaming-text";
    body.replaceChildren(text);
    meta.textContent = "writing…";
    showCheck(answer, "");
    answer.removeAttribute("data-pending");
    answer.removeAttribute("data-busy");
    answer.dataset.streaming = "";

    const es = new EventSource(streamURL(col));
    const end = (note) => {
      es.close();
      if (streams.get(col) === es) streams.delete(col);
      delete answer.dataset.streaming;
      if (note !== undefined) meta.textContent = note;
      setBusy();
    };
    es.addEventListener("delta", (ev) => { text.append(ev.data); });
    es.addEventListener("sources", (ev) => { showSources(answer, ev.data); });
    es.addEventListener("done", (ev) => {
      let d;
      try {
        d = JSON.parse(ev.data);
      } catch {
        end("the answer could not be read");
        return;
      }
      body.innerHTML = d.html; // rendered and sanitized by the server
      addCopyButtons(answer);
      markCited(answer);
      showCheck(answer, d.check);
      const sampling = columnHead(col)?.querySelector("[data-column-sampling]");
      if (sampling && d.sampling) sampling.textContent = d.sampling;
      end(`${d.finish_reason} · ${d.tokens} tokens`);
    });
    es.addEventListener("failed", (ev) => { end(ev.data); });
    es.addEventListener("busy", (ev) => {
      end("not answered yet");
      showBusy(answer, ev.data);
    });
    es.addEventListener("error", () => {
      if (streams.get(col) === es) end("the connection broke; Regenerate asks again");
    });
    es.stop = () => end("stopped");
    streams.set(col, es);
    setBusy();
  }

  function lastAnswer(col) {
    const all = thread.querySelectorAll(`.chat-exchange:last-child [data-col="${col}"]`);
    return all[all.length - 1];
  }

  async function regenerate(col) {
    streams.get(col)?.stop();
    const answer = lastAnswer(col);
    if (!answer) return;
    const res = await fetch(`${thread.dataset.chatUrl}/columns/${encodeURIComponent(col)}/regenerate`, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() },
    });
    if (!res.ok) {
      answer.querySelector("[data-answer-meta]").textContent = `regenerating failed (${res.status})`;
      return;
    }
    stream(answer);
  }

  function startPending() {
    thread.querySelectorAll("[data-pending]").forEach(stream);
  }

  // Enter sends, Shift+Enter (or an input method's composition) writes a new line.
  document.querySelectorAll("[data-chat-form]").forEach((form) => {
    const box = form.querySelector("textarea[name=question]");
    box?.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter" || ev.shiftKey || ev.isComposing) return;
      ev.preventDefault();
      if (streams.size === 0 && box.value.trim() !== "") form.requestSubmit();
    });
    form.addEventListener("htmx:afterRequest", (ev) => {
      if (ev.detail.successful && box) box.value = "";
    });
  });

  addCopyButtons(document);
  if (!thread) return;
  document.querySelectorAll("[data-chat-columns] [data-col]").forEach((head) => {
    head.querySelector("[data-stop]")?.addEventListener("click", () => streams.get(head.dataset.col)?.stop());
    head.querySelector("[data-regenerate]")?.addEventListener("click", () => regenerate(head.dataset.col));
  });
  thread.addEventListener("htmx:afterSwap", startPending);
  startPending();
})();
