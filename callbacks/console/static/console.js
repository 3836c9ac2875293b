/* Switchboard console: the overview refreshes itself; forms that opt a number out ask first.
   No library, nothing inline (the Content-Security-Policy allows only this file). */
(function () {
  "use strict";

  function liveOverview(root) {
    var url = root.getAttribute("data-live");
    var every = (Number(root.getAttribute("data-refresh")) || 5) * 1000;
    var stamp = root.querySelector("[data-updated]");
    var busy = false;

    function apply(data) {
      Object.keys(data.counts).forEach(function (name) {
        var element = root.querySelector('[data-count="' + name + '"]');
        if (element) { element.textContent = String(data.counts[name]); }
      });
      Object.keys(data.sections).forEach(function (name) {
        var element = root.querySelector('[data-section="' + name + '"]');
        /* Server-rendered, escaped by Jinja: the same HTML as the page's own. */
        if (element && element.innerHTML !== data.sections[name]) {
          element.innerHTML = data.sections[name];
        }
      });
      if (stamp) { stamp.textContent = "Updated " + data.updated; }
      root.classList.remove("stale");
    }

    function update() {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(url, { credentials: "same-origin", cache: "no-store",
                   headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (response.status === 401) {
            window.location.assign(root.getAttribute("data-login"));
            throw new Error("logged out");
          }
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(apply)
        .catch(function () {
          root.classList.add("stale");
          if (stamp && stamp.textContent.indexOf("not updated") < 0) {
            stamp.textContent += " (not updated: the server did not answer)";
          }
        })
        .then(function () { busy = false; });
    }

    window.setInterval(update, every);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { update(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-live]");
    if (root) { liveOverview(root); }
  });

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
})();
