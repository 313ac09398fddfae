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
    markPicks();
  }

  form.addEventListener("change", function (event) {
    const target = event.target;
    if (target.name === "best" || target.name === "worst") {
      const other = radio(target.closest("[data-testid=answer]"), target.name === "best" ? "worst" : "best");
      if (other) {
        other.checked = false;
      }
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
