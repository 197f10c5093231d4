/* Tongban: the little JavaScript the pages use. Everything works without it.
   - Kiosk idle reset: after data-idle-reset seconds without input, warn for the last 15 s,
     then post the reset form (clears the session server-side) and return to the kiosk home.
   - Focus the error summary after a failed submit so screen readers announce it.
   - Print buttons ([data-print], hidden until this script shows them). */
(function () {
  "use strict";

  function focusErrorSummary() {
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  }

  function kioskIdleReset() {
    var seconds = parseInt(document.body.getAttribute("data-idle-reset") || "0", 10);
    var form = document.getElementById("kiosk-reset");
    var warning = document.getElementById("idle-warning");
    var count = document.getElementById("idle-count");
    if (!seconds || !form) { return; }
    var warnFor = Math.min(15, Math.floor(seconds / 3));
    var lastInput = Date.now();
    var submitted = false;

    function activity() {
      lastInput = Date.now();
      if (warning && !warning.hidden) { warning.hidden = true; }
    }
    ["pointerdown", "keydown", "touchstart", "input", "wheel", "scroll"].forEach(function (name) {
      document.addEventListener(name, activity, { passive: true, capture: true });
    });
    document.addEventListener("htmx:afterSettle", activity);
    var cont = document.getElementById("idle-continue");
    if (cont) { cont.addEventListener("click", activity); }

    window.setInterval(function () {
      var left = seconds - Math.floor((Date.now() - lastInput) / 1000);
      if (left <= 0 && !submitted) {
        submitted = true;
        form.submit();
      } else if (left <= warnFor && warning) {
        warning.hidden = false;
        if (count) { count.textContent = String(Math.max(left, 0)); }
      }
    }, 500);
  }

  function printButtons() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusErrorSummary();
    kioskIdleReset();
    printButtons();
  });
  document.addEventListener("htmx:afterSwap", focusErrorSummary);
})();
