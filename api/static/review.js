// Keyboard shortcuts and the stakeholder editor of the review page (no libraries, nothing external).
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const form = document.getElementById("review-form");
    if (event.key === "n") {
      const next = document.getElementById("next-link");
      if (next) { event.preventDefault(); window.location.href = next.href; }
      return;
    }
    if (!form) return;
    const button = form.querySelector('button[data-key="' + CSS.escape(event.key) + '"]');
    if (button) {
      event.preventDefault();
      form.requestSubmit(button);
    }
  });

  const table = document.getElementById("stakeholders");
  const template = document.getElementById("stakeholder-template");
  const add = document.getElementById("add-stakeholder");
  if (table && template && add) {
    add.addEventListener("click", function () {
      const body = table.querySelector("tbody");
      body.insertAdjacentHTML("beforeend", template.innerHTML);
      const inputs = body.querySelectorAll('input[name="sh_text"]');
      inputs[inputs.length - 1].focus();
    });
    table.addEventListener("click", function (event) {
      const button = event.target.closest(".remove-row");
      if (!button) return;
      const row = button.closest("tr");
      row.querySelector('input[name="sh_text"]').value = "";
      row.hidden = true;
    });
  }

  // "Ask the LLM" is answered in the background. While the LLM panel says a question is waiting (data-poll),
  // fetch the panel alone every few seconds, a little less often each time, and swap it in: the rest of the
  // page (a comment being typed, stakeholder edits) stays as it is. The server escapes the panel like the page.
  function watchLLM(panel, delay, failures) {
    const url = panel && panel.dataset.poll;
    if (!url) return;
    window.setTimeout(function () {
      fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok || response.redirected) throw new Error("HTTP " + response.status);
          return response.text();
        })
        .then(function (html) {
          const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("llm");
          if (!fresh) throw new Error("no LLM panel in the answer");
          panel.replaceWith(fresh);
          watchLLM(fresh, Math.min(delay * 1.5, 15000), 0);
        })
        .catch(function () {
          if (failures < 4) {
            watchLLM(panel, Math.min(delay * 2, 30000), failures + 1);
            return;
          }
          const note = document.createElement("p");
          note.className = "error";
          note.id = "llm-lost";
          note.textContent = "Lost contact with the server (logged out?): reload the page to see the answer.";
          panel.appendChild(note);
        });
    }, delay);
  }
  watchLLM(document.getElementById("llm"), 2000, 0);
})();
