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
     page in their language when there is no signal.
   - Logging offline: an activity form sent without signal is kept in localStorage (the
     outbox, with its time and a key made here) and "N waiting to send" shows on every page;
     each is posted when the phone is online again (on the next page opened, or at once), and
     the key makes the server keep one activity however often a copy arrives. A post that got
     no answer though the phone said online (a weak signal) is kept the same way. Only the log
     view's 201 counts as sent; a session that has ended keeps them ("sign in again"); a lead
     no longer theirs (404) or a form refused (422) is kept in sight, and the others still go.
     The outbox and the drafts are each person's own (body's data-user-id): on a shared phone,
     nobody's logs go out under someone else's name. Logs kept under the outbox's first,
     shared key are taken over once by the first person signed in.
   - A board move or a quick log the server failed on says so in the messages area.
   - A report being written (its form autosaves by htmx) is also kept in localStorage as it is
     typed, until an autosave succeeds: closed without signal, it comes back into the form
     the next time that page opens, and is saved then. */
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

  // Each person's own outbox and drafts (a shared phone): the key names the signed-in user
  // (base.html's data-user-id), and nothing is sent under someone else's session; another
  // person's logs wait, untouched, until they sign in on this phone again.
  function userId() {
    return (document.body && document.body.getAttribute("data-user-id")) || "";
  }

  function outboxKey() {
    return "kaopu.outbox:" + userId();
  }

  // Logs kept before the outbox became each person's were stored under one key for everyone
  // ("kaopu.outbox") and nothing read it any more: the first person signed in on the phone
  // takes them into their own outbox, once, and they are sent like theirs (each keeps its
  // key, so one already received stays one activity).
  var OLD_OUTBOX = "kaopu.outbox";

  function adoptOldOutbox() {
    if (!userId()) return;
    var old = null;
    try {
      old = JSON.parse(window.localStorage.getItem(OLD_OUTBOX) || "null");
    } catch (error) {
      old = null;
    }
    if (old === null) return;
    var items = readOutbox();
    var known = {};
    items.forEach(function (item) { known[item.key] = true; });
    (Array.isArray(old) ? old : []).forEach(function (item) {
      if (item && item.key && item.url && Array.isArray(item.fields) && !known[item.key]) {
        items.push({ key: item.key, url: item.url, fields: item.fields });
        known[item.key] = true;
      }
    });
    window.localStorage.setItem(outboxKey(), JSON.stringify(items));
    window.localStorage.removeItem(OLD_OUTBOX);
  }

  var sending = false;
  var signedOut = false;  // the last replay was answered "not signed in": sign in to send

  function readOutbox() {
    if (!userId()) return [];
    try {
      return JSON.parse(window.localStorage.getItem(outboxKey()) || "[]");
    } catch (error) {
      return [];
    }
  }

  function leadPage(item) {  // /leads/12/activities/ → /leads/12/
    return item.url.replace(/activities\/$/, "");
  }

  function noteOf(item) {
    var note = item.fields.filter(function (field) { return field[0] === "note"; })[0];
    return note ? note[1] : "";
  }

  function showOutbox(items, sentNow) {
    var line = document.getElementById("outbox");
    if (!line) return;
    var waiting = items.filter(function (item) { return !item.refused; }).length;
    var refused = items.filter(function (item) { return item.refused && !item.gone; });
    var gone = items.filter(function (item) { return item.gone; });
    line.textContent = "";
    if (waiting) {
      var text = line.getAttribute(signedOut ? "data-signed-out" : "data-waiting");
      line.append(text.replace("{n}", waiting) + " ");
    } else if (sentNow && !refused.length && !gone.length) {
      line.append(line.getAttribute("data-sent"));
    }
    if (refused.length) {
      var link = document.createElement("a");
      link.href = leadPage(refused[0]);
      link.textContent = line.getAttribute("data-refused");
      line.append(link, " ");
    }
    gone.forEach(function (item) {
      // Its lead is no longer this person's (handed to someone else): it cannot be sent or
      // reopened there, so it stays in sight, with its note, until they clear it.
      var span = document.createElement("span");
      span.className = "outbox-gone";
      span.textContent = line.getAttribute("data-gone").replace("{note}", noteOf(item)) + " ";
      var clear = document.createElement("button");
      clear.type = "button";
      clear.className = "link";
      clear.textContent = line.getAttribute("data-clear");
      clear.addEventListener("click", function () {
        writeOutbox(readOutbox().filter(function (other) { return other.key !== item.key; }));
      });
      span.append(clear);
      line.append(span, " ");
    });
    line.hidden = !waiting && !refused.length && !gone.length && !sentNow;
  }

  function writeOutbox(items, sentNow) {
    if (!userId()) return;
    window.localStorage.setItem(outboxKey(), JSON.stringify(items));
    showOutbox(items, sentNow);
  }

  function reopenRefused() {
    // A log the server refused (a next step's date now past, say) goes back into its lead's
    // form, to be corrected and sent by hand; it leaves the outbox only then.
    var form = document.querySelector("#log-form form");
    if (!form) return;
    var items = readOutbox();
    var mine = items.filter(function (item) {
      return item.refused && !item.gone && leadPage(item) === window.location.pathname;
    })[0];
    if (!mine) return;
    mine.fields.forEach(function (field) {
      if (field[0] === "client_key") return;  // sent by hand, it is a new log with its own key
      var input = form.querySelector('[name="' + field[0] + '"]');
      if (!input) return;
      if (input.type === "checkbox") {
        var box = form.querySelector('[name="' + field[0] + '"][value="' + field[1] + '"]');
        if (box) box.checked = true;
      } else {
        input.value = field[1];
      }
    });
    writeOutbox(items.filter(function (item) { return item !== mine; }));
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 14);
  }

  function localNow() {  // the form's "When" (datetime-local): the moment it was logged
    var now = new Date();
    now.setMinutes(now.getMinutes() - now.getTimezoneOffset());
    return now.toISOString().slice(0, 16);
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function keepInOutbox(form, key) {
    var when = form.querySelector("[name=happened_at]");
    if (when && !when.value) when.value = localNow();
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken") fields.push([name, value]);
    });
    var items = readOutbox().filter(function (item) { return item.key !== key.value; });
    items.push({ key: key.value, url: form.getAttribute("action"), fields: fields });
    writeOutbox(items);
    form.reset();
    key.value = "";
  }

  function say(attribute) {
    // A short line in the page's messages area (the one _messages.html fills), never alert().
    var line = document.getElementById("outbox");
    var main = document.getElementById("main");
    var text = line && line.getAttribute(attribute);
    if (!text || !main) return;
    var list = main.querySelector("ul.messages");
    if (!list) {
      list = document.createElement("ul");
      list.className = "messages";
      list.setAttribute("role", "status");
      main.prepend(list);
    }
    var item = document.createElement("li");
    item.className = "error";
    item.textContent = text;
    list.append(item);
  }

  function quickLogForm(event) {
    var elt = event.detail && event.detail.elt;
    var form = elt && elt.closest && elt.closest("form");
    var key = form && form.querySelector("input[name=client_key]");
    return key ? { form: form, key: key } : null;
  }

  function isBoardDrop(event) {
    var elt = event.detail && event.detail.elt;
    return !!(elt && elt.closest && elt.closest(".board-card, #board, .board"));
  }

  function setUpOutbox() {
    // Capture phase: runs before htmx's own submit handler on the form, and stops it offline.
    document.addEventListener("submit", function (event) {
      var form = event.target;
      var key = form.querySelector && form.querySelector("input[name=client_key]");
      if (!key) return;
      if (!key.value) key.value = newKey();
      if (navigator.onLine) return;  // sent now; the key makes a repeat harmless
      event.preventDefault();
      event.stopImmediatePropagation();
      keepInOutbox(form, key);
    }, true);
    // A weak signal: the phone says online but the post never got an answer. The log is kept
    // like one made offline (if it did arrive, its key makes the copy change nothing).
    document.addEventListener("htmx:sendError", function (event) {
      var quick = quickLogForm(event);
      if (quick && quick.key.value) keepInOutbox(quick.form, quick.key);
      else if (isBoardDrop(event)) say("data-not-moved");
    });
    document.addEventListener("htmx:responseError", function (event) {
      if (quickLogForm(event)) say("data-log-failed");
      else if (isBoardDrop(event)) say("data-move-failed");
    });
    window.addEventListener("online", flushOutbox);
    reopenRefused();
    showOutbox(readOutbox());
    flushOutbox();
  }

  function flushOutbox() {
    var token = csrfToken();
    if (sending || !navigator.onLine || !token || !userId()) return;
    var queue = readOutbox().filter(function (item) { return !item.refused; });
    if (!queue.length) return;
    sending = true;
    var sentAny = false;
    function update(key, change) {
      var current = readOutbox();
      current = change(current);
      writeOutbox(current, sentAny && !current.filter(function (i) { return !i.refused; }).length);
    }
    function next() {
      var item = queue.shift();
      if (!item) { sending = false; return; }
      var body = new URLSearchParams();
      item.fields.forEach(function (field) { body.append(field[0], field[1]); });
      fetch(item.url, {
        method: "POST",
        body: body,
        headers: { "X-CSRFToken": token, "X-Kaopu-Replay": "1" },
        credentials: "same-origin",
        redirect: "manual",
      }).then(function (response) {
        // Sent: only a 2xx (the log view answers a replay 201). Not signed in any more (401,
        // or a redirect to the login page): kept, and the line asks to sign in. Refused: the
        // form said no (422, put back in its lead's form when that page opens) or the lead is
        // no longer theirs (404, kept in sight with its note). Anything else (a 5xx, a 403):
        // kept for the next try, and the others still go.
        if (response.ok) {
          signedOut = false;
          sentAny = true;
          update(item.key, function (current) {
            return current.filter(function (other) { return other.key !== item.key; });
          });
        } else if (response.status === 401 || response.type === "opaqueredirect") {
          signedOut = true;
          showOutbox(readOutbox());
          sending = false;
          return;
        } else if (response.status === 422 || response.status === 404) {
          update(item.key, function (current) {
            current.forEach(function (other) {
              if (other.key !== item.key) return;
              other.refused = true;
              if (response.status === 404) other.gone = true;
            });
            return current;
          });
        }
        next();
      }).catch(function () {
        sending = false;  // no signal after all: the next page or the "online" event tries again
      });
    }
    next();
  }

  function draftKey() {
    return "kaopu.draft:" + userId() + ":" + window.location.pathname + window.location.search;
  }

  var AUTOSAVE = "form[hx-vals*='\"autosave\"']";

  function formFields(form) {
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken" && typeof value === "string") fields.push([name, value]);
    });
    return fields;
  }

  function setUpDraftKeeping() {
    var form = document.querySelector(AUTOSAVE);
    if (!form || !userId()) return;
    var kept = null;
    try {
      kept = JSON.parse(window.localStorage.getItem(draftKey()) || "null");
    } catch (error) {
      kept = null;
    }
    if (kept) {  // typed without signal last time: back into the form, and saved now
      kept.fields.forEach(function (field) {
        // Hidden fields too: the draft's id, when an autosave had made it, so it is updated.
        var input = form.querySelector('[name="' + field[0] + '"]');
        if (input && input.type !== "checkbox" && input.type !== "radio") input.value = field[1];
      });
      // Saved once htmx listens on the form: it sets its triggers up at DOMContentLoaded, after
      // this deferred script has run, so a change sent now could go unheard; "load" comes after.
      var saveRestored = function () {
        if (window.htmx && navigator.onLine) window.htmx.trigger(form, "change");
      };
      if (document.readyState === "complete") saveRestored();
      else window.addEventListener("load", saveRestored, { once: true });
    }
    function keep() {
      window.localStorage.setItem(draftKey(), JSON.stringify({ at: Date.now(), fields: formFields(form) }));
    }
    form.addEventListener("input", keep);
    form.addEventListener("change", keep);
    form.addEventListener("submit", function () {  // saved or sent by its buttons: done
      if (navigator.onLine) window.localStorage.removeItem(draftKey());
    });
    form.addEventListener("htmx:beforeRequest", function () { form.__savingSince = Date.now(); });
    form.addEventListener("htmx:afterRequest", function (event) {
      if (!event.detail.successful) return;
      try {
        var stored = JSON.parse(window.localStorage.getItem(draftKey()) || "null");
        if (stored && stored.at <= (form.__savingSince || 0)) window.localStorage.removeItem(draftKey());
      } catch (error) {
        window.localStorage.removeItem(draftKey());
      }
    });
  }

  function start() {
    registerServiceWorker();
    setUpDraftKeeping();
    adoptOldOutbox();
    setUpOutbox();
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
