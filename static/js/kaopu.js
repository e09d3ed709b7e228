/* Kaopu's own script, loaded by base.html (the CSP allows no inline script). Everything here
   is an extra: each page works without it.
   - The header's menu button on narrow screens (under 700 px): the navigation folds behind it;
     the bell and the search box stay in sight. Escape closes the menu.
   - "/" anywhere outside a field puts the cursor in the header's search box.
   - The lead page's quick-log bar: "At the door", "Call", "Visit" choose the activity's kind
     in place and put the cursor on its outcome (without this script the links reload the page
     with the kind chosen, ?log=call).
   - The board: drag a card to another column; htmx posts the move (crm/views/board.py) and
     the answer is either the whole board or, on the card, why the move was refused (or the
     question a loss asks). The keyboard and no-JavaScript way is the lead page's stage form.
   - For a signed-in person, the service worker (/sw.js, static/js/sw.js): installable, and a
     page in their language when there is no signal. */
(function () {
  "use strict";

  function setUpMenu() {
    var bar = document.getElementById("topbar");
    var button = bar && bar.querySelector(".menu-toggle");
    if (!button) return;
    bar.classList.add("js-menu");
    function setOpen(open) {
      bar.classList.toggle("menu-open", open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
    }
    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && bar.classList.contains("menu-open")) {
        setOpen(false);
        button.focus();
      }
    });
  }

  function typingInAField(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function setUpSearchShortcut() {
    document.addEventListener("keydown", function (event) {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
      if (typingInAField(event.target)) return;
      var box = document.getElementById("site-q");
      if (!box) return;
      event.preventDefault();
      box.focus();
      box.select();
    });
  }

  function setUpQuickLog() {
    // Delegated: the lead page's region is swapped by htmx after each log.
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("[data-log-kind]");
      if (!link) return;
      var kind = document.getElementById("id_kind");
      var section = document.getElementById("log-form");
      if (!kind || !section) return;
      event.preventDefault();
      kind.value = link.getAttribute("data-log-kind");
      kind.dispatchEvent(new Event("change", { bubbles: true }));
      section.scrollIntoView({ block: "start" });
      var outcome = document.getElementById("id_outcome");
      (outcome || kind).focus({ preventScroll: true });
    });
  }

  function setUpBoardDrag() {
    // Delegated, so a board swapped in by htmx keeps working.
    var dragged = null;
    document.addEventListener("dragstart", function (event) {
      var card = event.target.closest && event.target.closest(".board-card[data-move-url]");
      if (!card) return;
      dragged = card;
      card.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", card.id);
    });
    document.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
      document.querySelectorAll(".column.drop-target").forEach(function (column) {
        column.classList.remove("drop-target");
      });
      dragged = null;
    });
    document.addEventListener("dragover", function (event) {
      var column = dragged && event.target.closest && event.target.closest(".column[data-stage]");
      if (!column || column.getAttribute("data-stage") === dragged.getAttribute("data-stage")) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      column.classList.add("drop-target");
    });
    document.addEventListener("dragleave", function (event) {
      var column = event.target.closest && event.target.closest(".column[data-stage]");
      if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-target");
    });
    document.addEventListener("drop", function (event) {
      var column = dragged && event.target.closest && event.target.closest(".column[data-stage]");
      if (!column || !window.htmx) return;
      event.preventDefault();
      column.classList.remove("drop-target");
      var card = dragged;
      var stage = column.getAttribute("data-stage");
      if (stage === card.getAttribute("data-stage")) return;
      window.htmx.ajax("POST", card.getAttribute("data-move-url"), {
        source: card,
        target: "#" + card.querySelector(".card-move").id,
        swap: "innerHTML",
        values: { to_stage: stage },
      });
    });
  }

  function registerServiceWorker() {
    var url = document.body && document.body.getAttribute("data-service-worker");
    if (!url || !("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register(url, { scope: "/" }).catch(function () {
      /* not installable here (an http:// address other than localhost): the site works as is */
    });
  }

  function start() {
    registerServiceWorker();
    setUpMenu();
    setUpSearchShortcut();
    setUpQuickLog();
    setUpBoardDrag();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
