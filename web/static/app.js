/* CertLedger: the little plain JavaScript the pages use (no inline scripts: the CSP forbids them). */
(function () {
  "use strict";

  // Forms marked data-confirm="question" ask before they are sent (every delete uses this).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // Buttons outside a form may carry data-confirm too (formaction buttons).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-confirm], input[type=submit][data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // The login captcha: a click on the picture draws a new one (and empties the answer field).
  function refreshCaptcha(img) {
    var base = img.getAttribute("data-src") || img.src.split("?")[0];
    img.src = base + "?t=" + Date.now();
    var field = document.getElementById("captcha");
    if (field) { field.value = ""; field.focus(); }
  }

  document.addEventListener("click", function (event) {
    var img = event.target.closest && event.target.closest("#captcha-img, [data-captcha-refresh]");
    if (!img) { return; }
    if (img.id !== "captcha-img") { img = document.getElementById("captcha-img"); }
    if (img) { event.preventDefault(); refreshCaptcha(img); }
  });

  // Close the user menu when clicking elsewhere or pressing Escape.
  document.addEventListener("click", function (event) {
    var menu = document.getElementById("user-menu");
    if (menu && menu.open && !menu.contains(event.target)) { menu.open = false; }
  });
  document.addEventListener("keydown", function (event) {
    var menu = document.getElementById("user-menu");
    if (event.key === "Escape" && menu && menu.open) { menu.open = false; }
  });
})();
