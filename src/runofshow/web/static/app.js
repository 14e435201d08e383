// The war room's page script: htmx settings, the charts (plotly, from /api/runs/{id}/figures), and
// a record of the event ids the page received (so a reconnect can be checked: no gap, no repeat).
(function () {
  "use strict";
  htmx.config.includeIndicatorStyles = false;
  htmx.config.allowEval = false;
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "[4]..", swap: true, error: false },
    { code: "...", swap: false, error: true }
  ];

  var chartsUrl = null;
  var pending = false;
  var lastDraw = 0;

  function draw() {
    pending = false;
    lastDraw = Date.now();
    fetch(chartsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (figures) {
        Object.keys(figures).forEach(function (name) {
          var el = document.getElementById("fig-" + name);
          if (el && window.Plotly) {
            var fig = figures[name];
            window.Plotly.react(el, fig.data, fig.layout, { displaylogo: false, responsive: true });
          }
        });
        document.body.dataset.chartsDrawn = String(lastDraw);
      });
  }

  function redrawSoon() {
    if (!chartsUrl || pending) { return; }
    pending = true;
    setTimeout(draw, Math.max(0, 1000 - (Date.now() - lastDraw)));
  }

  document.addEventListener("DOMContentLoaded", function () {
    var charts = document.querySelector("[data-figures]");
    if (charts) { chartsUrl = charts.getAttribute("data-figures"); draw(); }
    document.body.addEventListener("htmx:sseMessage", function (evt) {
      var id = evt.detail && evt.detail.lastEventId;
      var log = document.getElementById("stream-log");
      if (id && log) {
        var li = document.createElement("li");
        li.textContent = id;
        log.appendChild(li);
      }
      redrawSoon();
    });
    document.body.addEventListener("htmx:sseOpen", function () {
      document.body.dataset.sseOpens = String(Number(document.body.dataset.sseOpens || "0") + 1);
    });
  });
})();
