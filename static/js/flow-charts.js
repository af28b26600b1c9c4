/* Draws the value stream page's charts from the JSON in #flow-data (json_script).
 * Runs on page load and again whenever htmx swaps in a new #flow fragment.
 * When done it sets data-charts-drawn on #flow to the window it drew, for tests and screen readers.
 */
(function () {
  "use strict";

  const TYPE_COLOURS = { feature: "#2557a7", defect: "#b3261e", risk: "#a15c00", debt: "#6b4fa0" };
  const CATEGORY_COLOURS = { done: "#1e7b34", waiting: "#e0a100", active: "#2557a7", backlog: "#9aa3b5" };
  const charts = [];

  // The percentile lines, their labels above the line and staggered along it (50th at the left,
  // 85th in the middle, 95th at the right): close percentiles do not stack their labels, and
  // the newest points, at the right, are covered by one label at most.
  function percentileLines(p) {
    const lines = {};
    [["p50", "50th", "#1e7b34", "start"], ["p85", "85th", "#a15c00", "center"], ["p95", "95th", "#b3261e", "end"]]
      .forEach(function (spec) {
        const value = p[spec[0]];
        if (value === null || value === undefined) return;
        lines[spec[0]] = {
          type: "line", yMin: value, yMax: value, borderColor: spec[2], borderWidth: 1.5, borderDash: [6, 4],
          label: { display: true, content: spec[1] + ": " + value + " d", position: spec[3], yAdjust: -10,
                   backgroundColor: spec[2], font: { size: 11 }, padding: 3 },
        };
      });
    return lines;
  }

  function build(name, data) {
    const days = data.days;
    switch (name) {
      case "cfd": {
        // Per workflow state (the workflow's last state at the bottom), or per category.
        const choice = document.querySelector('input[name="cfd-view"]:checked');
        const byState = data.cfdStates.length > 0 && (!choice || choice.value === "states");
        const shades = {};
        const datasets = byState
          ? data.cfdStates.slice().reverse().map(function (s) {
              const n = (shades[s.category] = (shades[s.category] || 0) + 1);
              const alpha = ["ee", "b0", "80", "60", "48"][(n - 1) % 5];
              const colour = CATEGORY_COLOURS[s.category] || "#9aa3b5";
              return { label: s.name, data: s.data, fill: true, pointRadius: 0, backgroundColor: colour + alpha, borderColor: colour };
            })
          : ["done", "waiting", "active", "backlog"].map(function (c) {
              return { label: data.categoryLabels[c], data: data.cfd[c], fill: true, pointRadius: 0,
                       backgroundColor: CATEGORY_COLOURS[c] + "cc", borderColor: CATEGORY_COLOURS[c] };
            });
        return {
          type: "line",
          data: { labels: days, datasets: datasets },
          options: { scales: { y: { stacked: true, title: { display: true, text: "items" } } } },
        };
      }
      case "scatter":
        return {
          type: "scatter",
          data: {
            datasets: Object.keys(TYPE_COLOURS).map(function (t) {
              return { label: data.typeLabels[t], backgroundColor: TYPE_COLOURS[t],
                       data: data.scatter.filter(function (p) { return p.type === t; }) };
            }),
          },
          options: {
            scales: {
              x: { type: "linear", min: 0, max: days.length, title: { display: true, text: "finished" },
                   ticks: { maxTicksLimit: 7, maxRotation: 0, autoSkip: true,
                            callback: function (v) { return days[Math.min(Math.floor(v), days.length - 1)] || ""; } } },
              y: { beginAtZero: true, title: { display: true, text: "flow time (days)" } },
            },
            plugins: {
              annotation: { annotations: percentileLines(data.percentiles) },
              tooltip: { callbacks: { label: function (ctx) { return ctx.raw.key + ": " + ctx.raw.y + " days"; } } },
            },
          },
        };
      case "throughput":
        return {
          type: "bar",
          data: {
            labels: data.weeks,
            datasets: Object.keys(TYPE_COLOURS).map(function (t) {
              return { label: data.typeLabels[t], data: data.throughput[t], backgroundColor: TYPE_COLOURS[t] };
            }),
          },
          options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: "items" } } } },
        };
      case "aging":
        return {
          type: "bar",
          data: {
            labels: data.aging.map(function (a) { return a.key; }),
            datasets: [{ label: "age (days)", data: data.aging.map(function (a) { return a.age; }),
                         backgroundColor: data.aging.map(function (a) { return CATEGORY_COLOURS[a.category] || "#2557a7"; }) }],
          },
          options: {
            scales: { y: { beginAtZero: true, title: { display: true, text: "age (days)" } } },
            plugins: { legend: { display: false }, annotation: { annotations: percentileLines(data.percentiles) } },
          },
        };
      case "distribution": {
        const d = data.distribution;
        const sets = [
          { label: "finished %", data: d.finished, backgroundColor: "#2557a7" },
          { label: "WIP %", data: d.wip, backgroundColor: "#9aa3b5" },
        ];
        if (d.target) sets.push({ label: "target %", data: d.target, backgroundColor: "#1e7b34" });
        return {
          type: "bar",
          data: { labels: d.types.map(function (t) { return data.typeLabels[t]; }), datasets: sets },
          options: { scales: { y: { beginAtZero: true, max: 100, title: { display: true, text: "%" } } } },
        };
      }
      case "efficiency":
        return {
          type: "bar",
          data: {
            labels: data.efficiencyLabels,
            datasets: [{ label: "items", data: data.efficiency, backgroundColor: "#2557a7" }],
          },
          options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
        };
      case "load": {
        const annotations = {};
        if (data.wipLimit) {
          annotations.limit = { type: "line", yMin: data.wipLimit, yMax: data.wipLimit, borderColor: "#b3261e",
                                borderDash: [6, 4], label: { display: true, content: "WIP limit " + data.wipLimit, position: "end" } };
        }
        return {
          type: "line",
          data: { labels: days, datasets: [{ label: "WIP", data: data.load, borderColor: "#2557a7", pointRadius: 0, fill: false }] },
          options: { scales: { y: { beginAtZero: true } }, plugins: { annotation: { annotations: annotations } } },
        };
      }
      case "trend":
        return {
          type: "bar",
          data: {
            labels: data.trend.weeks,
            datasets: [
              { type: "bar", label: "finished", data: data.trend.throughput, backgroundColor: "#2557a7", yAxisID: "y" },
              { type: "line", label: "flow time p85 (days)", data: data.trend.p85, borderColor: "#a15c00", yAxisID: "days", spanGaps: true },
              { type: "line", label: "WIP at week end", data: data.trend.wip, borderColor: "#9aa3b5", yAxisID: "y" },
            ],
          },
          options: {
            scales: {
              y: { beginAtZero: true, title: { display: true, text: "items" } },
              days: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "days" } },
            },
          },
        };
    }
    return null;
  }

  function draw() {
    const flow = document.getElementById("flow");
    const source = document.getElementById("flow-data");
    if (!flow || !source || typeof window.Chart === "undefined") return;
    if (window["chartjs-plugin-annotation"]) window.Chart.register(window["chartjs-plugin-annotation"]);
    const data = JSON.parse(source.textContent);
    while (charts.length) charts.pop().destroy();
    flow.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      const config = build(canvas.dataset.chart, data);
      if (!config) return;
      config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options);
      charts.push(new window.Chart(canvas, config));
    });
    flow.dataset.chartsDrawn = data.window;
  }

  document.addEventListener("DOMContentLoaded", draw);
  // Cumulative flow per state or per category: redraw when the reader switches.
  document.addEventListener("change", function (event) {
    if (event.target && event.target.name === "cfd-view") draw();
  });
  // After any swap: the window form replaces #flow as a whole, so redraw from its new data.
  document.addEventListener("htmx:afterSettle", draw);
})();
