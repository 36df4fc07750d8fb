/* Shared helpers for every signed-in page: safe DOM building, the admin API with CSRF,
 * the hub's live event stream, the interventions badge, times, copy buttons, confirms.
 * Data only ever reaches the DOM as textContent or attribute values: never as HTML. */
(function () {
  "use strict";
  var Orc = (window.Orc = window.Orc || {});

  /* The CSRF token bound to this session: the page carries it; the cookie (orc_csrf, or
   * __Host-orc_csrf under HTTPS) holds the same value. */
  Orc.csrf = function () {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) return meta.content;
    var m = document.cookie.match(/(?:^|;\s*)(?:__Host-)?orc_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  };

  /* Once the page is on its way out (a form was submitted, a link followed), background
   * requests that fail must not navigate somewhere else. */
  var leaving = false;
  window.addEventListener("beforeunload", function () { leaving = true; });
  window.addEventListener("submit", function (ev) { if (!ev.defaultPrevented) leaving = true; });

  Orc.signIn = function () {
    if (leaving) return;
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
  };

  /* fetch JSON from the admin API; unsafe methods carry X-CSRF-Token. */
  Orc.api = function (method, path, body) {
    var opts = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") opts.headers["X-CSRF-Token"] = Orc.csrf();
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch("/api/admin" + path, opts).then(function (r) {
      if (r.status === 401) { Orc.signIn(); throw new Error("Your session has ended."); }
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!r.ok) {
          var d = data && data.detail;
          var err = new Error(typeof d === "string" ? d : "The hub answered " + r.status + ".");
          err.status = r.status;
          throw err;
        }
        return data;
      });
    });
  };

  /* el("a", {class: "x", text: "hi", href: "/tasks/1", data: {id: 1}}, [children]) */
  Orc.el = function (tag, props, children) {
    var node = document.createElement(tag);
    props = props || {};
    Object.keys(props).forEach(function (key) {
      var value = props[key];
      if (value === undefined || value === null || value === false) return;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else if (key === "data") Object.keys(value).forEach(function (k) { node.dataset[k] = String(value[k]); });
      else if (key === "hidden") node.hidden = true;
      else node.setAttribute(key, String(value));
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  };

  Orc.statusLabel = function (s) { return String(s || "unknown").toLowerCase().replace(/_/g, " "); };
  Orc.pillClass = function (s) {
    return "pill pill-" + (String(s || "unknown").toLowerCase().replace(/[^a-z0-9_]/g, "") || "unknown");
  };
  Orc.pill = function (s) { return Orc.el("span", { class: Orc.pillClass(s), text: Orc.statusLabel(s) }); };
  Orc.FINAL = ["completed", "failed", "cancelled", "timed_out", "lost"];

  /* ---------- times ---------- */
  Orc.parseTime = function (iso) {
    if (!iso) return null;
    var t = Date.parse(iso);
    return isNaN(t) ? null : t;
  };
  Orc.ago = function (iso) {
    var t = Orc.parseTime(iso);
    if (t === null) return "never";
    var s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  };
  Orc.duration = function (ms) {
    if (ms === null || ms === undefined || isNaN(ms) || ms < 0) return "—";
    var s = Math.round(ms / 1000);
    if (s < 60) return s + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min " + (s % 60) + " s";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  };
  /* Compact local times: "14:03:12" today, "Nov 3, 14:03" this year, else with the year. */
  Orc.absTime = function (iso) {
    var t = Orc.parseTime(iso);
    if (t === null) return "—";
    var d = new Date(t), now = new Date();
    var clock = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
    if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString(undefined, clock);
    var opts = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false };
    if (d.getFullYear() !== now.getFullYear()) opts.year = "numeric";
    return d.toLocaleString(undefined, opts);
  };
  Orc.fullTime = function (iso) {
    var t = Orc.parseTime(iso);
    return t === null ? "" : new Date(t).toLocaleString(undefined, { dateStyle: "full", timeStyle: "long" });
  };
  Orc.timeEl = function (iso, mode) {
    var node = Orc.el("time", { datetime: iso || "" });
    node.dataset[mode === "abs" ? "abs" : "rel"] = "";
    Orc.refreshTime(node);
    return node;
  };
  Orc.refreshTime = function (node) {
    var iso = node.getAttribute("datetime");
    if (!iso) { node.textContent = "—"; return; }
    node.title = Orc.fullTime(iso);
    node.textContent = node.hasAttribute("data-rel") ? Orc.ago(iso) : Orc.absTime(iso);
  };
  Orc.refreshTimes = function (root) {
    (root || document).querySelectorAll("time[data-rel], time[data-abs]").forEach(Orc.refreshTime);
  };
  setInterval(function () { document.querySelectorAll("time[data-rel]").forEach(Orc.refreshTime); }, 1000);

  /* ---------- the hub's live events (one EventSource per page) ---------- */
  var listeners = { task: [], agent: [], intervention: [], open: [], sleep: [], wake: [] };
  Orc.onHub = function (kind, fn) { listeners[kind].push(fn); };
  function emit(kind, data) { listeners[kind].forEach(function (fn) { try { fn(data); } catch (e) { console.error(e); } }); }
  var hubRetry = 1000;
  function connectHub() {
    if (!window.EventSource) return;
    var indicator = document.getElementById("live-indicator");
    var es = new EventSource("/api/admin/events");
    Orc.hubSource = es;
    es.onopen = function () { hubRetry = 1000; if (indicator) indicator.hidden = true; emit("open", null); };
    es.onerror = function () {
      if (indicator && es.readyState !== 1) indicator.hidden = false;
      if (es.readyState !== 2) return; // the browser retries by itself
      // an HTTP error (hub restarting, session gone) ends an EventSource for good: retry ourselves,
      // and let the API call send a signed-out reader to the sign-in page
      if (Orc.hubSource === es) Orc.hubSource = null;
      Orc.api("GET", "/me").catch(function () {});
      setTimeout(function () { if (!Orc.hubSource && !sleeping) connectHub(); }, hubRetry);
      hubRetry = Math.min(hubRetry * 2, 30000);
    };
    ["task", "agent", "intervention"].forEach(function (kind) {
      es.addEventListener(kind, function (ev) {
        var data = null;
        try { data = JSON.parse(ev.data); } catch (e) { return; }
        emit(kind, data);
      });
    });
  }

  /* A tab hidden for a while lets go of its streams: over HTTP/1.1 a browser allows only
   * six connections per host, and every dashboard tab holds one or two event streams.
   * Coming back reconnects, and every page catches up (lists refetch, output resumes). */
  var hideTimer = null;
  var sleeping = false;
  Orc.sleepAfterMs = 30000;
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      hideTimer = setTimeout(function () {
        sleeping = true;
        if (Orc.hubSource) { Orc.hubSource.close(); Orc.hubSource = null; }
        emit("sleep", null);
      }, Orc.sleepAfterMs);
    } else {
      clearTimeout(hideTimer);
      if (!sleeping) return;
      sleeping = false;
      connectHub();
      emit("wake", null);
    }
  });

  /* ---------- the pending-interventions badge ---------- */
  var badgeTimer = null;
  Orc.setBadge = function (n) {
    var badge = document.getElementById("nav-badge");
    if (!badge) return;
    badge.textContent = String(n);
    badge.dataset.count = String(n);
    badge.setAttribute("aria-label", n + " pending intervention" + (n === 1 ? "" : "s"));
    badge.hidden = n === 0;
  };
  Orc.refreshBadge = function () {
    if (badgeTimer) return;
    badgeTimer = setTimeout(function () {
      badgeTimer = null;
      Orc.api("GET", "/interventions?status=pending").then(function (items) {
        Orc.setBadge((items || []).filter(function (i) { return !i.status || i.status === "pending"; }).length);
      }).catch(function () {});
    }, 150);
  };
  Orc.onHub("intervention", Orc.refreshBadge);
  Orc.onHub("open", Orc.refreshBadge); // after a reconnect, catch up on what we missed

  /* ---------- copy buttons: <button data-copy="element-id"> ---------- */
  function copyText(text, button) {
    var label = button.querySelector(".copy-label") || button;
    function done(ok) {
      var old = button.dataset.label || label.textContent;
      button.dataset.label = old;
      label.textContent = ok ? "Copied ✓" : "Press Ctrl+C";
      if (!ok) selectText(document.getElementById(button.getAttribute("data-copy")));
      setTimeout(function () { label.textContent = old; }, 1600);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallback(text)); });
    } else {
      done(fallback(text));
    }
  }
  function selectText(node) {
    if (!node) return;
    var range = document.createRange();
    range.selectNodeContents(node);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  function fallback(text) {
    var area = Orc.el("textarea", { class: "offscreen", "aria-hidden": "true" });
    area.value = text;
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok;
  }
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("[data-copy]") : null;
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (source) copyText(source.textContent, button);
  });

  /* ---------- confirmations: <form data-confirm="..."> and Orc.confirm() ---------- */
  Orc.confirm = function (message, okLabel) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || !dialog.showModal) return Promise.resolve(window.confirm(message));
    document.getElementById("confirm-message").textContent = message;
    document.getElementById("confirm-ok").textContent = okLabel || "Confirm";
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        resolve(dialog.returnValue === "ok");
      });
    });
  };
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.hasAttribute || !form.hasAttribute("data-confirm") || form.dataset.confirmed) return;
    ev.preventDefault();
    Orc.confirm(form.getAttribute("data-confirm"), form.getAttribute("data-confirm-ok")).then(function (ok) {
      if (!ok) return;
      form.dataset.confirmed = "1";
      form.requestSubmit ? form.requestSubmit() : form.submit();
    });
  });

  /* the account menu closes on a click elsewhere and on Escape */
  document.addEventListener("click", function (ev) {
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(ev.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape") return;
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    Orc.refreshTimes();
    connectHub();
  });
})();
