/* The fields table (信息项) of the certificate type form: add and remove rows.
   Rows are named fields-<n>-<key>; the server orders them by n and ignores empty rows, so a new row
   only needs a number no other row has. Without JavaScript the form keeps its spare empty rows. */
(function () {
  "use strict";

  function nextNumber(body) {
    var max = 0;
    body.querySelectorAll("input[name^='fields-'], select[name^='fields-']").forEach(function (el) {
      var m = /^fields-(\d+)-/.exec(el.name);
      if (m) { max = Math.max(max, parseInt(m[1], 10)); }
    });
    return max + 1;
  }

  function addRow() {
    var body = document.getElementById("field-rows");
    var template = document.getElementById("field-row-template");
    if (!body || !template) { return; }
    var n = nextNumber(body);
    var holder = document.createElement("tbody");
    holder.innerHTML = template.innerHTML.replace(/__i__/g, String(n));
    var row = holder.querySelector("tr");
    body.appendChild(row);
    var first = row.querySelector("input[type=text]");
    if (first) { first.focus(); }
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("#add-field")) {
      event.preventDefault();
      addRow();
      return;
    }
    var remove = event.target.closest(".remove-field");
    if (remove) {
      event.preventDefault();
      var row = remove.closest("tr");
      var body = row && row.parentNode;
      if (row && body) {
        body.removeChild(row);
        if (!body.querySelector("tr")) { addRow(); }  // keep one row to type into
      }
    }
  });
})();
