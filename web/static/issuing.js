/* 签发流程: 开始签发 starts the pipeline in the background, then the steps are polled every ~500 ms
   and each step's icon follows its record: green done, red failed (with the error), grey pending
   or skipped (跳过), blue and spinning while running. No inline script: the CSP forbids it. */
(function () {
  "use strict";

  var box = document.getElementById("progress");
  if (!box) { return; }
  var url = box.getAttribute("data-url");
  var every = parseInt(box.getAttribute("data-poll-ms"), 10) || 500;
  var message = document.getElementById("progress-message");
  var start = document.getElementById("start");
  var form = document.getElementById("start-form");
  var timer = null;
  var started = false;

  function text(name) { return box.getAttribute("data-text-" + name) || ""; }

  function render(data) {
    var anyFailed = false, anyIssuing = false, allEffective = true;
    (data.certificates || []).forEach(function (cert) {
      var section = box.querySelector('[data-cert="' + cert.id + '"]');
      if (!section) { return; }
      section.setAttribute("data-cert-status", cert.status);
      if (cert.status === "issuing") { anyIssuing = true; }
      if (cert.status !== "effective") { allEffective = false; }
      if (cert.failed) { anyFailed = true; }
      cert.steps.forEach(function (step) {
        var li = section.querySelector('li.step[data-step="' + step.step + '"]');
        if (!li) { return; }
        li.setAttribute("data-status", step.status);
        li.className = "step step-" + step.status;
        var label = li.querySelector(".step-status");
        if (label) { label.textContent = labelOf(step.status); }
        var err = li.querySelector(".step-error");
        if (err) { err.textContent = step.error || ""; }
      });
      var badge = section.querySelector(".cert-state .badge");
      if (badge) {
        badge.setAttribute("data-state", cert.status);
        badge.textContent = cert.status_label || cert.status;
        badge.className = "badge " + (cert.status === "effective" ? "ok" : (cert.failed ? "bad" : "wait"));
      }
    });
    var broken = data.errors && Object.keys(data.errors).length ? data.errors[Object.keys(data.errors)[0]] : "";
    if (data.running) {
      message.textContent = text("running");
    } else if (broken) {
      message.textContent = text("broken") + "：" + broken;
    } else if (anyFailed) {
      message.textContent = text("failed");
    } else if (allEffective) {
      message.textContent = text("done");
    }
    if (start) {
      start.disabled = data.running || !anyIssuing;
      if (!data.running && anyIssuing && (anyFailed || broken)) { start.textContent = text("retry"); }
    }
    return data.running;
  }

  var labels = {};
  function labelOf(status) {
    if (labels[status]) { return labels[status]; }
    var li = box.querySelector('li.step[data-status="' + status + '"] .step-status');
    return li ? li.textContent : status;
  }
  // the server renders every label once; remember them so a step changing status can show its word
  (function collect() {
    box.querySelectorAll("li.step").forEach(function (li) {
      var s = li.getAttribute("data-status");
      var t = li.querySelector(".step-status");
      if (s && t && !labels[s]) { labels[s] = t.textContent; }
    });
    var fallback = {pending: "等待", running: "进行中", done: "成功", failed: "失败", skipped: text("skipped") || "跳过"};
    Object.keys(fallback).forEach(function (k) { if (!labels[k]) { labels[k] = fallback[k]; } });
  })();

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        var running = render(data);
        if (running || !started) {
          started = started || running;
          timer = window.setTimeout(poll, every);
        } else {
          timer = null;
        }
      })
      .catch(function () { timer = window.setTimeout(poll, every * 4); });
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (start) { start.disabled = true; }
      message.textContent = text("running");
      box.querySelectorAll('li.step[data-status="failed"]').forEach(function (li) {
        li.setAttribute("data-status", "pending");
        li.className = "step step-pending";
        var e = li.querySelector(".step-error");
        if (e) { e.textContent = ""; }
      });
      fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                          headers: {"Accept": "application/json"}})
        .then(function (r) {
          if (!r.ok) { throw new Error(r.status); }
          started = true;
          if (timer) { window.clearTimeout(timer); }
          poll();
        })
        .catch(function () { form.submit(); });
    });
  }

  if (box.getAttribute("data-running") === "true") { started = true; poll(); }
})();
