// Forms marked data-submit-once: a second click (or Enter) while the first is on its way does
// nothing, so the answer that shows a new secret is the one the browser keeps.
document.querySelectorAll("form[data-submit-once]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
    form.querySelectorAll("button[type=submit]").forEach((button) => button.setAttribute("aria-busy", "true"));
  });
});
