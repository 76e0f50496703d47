// Copy buttons for secrets shown once. Without JavaScript the buttons stay hidden and the text
// can be selected and copied by hand (a click selects all of it).
(function () {
  "use strict";

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function fallbackCopy(node) {
    selectText(node);
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    var status = document.querySelector("[data-copy-status]");
    if (!target) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = target.textContent.trim();
      function done(ok) {
        button.textContent = ok ? "Copied" : "Copy";
        if (status) {
          status.textContent = ok ? "Copied to the clipboard." : "Could not copy: select the text and copy it by hand.";
        }
        if (!ok) { selectText(target); }
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallbackCopy(target)); });
      } else {
        done(fallbackCopy(target));
      }
    });
  });
})();
