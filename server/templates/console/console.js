// The admin console's only script: local times, confirmations, and the page's
// data refreshed in place every few seconds (the server renders <main> alone when
// asked with X-Console-Partial), so a sync can be watched without reloading.
(function () {
  "use strict";
  function localTimes(root) {
    root.querySelectorAll("time[data-ms]").forEach(function (t) {
      var d = new Date(Number(t.getAttribute("data-ms")));
      if (!isNaN(d)) { t.textContent = d.toLocaleString("ru-RU"); t.title = d.toISOString(); }
    });
  }
  document.addEventListener("submit", function (e) {
    var q = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (q && !window.confirm(q)) { e.preventDefault(); }
  });
  // Not while the admin is typing or has typed something not yet sent.
  function busy(main) {
    var a = document.activeElement;
    if (a && main.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName)) { return true; }
    var fields = main.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var el = fields[i];
      if (el.tagName === "SELECT") {
        // The default is the option marked selected, else the first.
        var def = 0;
        for (var k = 0; k < el.options.length; k++) { if (el.options[k].defaultSelected) { def = k; } }
        if (el.options.length && el.selectedIndex !== def) { return true; }
      } else if (el.type === "file" ? el.value !== "" : el.value !== el.defaultValue) {
        return true;
      }
    }
    return false;
  }
  var last = null;
  function refresh() {
    var main = document.getElementById("main");
    if (!main || busy(main) || document.hidden) { return; }
    fetch(window.location.href, { headers: { "X-Console-Partial": "1" }, credentials: "same-origin", redirect: "manual" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null && !busy(main) && last !== html) {
          last = html;
          main.innerHTML = html;
          localTimes(main);
        }
      })
      .catch(function () {});
  }
  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    var main = document.getElementById("main");
    var every = main && Number(main.getAttribute("data-live"));
    // A page that shows a one-time setup code is not refreshed away.
    if (every > 0 && !document.querySelector("section.added")) { window.setInterval(refresh, every * 1000); }
  });
})();
