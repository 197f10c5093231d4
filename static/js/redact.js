/* Tongban: drawing redaction boxes on a report photo (moderators). Without this script the
   moderator types the boxes as x,y,width,height lines; with it, dragging on the photo adds
   them to the same field. Coordinates are in the photo's own pixels. */
(function () {
  "use strict";

  function setUp(editor) {
    var img = editor.querySelector(".redact-stage img");
    var field = editor.querySelector("textarea.redact-boxes");
    var stage = editor.querySelector(".redact-stage");
    var clear = editor.querySelector(".redact-clear");
    if (!img || !field || !stage) { return; }
    var naturalWidth = parseInt(img.getAttribute("data-width"), 10);
    var naturalHeight = parseInt(img.getAttribute("data-height"), 10);
    var start = null, live = null;

    function scale() { return naturalWidth / img.clientWidth; }

    function boxes() {
      return field.value.split("\n").map(function (line) {
        return line.split(",").map(function (v) { return parseInt(v, 10); });
      }).filter(function (b) { return b.length === 4 && b.every(function (v) { return !isNaN(v); }); });
    }

    function paint() {
      stage.querySelectorAll(".redact-box").forEach(function (el) { el.remove(); });
      var s = scale();
      boxes().forEach(function (b) {
        var el = document.createElement("div");
        el.className = "redact-box";
        el.style.left = (b[0] / s) + "px";
        el.style.top = (b[1] / s) + "px";
        el.style.width = (b[2] / s) + "px";
        el.style.height = (b[3] / s) + "px";
        stage.appendChild(el);
      });
    }

    function point(event) {
      var rect = img.getBoundingClientRect();
      return { x: Math.max(0, Math.min(event.clientX - rect.left, rect.width)),
               y: Math.max(0, Math.min(event.clientY - rect.top, rect.height)) };
    }

    stage.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      start = point(event);
      live = document.createElement("div");
      live.className = "redact-box redact-box-live";
      stage.appendChild(live);
      stage.setPointerCapture(event.pointerId);
    });
    stage.addEventListener("pointermove", function (event) {
      if (!start) { return; }
      var p = point(event);
      live.style.left = Math.min(start.x, p.x) + "px";
      live.style.top = Math.min(start.y, p.y) + "px";
      live.style.width = Math.abs(p.x - start.x) + "px";
      live.style.height = Math.abs(p.y - start.y) + "px";
    });
    stage.addEventListener("pointerup", function (event) {
      if (!start) { return; }
      var p = point(event), s = scale();
      var x = Math.round(Math.min(start.x, p.x) * s), y = Math.round(Math.min(start.y, p.y) * s);
      var w = Math.round(Math.abs(p.x - start.x) * s), h = Math.round(Math.abs(p.y - start.y) * s);
      start = null;
      if (live) { live.remove(); live = null; }
      if (w >= 4 && h >= 4) {
        field.value = (field.value.trim() ? field.value.trim() + "\n" : "") + [x, y, w, h].join(",");
      }
      paint();
    });
    field.addEventListener("input", paint);
    window.addEventListener("resize", paint);
    if (img.complete) { paint(); } else { img.addEventListener("load", paint); }
    if (clear) {
      clear.hidden = false;
      clear.addEventListener("click", function () { field.value = ""; paint(); });
    }
    editor.classList.add("redact-ready");
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".redact-editor").forEach(setUp);
  });
})();
