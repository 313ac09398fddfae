// Keyboard-first labelling on the annotate focus view. The page works as a plain form without this
// script; the script adds keys, marks the picked answers and records the time spent on the page.
"use strict";

(function () {
  const form = document.getElementById("label-form");
  if (!form) {
    return;
  }
  const answers = Array.from(form.querySelectorAll("[data-testid=answer]"));
  const rationale = document.getElementById("rationale");
  const msSpent = document.getElementById("ms-spent");
  const undoForm = document.getElementById("undo-form");
  const prevLink = document.getElementById("prev-item");
  const nextLink = document.getElementById("next-item");
  const acceptSuggestion = document.getElementById("accept-suggestion");

  // Time on the page counts only while the tab is visible.
  let visibleMS = 0;
  let visibleSince = document.hidden ? null : performance.now();
  document.addEventListener("visibilitychange", function () {
    if (document.hidden && visibleSince !== null) {
      visibleMS += performance.now() - visibleSince;
      visibleSince = null;
    } else if (!document.hidden && visibleSince === null) {
      visibleSince = performance.now();
    }
  });
  function spentMS() {
    const running = visibleSince === null ? 0 : performance.now() - visibleSince;
    return Math.round(visibleMS + running);
  }

  let submitting = false;
  form.addEventListener("submit", function (event) {
    if (submitting) {
      event.preventDefault();
      return;
    }
    submitting = true;
    msSpent.value = String(spentMS());
  });

  function radio(answer, name) {
    return answer.querySelector("input[name=" + name + "]");
  }

  // markPicks gives the picked answers the best/worst classes; with two answers the one not picked
  // as best is the worst.
  function markPicks() {
    const best = answers.find((a) => radio(a, "best") && radio(a, "best").checked);
    answers.forEach(function (a) {
      const worstRadio = radio(a, "worst");
      const worst = worstRadio ? worstRadio.checked : answers.length === 2 && best !== undefined && a !== best;
      a.classList.toggle("best", a === best);
      a.classList.toggle("worst", worst);
    });
  }

  // A dragged ranking (three or more answers): its first answer is the best and its last the worst.
  // Its fields are submitted only once the annotator has dragged; best/worst picks move the picked
  // answer to the top or the bottom, so both ways of choosing stay in step.
  const rankList = document.getElementById("rank-list");
  const rankFields = document.getElementById("rank-fields");
  let ranked = false;

  function rankItems() {
    return Array.from(rankList.querySelectorAll("li"));
  }

  function writeRanking() {
    if (!ranked) {
      return;
    }
    rankFields.replaceChildren(...rankItems().map(function (li) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = "rank";
      input.value = li.dataset.id;
      return input;
    }));
  }

  function answerByID(id) {
    return answers.find((a) => a.dataset.responseId === id);
  }

  function picksFromRanking() {
    const items = rankItems();
    const best = answerByID(items[0].dataset.id);
    const worst = answerByID(items[items.length - 1].dataset.id);
    answers.forEach(function (a) {
      radio(a, "best").checked = a === best;
      radio(a, "worst").checked = a === worst;
    });
    markPicks();
  }

  // moveInRanking puts a picked answer first (best) or last (worst).
  function moveInRanking(answer, name) {
    if (!rankList || !answer) {
      return;
    }
    const li = rankItems().find((item) => item.dataset.id === answer.dataset.responseId);
    if (name === "best") {
      rankList.prepend(li);
    } else {
      rankList.append(li);
    }
    writeRanking();
  }

  if (rankList && window.Sortable) {
    window.Sortable.create(rankList, {
      animation: 120,
      onEnd: function () {
        ranked = true;
        writeRanking();
        picksFromRanking();
      },
    });
  }

  // pick checks one answer's radio; an answer cannot be best and worst at once.
  function pick(index, name) {
    const answer = answers[index];
    if (!answer) {
      return;
    }
    const chosen = radio(answer, name);
    if (!chosen) {
      return;
    }
    chosen.checked = true;
    const other = radio(answer, name === "best" ? "worst" : "best");
    if (other) {
      other.checked = false;
    }
    moveInRanking(answer, name);
    markPicks();
  }

  form.addEventListener("change", function (event) {
    const target = event.target;
    if (target.name === "best" || target.name === "worst") {
      const answer = target.closest("[data-testid=answer]");
      const other = radio(answer, target.name === "best" ? "worst" : "best");
      if (other) {
        other.checked = false;
      }
      moveInRanking(answer, target.name);
      markPicks();
    }
  });

  function submitWith(verdict) {
    const button = form.querySelector("button[name=verdict][value=" + verdict + "]");
    if (!button) {
      return;
    }
    form.requestSubmit(button);
  }

  function isTyping(target) {
    return target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement ||
      (target instanceof HTMLInputElement && !["radio", "checkbox", "button", "submit"].includes(target.type));
  }

  // Enter on a focused button or link keeps its own meaning (it clicks that control).
  function enterActivates(target) {
    return target instanceof HTMLButtonElement || target instanceof HTMLAnchorElement ||
      (target instanceof HTMLElement && target.tagName === "SUMMARY");
  }

  const digit = /^(?:Digit|Numpad)([1-4])$/;

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing || event.altKey || event.metaKey) {
      return;
    }
    const target = event.target;
    if (isTyping(target)) {
      if (event.key === "Escape") {
        target.blur();
        event.preventDefault();
      } else if (event.key === "Enter" && event.ctrlKey) {
        event.preventDefault();
        submitWith("pair");
      }
      return;
    }
    if (event.ctrlKey) {
      if (event.key === "Enter") {
        event.preventDefault();
        submitWith("pair");
      }
      return;
    }
    // event.code, not event.key: Shift turns "1" into "!" on most layouts.
    const m = digit.exec(event.code);
    if (m) {
      event.preventDefault();
      pick(Number(m[1]) - 1, event.shiftKey ? "worst" : "best");
      return;
    }
    if (event.shiftKey) {
      return;
    }
    // Letters by event.key, so that they follow the keyboard layout.
    switch (event.key.toLowerCase()) {
      case "t":
        event.preventDefault();
        submitWith("tie");
        break;
      case "b":
        event.preventDefault();
        submitWith("both_bad");
        break;
      case "s":
        event.preventDefault();
        submitWith("skip");
        break;
      case "r":
        event.preventDefault();
        rationale.focus();
        break;
      case "c":
        // Accept the compiler's suggested pair, whatever is picked.
        if (acceptSuggestion) {
          event.preventDefault();
          form.requestSubmit(acceptSuggestion);
        }
        break;
      case "u":
        if (undoForm) {
          event.preventDefault();
          undoForm.requestSubmit();
        }
        break;
      case "enter":
        if (!enterActivates(target)) {
          event.preventDefault();
          submitWith("pair");
        }
        break;
      case "arrowleft":
        if (prevLink) {
          event.preventDefault();
          window.location.assign(prevLink.href);
        }
        break;
      case "arrowright":
        if (nextLink) {
          event.preventDefault();
          window.location.assign(nextLink.href);
        }
        break;
    }
  });

  markPicks();
})();
