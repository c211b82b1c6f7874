// 印章 pages: the seal viewer's zoom in / zoom out / reset / rotate (a CSS transform set from
// here: the CSP allows no inline style), and on the add form, showing the upload or the
// generation fields for the chosen picture source.
(function () {
  "use strict";

  var STEP = 0.25, MIN = 0.25, MAX = 4;

  function viewer() {
    var img = document.getElementById("seal-viewer");
    if (!img) return;
    var scale = 1, angle = 0;
    function apply() {
      img.style.transform = "scale(" + scale + ") rotate(" + angle + "deg)";
      img.setAttribute("data-scale", String(scale));
      img.setAttribute("data-rotate", String(angle));
    }
    function on(id, fn) {
      var b = document.getElementById(id);
      if (b) b.addEventListener("click", function () { fn(); apply(); });
    }
    on("zoom-in", function () { scale = Math.min(MAX, scale + STEP); });
    on("zoom-out", function () { scale = Math.max(MIN, scale - STEP); });
    on("reset", function () { scale = 1; angle = 0; });
    on("rotate", function () { angle = (angle + 90) % 360; });
  }

  function sourceSwitch() {
    var form = document.getElementById("seal-form");
    if (!form) return;
    var radios = form.querySelectorAll("input[name=source]");
    if (!radios.length) return;
    function show() {
      var chosen = form.querySelector("input[name=source]:checked");
      var value = chosen ? chosen.value : "generate";
      var parts = form.querySelectorAll(".seal-part");
      for (var i = 0; i < parts.length; i++) {
        parts[i].hidden = parts[i].getAttribute("data-source") !== value;
      }
    }
    for (var i = 0; i < radios.length; i++) radios[i].addEventListener("change", show);
    show();
  }

  document.addEventListener("DOMContentLoaded", function () { viewer(); sourceSwitch(); });
})();
