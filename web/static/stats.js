/* CertLedger: the statistics page's charts (ECharts, served by the app), from the JSON block
   #stats-data; each chart's data table stays under it, and is all there is without ECharts. */
(function () {
  "use strict";

  var PALETTE = ["#1d4ed8", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9"];

  function barOption(spec) {
    var horizontal = !!spec.horizontal;
    var category = { type: "category", data: spec.labels, axisLabel: { interval: 0, width: 140, overflow: "truncate" } };
    var value = { type: "value", minInterval: 1 };
    return {
      color: PALETTE,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: spec.series.length > 1 ? { top: 0 } : undefined,
      grid: { left: 16, right: 32, top: spec.series.length > 1 ? 44 : 24, bottom: 8, containLabel: true },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? Object.assign({}, category, { inverse: true }) : value,
      series: spec.series.map(function (s) {
        return { name: s.name, type: "bar", data: s.values, barMaxWidth: 36, label: { show: true, position: horizontal ? "right" : "top" } };
      })
    };
  }

  function doughnutOption(spec) {
    var s = spec.series[0];
    return {
      color: ["#1d4ed8", "#cbd2d9"],
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { bottom: 0 },
      series: [{
        name: s.name, type: "pie", radius: ["45%", "70%"], avoidLabelOverlap: true,
        label: { formatter: "{b}\n{d}%" },
        data: spec.labels.map(function (label, i) { return { name: label, value: s.values[i] }; })
      }]
    };
  }

  function draw() {
    var block = document.getElementById("stats-data");
    if (!block || !window.echarts) { return; }
    var data;
    try { data = JSON.parse(block.textContent); } catch (e) { return; }
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var spec = data[el.getAttribute("data-chart")];
      if (!spec) { return; }
      el.classList.add("chart-drawn");  // shown first: ECharts needs the container's size
      if (spec.horizontal) { el.style.height = Math.max(200, 60 + 32 * spec.labels.length) + "px"; }
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(spec.kind === "doughnut" ? doughnutOption(spec) : barOption(spec));
      charts.push(chart);
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
