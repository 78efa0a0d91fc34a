// The leadscore console's only script (served from the binary; the CSP allows no other).
// Without it every page still works: forms post, and the queue shows server times.
// With it: SLA countdowns tick, "handed off" reads as time ago, and the queue refreshes
// itself every few seconds without a reload.
"use strict";
(function () {
  // The server's clock, against the browser's: counts are shown in server time.
  var skew = 0;
  function span(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + m + "m";
    return m + "m " + String(s % 60).padStart(2, "0") + "s";
  }
  function readSkew(root) {
    var el = root.querySelector("[data-now]");
    if (el) skew = Number(el.getAttribute("data-now")) - Date.now();
  }
  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll("time[data-due]").forEach(function (el) {
      var left = Number(el.getAttribute("data-due")) - now;
      var row = el.closest("tr");
      if (left > 0) {
        el.textContent = span(left) + " left";
        el.classList.remove("breached");
      } else {
        el.textContent = "breached " + span(-left) + " ago";
        el.classList.add("breached");
        if (row) row.classList.add("breached");
      }
    });
    document.querySelectorAll("time[data-since]").forEach(function (el) {
      el.textContent = span(now - Number(el.getAttribute("data-since"))) + " ago";
    });
  }
  // Where the keyboard is in the queue: the focused control's row and kind, so it can be
  // focused again in the new table (a screen reader keeps its place).
  function focusKey(box) {
    var el = document.activeElement;
    var row = el && box.contains(el) ? el.closest("tr[data-lead]") : null;
    if (!row) return null;
    return { lead: row.getAttribute("data-lead"), tag: el.tagName.toLowerCase(), cls: el.classList[0] || "" };
  }
  function refocus(box, key) {
    if (!key) return;
    var row = Array.from(box.querySelectorAll("tr[data-lead]")).find(function (r) {
      return r.getAttribute("data-lead") === key.lead;
    });
    var el = row && row.querySelector(key.tag + (key.cls ? "." + CSS.escape(key.cls) : ""));
    if (el) el.focus();
  }
  function poll(box) {
    var url = box.getAttribute("data-poll");
    var busy = false;
    setInterval(function () {
      // Never replace the table under someone typing a reason.
      if (busy || box.contains(document.activeElement) && document.activeElement.tagName === "INPUT") return;
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (r.redirected) { location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html !== null) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var before = box.querySelectorAll("tr.mql").length;
            var key = focusKey(box);
            box.replaceChildren.apply(box, Array.from(doc.body.childNodes));
            refocus(box, key);
            var after = box.querySelectorAll("tr.mql").length;
            var status = document.getElementById("queue-status");
            if (status && after !== before) status.textContent = after + " open MQLs";
            readSkew(box);
            tick();
          }
        })
        .catch(function () {})
        .finally(function () { busy = false; });
    }, 3000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    readSkew(document);
    tick();
    setInterval(tick, 1000);
    var box = document.getElementById("queue");
    if (box) poll(box);
  });
})();
