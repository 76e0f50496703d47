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

  function recipients(value) {
    return value.split(/[\s,;]+/).filter(function (v) { return v.length > 0; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var text = document.querySelector("[data-segment-counter]");
    var out = document.getElementById("segment-counter");
    var to = document.getElementById("id_recipients");
    var toOut = document.getElementById("recipient-count");
    if (!text || !out) { return; }
    var price = parseFloat(out.getAttribute("data-price") || "0");
    function update() {
      var info = count(text.value);
      var n = to ? new Set(recipients(to.value)).size : 1;
      var cost = info.segments * price * Math.max(n, 1);
      out.textContent = info.chars + " characters · " + info.encoding + " · " + info.segments + " part" +
        (info.segments === 1 ? "" : "s") + (info.segments > 10 ? " (too long: at most 10)" : "") +
        " · about " + (Math.round(cost * 10000) / 10000) + " points";
      out.classList.toggle("over", info.segments > 10);
      if (toOut) { toOut.textContent = n + " recipient" + (n === 1 ? "" : "s"); }
    }
    text.addEventListener("input", update);
    if (to) { to.addEventListener("input", update); }
    update();
  });
  window.smsSegments = count;
})();
