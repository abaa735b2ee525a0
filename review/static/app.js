// Keyboard shortcuts and small conveniences for the review pages. Every page works without them.
(function () {
  "use strict";

  function typing(e) {
    var t = e.target;
    if (!t || !t.tagName) return false;
    if (t.isContentEditable || t.tagName === "TEXTAREA" || t.tagName === "SELECT") return true;
    return t.tagName === "INPUT" && t.type !== "radio" && t.type !== "checkbox";
  }
  function byKey(k) { return document.querySelector('[data-key="' + k + '"]'); }
  function submitWith(button) {
    var form = button && button.form;
    if (!form || form.dataset.sent || button.disabled) return;
    // A decided violation is revised only by a deliberate click, never by a stray key.
    if (form.dataset.decided) { button.focus(); return; }
    form.requestSubmit(button);
  }

  var rows = [], current = -1;
  function mark(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, j) { r.classList.toggle("current", j === current); });
    rows[current].scrollIntoView({ block: "nearest" });
  }

  function violationKey(e) {
    var k = e.key.toLowerCase(), el;
    if (k === "c") submitWith(byKey("c"));
    else if (k === "r") {
      if (document.querySelector('input[name="reason"]:checked')) submitWith(byKey("r"));
      else if ((el = byKey("1"))) { el.focus(); el.closest("fieldset").classList.add("ask"); }
    } else if (/^[1-6]$/.test(k) && (el = byKey(k))) {
      el.checked = true; el.focus();
      if (k === "6") document.querySelector('textarea[name="note"]').focus();
    } else if ((k === "n" || k === "b") && (el = byKey(k))) location.href = el.href;
    else if (k === "p" && (el = byKey("p"))) el.focus();
    else return;
    e.preventDefault();
  }

  function queueKey(e) {
    var k = e.key, link;
    if (k === "s" && (link = byKey("s"))) location.href = link.href;
    else if (k === "j") mark(current + 1);
    else if (k === "k") mark(current - 1);
    else if ((k === "Enter" || k === "o") && current >= 0) location.href = rows[current].dataset.href;
    else if (k === "]" && (link = document.querySelector('a[rel="next"]'))) location.href = link.href;
    else if (k === "[" && (link = document.querySelector('a[rel="prev"]'))) location.href = link.href;
    else return;
    e.preventDefault();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = document.body.dataset.page, box = document.getElementById("lightbox");
    rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-href]"));
    rows.forEach(function (row) {
      row.addEventListener("click", function (e) {
        if (!e.target.closest("a, input, button, label")) location.href = row.dataset.href;
      });
    });
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        if (form.method === "get") return;
        if (form.dataset.sent) { e.preventDefault(); return; }
        form.dataset.sent = "1";
        document.body.classList.add("busy");
      });
    });
    var all = document.getElementById("pick-all");
    if (all) all.addEventListener("change", function () {
      document.querySelectorAll('input[name="ids"]').forEach(function (c) { c.checked = all.checked; });
    });
    if (box) {
      document.querySelectorAll("a.zoom").forEach(function (a) {
        a.addEventListener("click", function (e) {
          e.preventDefault(); box.querySelector("img").src = a.href; box.hidden = false;
        });
      });
      box.addEventListener("click", function () { box.hidden = true; });
    }
    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (box && !box.hidden) { if (e.key === "Escape") box.hidden = true; return; }
      if (typing(e)) { if (e.key === "Escape") e.target.blur(); return; }
      if (page === "violation") violationKey(e);
      else if (page === "queue") queueKey(e);
    });
  });
})();
