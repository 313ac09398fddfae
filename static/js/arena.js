// Blind arena battle: both answers stream from /arena/{id}/stream/{a|b} over EventSources (plain
// text appended as text; only the server's sanitized HTML of a finished answer goes in as HTML).
// The vote buttons open once both answers have finished; keys 1/a, 2/b, 3/t, 4/x vote. After the
// vote the page shows the two models' names and each answer's compiler badge (the server's
// placeholder, which HTMX replaces with the badge). A "busy" event (no generation slot, or a rate limit)
// shows its message in that side with a Retry button.
"use strict";
(() => {
  const battle = document.querySelector("[data-testid=arena-battle]");
  if (!battle) return;
  const url = battle.dataset.arenaUrl;
  const form = battle.querySelector("[data-arena-vote]");
  const status = battle.querySelector("[data-arena-status]");
  const buttons = [...form.querySelectorAll("button[data-vote]")];
  const finished = new Set(); // sides whose answer is in
  const keys = { "1": "a", a: "a", "2": "b", b: "b", "3": "tie", t: "tie", "4": "both_bad", x: "both_bad" };
  let voting = false;

  function voted() {
    return battle.hasAttribute("data-voted");
  }

  function update() {
    const ready = finished.size === 2 && !voted();
    buttons.forEach((b) => { b.disabled = !ready || voting; });
    if (ready && !voting) status.textContent = "Both answers are in: vote with the buttons or the keys.";
  }

  // showBusy puts a refused stream's message into the side with a button that streams it again.
  function showBusy(answer, body, data) {
    body.replaceChildren(window.busyMessage(data, () => {
      answer.setAttribute("data-pending", "");
      stream(answer);
    }));
  }


  function stream(answer) {
    const side = answer.dataset.side;
    const body = answer.querySelector("[data-answer-body]");
    const meta = answer.querySelector("[data-answer-meta]");
    const text = document.createElement("div");
    text.className = "streaming-text";
    body.replaceChildren(text);
    meta.textContent = "writing…";
    const es = new EventSource(`${url}/stream/${side}`);
    const end = (note) => {
      es.close();
      answer.removeAttribute("data-pending");
      meta.textContent = note;
    };
    es.addEventListener("delta", (ev) => { text.append(ev.data); });
    es.addEventListener("done", (ev) => {
      let d;
      try {
        d = JSON.parse(ev.data);
      } catch {
        end("the answer could not be read");
        return;
      }
      body.innerHTML = d.html; // rendered and sanitized by the server
      end(`${d.finish_reason} · ${d.tokens} tokens`);
      finished.add(side);
      update();
    });
    es.addEventListener("busy", (ev) => {
      end("not answered yet");
      showBusy(answer, body, ev.data);
    });
    es.addEventListener("failed", (ev) => {
      answer.setAttribute("data-failed", "");
      end(ev.data);
      status.textContent = "A model failed to answer; this battle cannot be voted. Start a new battle.";
    });
    es.addEventListener("error", () => {
      if (es.readyState === EventSource.CLOSED || !answer.hasAttribute("data-pending")) return;
      end("the connection broke; reload the page to ask again");
    });
  }

  async function vote(choice) {
    if (voting || voted() || finished.size !== 2) return;
    voting = true;
    update();
    const body = new URLSearchParams({ vote: choice });
    let res;
    try {
      res = await fetch(`${url}/vote`, {
        method: "POST", credentials: "same-origin", body,
        headers: { "X-CSRF-Token": document.body.dataset.csrf || "", Accept: "application/json" },
      });
    } catch {
      status.textContent = "The vote did not reach the server; try again.";
      voting = false;
      update();
      return;
    }
    if (!res.ok) {
      status.textContent = (await res.text()).trim() || `The vote failed (${res.status}).`;
      voting = false;
      update();
      return;
    }
    const d = await res.json();
    battle.setAttribute("data-voted", "");
    voting = false;
    ["a", "b"].forEach((side, i) => {
      const name = battle.querySelector(`[data-model-name="${side}"]`);
      if (name) name.textContent = d.models[i];
      const slot = battle.querySelector(`[data-side="${side}"] [data-answer-check]`);
      if (slot && d.checks?.[i]) {
        slot.innerHTML = d.checks[i]; // rendered by the server
        window.htmx?.process(slot);
      }
    });
    buttons.forEach((b) => b.classList.toggle("chosen", b.dataset.vote === d.vote));
    status.textContent = `Your vote: ${d.label}.` + (d.dropped ? ` This battle does not count: ${d.dropped}.` : "");
    update();
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const choice = ev.submitter?.dataset.vote;
    if (choice) vote(choice);
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.target.closest?.("input, textarea, select")) return;
    const choice = keys[ev.key.toLowerCase()];
    if (!choice) return;
    ev.preventDefault();
    vote(choice);
  });

  battle.querySelectorAll("[data-side]").forEach((answer) => {
    if (answer.hasAttribute("data-pending")) stream(answer);
    else if (!answer.hasAttribute("data-failed")) finished.add(answer.dataset.side);
  });
  update();
})();
