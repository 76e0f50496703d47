// Live segment counter for the send form; mirrors messaging/segments.py (GSM 03.38 + UCS-2).
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "\f^{}\\[~]|€";

  function pack(sizes, single, part) {
    var total = sizes.reduce(function (a, b) { return a + b; }, 0);
    if (total <= single) { return total ? 1 : 0; }
    var parts = 1, used = 0;
    sizes.forEach(function (size) {
      if (used + size > part) { parts += 1; used = 0; }
      used += size;
    });
    return parts;
  }

  function count(text) {
    // A line break is one character, as the server counts it (it turns CR LF and CR into LF).
    var chars = Array.from(text.replace(/\r\n?/g, "\n"));
    var gsm = chars.every(function (ch) { return BASIC.indexOf(ch) >= 0 || EXTENSION.indexOf(ch) >= 0; });
    var sizes;
    if (gsm) {
      sizes = chars.map(function (ch) { return EXTENSION.indexOf(ch) >= 0 ? 2 : 1; });
      return { encoding: "GSM-7", chars: chars.length, units: sizes.reduce(function (a, b) { return a + b; }, 0),
               segments: pack(sizes, 160, 153) };
    }
    sizes = chars.map(function (ch) { return ch.codePointAt(0) > 0xFFFF ? 2 : 1; });
    return { encoding: "UCS-2", chars: chars.length, units: sizes.reduce(function (a, b) { return a + b; }, 0),
             segments: pack(sizes, 70, 67) };
  }

  // The recipients and the cost come from the server (messaging.views.send_preview): the same
  // rules the send charges by (group members, each number once, destination prices, opt-outs).
  function previewer(form, toOut) {
    var url = form.getAttribute("data-preview-url");
    var timer = null, sequence = 0;
    if (!url || !toOut) { return function () {}; }
    function ask() {
      var mine = ++sequence;
      fetch(url, { method: "POST", body: new FormData(form), credentials: "same-origin",
                   headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (answer) {
          if (!answer || mine !== sequence) { return; }
          var text = answer.error || answer.summary;
          if (answer.hint) { text += " — " + answer.hint; }
          if (answer.confirm) { text += " (you will be asked to confirm)"; }
          toOut.textContent = text;
          toOut.setAttribute("data-messages", answer.messages);
          toOut.setAttribute("data-cost", answer.cost);
          toOut.classList.toggle("field-error", Boolean(answer.error || answer.invalid.length));
        })
        .catch(function () { /* the counter is a help: the send itself checks everything */ });
    }
    return function () {
      clearTimeout(timer);
      timer = setTimeout(ask, 250);
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var text = document.querySelector("[data-segment-counter]");
    var out = document.getElementById("segment-counter");
    var toOut = document.getElementById("recipient-count");
    if (!text || !out) { return; }
    var form = text.form;
    var preview = previewer(form, toOut);
    function update() {
      var info = count(text.value);
      out.textContent = info.chars + " characters · " + info.encoding + " · " + info.segments + " part" +
        (info.segments === 1 ? "" : "s") + (info.segments > 10 ? " (too long: at most 10)" : "");
      out.classList.toggle("over", info.segments > 10);
    }
    text.addEventListener("input", update);
    form.addEventListener("input", preview);
    form.addEventListener("change", preview);
    update();
    preview();
  });
  window.smsSegments = count;
})();
