/* Tongban: the calling screen (/stations/<id>/display). htmx polls the calls every second;
   this speaks each new call once in Mandarin where the browser has the Web Speech API (a
   browser speaks only after a click on its page: the button turns it on), shows the clock,
   and reloads the page every half hour (today's notices, and a fresh start on a TV that
   runs for weeks). The screen works without any of it. */
(function () {
  "use strict";
  var spoken = null;
  var speaking = false;

  function utterance(text) {
    var spoken = new SpeechSynthesisUtterance(text);
    spoken.lang = document.documentElement.lang === "en" ? "en-US" : "zh-CN";
    spoken.rate = 0.9;
    return spoken;
  }

  function say(text, times) {
    if (!speaking || !window.speechSynthesis || !text) { return; }
    for (var n = 0; n < times; n += 1) { window.speechSynthesis.speak(utterance(text)); }
  }

  function announce() {
    var calls = document.getElementById("calls");
    if (!calls) { return; }
    var call = calls.getAttribute("data-call");
    if (call && call !== spoken) {
      if (spoken !== null) { say(calls.getAttribute("data-say"), 2); }  // twice, as halls do
      spoken = call;
    }
  }

  function speechSwitch() {
    var button = document.getElementById("speech-on");
    var state = document.getElementById("speech-state");
    if (!button || !("speechSynthesis" in window)) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      speaking = true;
      button.hidden = true;
      if (state) { state.hidden = false; }
      say(state ? state.textContent : "", 1);
    });
  }

  function clock() {
    var node = document.getElementById("display-clock");
    if (!node) { return; }
    function tick() {
      var now = new Date();
      node.textContent = String(now.getHours()).padStart(2, "0") + ":" +
        String(now.getMinutes()).padStart(2, "0");
    }
    tick();
    window.setInterval(tick, 10000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    announce();
    speechSwitch();
    clock();
    window.setTimeout(function () { window.location.reload(); }, 30 * 60 * 1000);
  });
  document.addEventListener("htmx:afterSettle", announce);
})();
