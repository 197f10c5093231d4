/* Tongban: drawing redaction boxes on a report photo (moderators). Without this script the
   moderator types the boxes as x,y,width,height lines; with it, dragging on the photo adds
   them to the same field, a tap on a box deletes it and dragging a box moves it (the
   detector's proposals are boxes like any other). Coordinates are in the photo's own pixels. */
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
    var start = null, live = null, moving = null;

    function scale() { return naturalWidth / img.clientWidth; }

    function boxes() {
      return field.value.split("\n").map(function (line) {
        return line.split(",").map(function (v) { return parseInt(v, 10); });
      }).filter(function (b) { return b.length === 4 && b.every(function (v) { return !isNaN(v); }); });
    }

    function paint() {
      stage.querySelectorAll(".redact-box").forEach(function (el) { el.remove(); });
      var s = scale();
      boxes().forEach(function (b, index) {
        var el = document.createElement("div");
        el.className = "redact-box";
        el.setAttribute("data-index", String(index));
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

    function write(list) {
      field.value = list.map(function (b) { return b.join(","); }).join("\n");
    }

    stage.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      var hit = event.target.closest(".redact-box");
      if (hit && !hit.classList.contains("redact-box-live")) {
        moving = { index: parseInt(hit.getAttribute("data-index"), 10), from: point(event),
                   el: hit, left: hit.offsetLeft, top: hit.offsetTop };
        stage.setPointerCapture(event.pointerId);
        return;
      }
      start = point(event);
      live = document.createElement("div");
      live.className = "redact-box redact-box-live";
      stage.appendChild(live);
      stage.setPointerCapture(event.pointerId);
    });
    stage.addEventListener("pointermove", function (event) {
      if (moving) {
        var at = point(event);
        moving.el.style.left = (moving.left + at.x - moving.from.x) + "px";
        moving.el.style.top = (moving.top + at.y - moving.from.y) + "px";
        return;
      }
      if (!start) { return; }
      var p = point(event);
      live.style.left = Math.min(start.x, p.x) + "px";
      live.style.top = Math.min(start.y, p.y) + "px";
      live.style.width = Math.abs(p.x - start.x) + "px";
      live.style.height = Math.abs(p.y - start.y) + "px";
    });
    stage.addEventListener("pointerup", function (event) {
      if (moving) {
        var end = point(event), list = boxes(), s = scale();
        var dx = end.x - moving.from.x, dy = end.y - moving.from.y, b = list[moving.index];
        if (b && Math.abs(dx) < 3 && Math.abs(dy) < 3) {
          list.splice(moving.index, 1);  // a tap: not a face or plate after all
        } else if (b) {
          b[0] = Math.max(0, Math.min(naturalWidth - b[2], Math.round(b[0] + dx * s)));
          b[1] = Math.max(0, Math.min(naturalHeight - b[3], Math.round(b[1] + dy * s)));
        }
        moving = null;
        write(list);
        paint();
        return;
      }
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
