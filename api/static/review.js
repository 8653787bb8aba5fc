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
})();
