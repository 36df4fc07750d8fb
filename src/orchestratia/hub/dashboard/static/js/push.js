/* The task page's Branch card (_push.html): Push / Open PR / Discard through the admin API,
 * then the agent's answer as it comes (the hub queues the request; the agent reports back). */
(function () {
  "use strict";
  var card = document.getElementById("push-card");
  if (!card) return;
  var taskId = card.getAttribute("data-task");
  var status = document.getElementById("push-status");
  var buttons = card.querySelectorAll("button");
  var POLL_MS = 1000, DEADLINE_MS = 180000;

  function say(text, kind) {
    status.hidden = false;
    status.textContent = text;
    status.className = "push-status" + (kind === "failed" ? " alert alert-error" : kind === "done" ? " muted" : "");
  }
  function busy(on) { buttons.forEach(function (b) { b.disabled = on; }); }

  function show(task) {
    var a = task.workspace_action;
    if (task.pr_url && /^https?:\/\//.test(task.pr_url)) {
      var link = document.getElementById("push-pr-link");
      link.href = task.pr_url;
      link.textContent = task.pr_url;
      document.getElementById("push-pr").hidden = false;
    }
    if (a) say(a.kind.charAt(0).toUpperCase() + a.kind.slice(1) + " " + a.status + (a.message ? ": " + a.message : ""), a.status);
    return a;
  }

  function follow(actionId, started) {
    Orc.api("GET", "/tasks/" + encodeURIComponent(taskId)).then(function (task) {
      var a = show(task);
      if (a && a.id === actionId && a.status === "pending") {
        if (Date.now() - started > DEADLINE_MS) {
          say("The agent has not answered yet (offline?): the request stays queued and runs when it is back.", "pending");
          busy(false);
          return;
        }
        setTimeout(function () { follow(actionId, started); }, POLL_MS);
      } else {
        busy(false);
      }
    }).catch(function (err) { say(err.message, "failed"); busy(false); });
  }

  function send(form, submitter) {
    var discard = /\/discard$/.test(form.getAttribute("action"));
    var body = discard ? { force: false } : { remote: null, pr: !!(submitter && submitter.value === "1"), title: null };
    busy(true);
    say(discard ? "Asking the agent to discard the branch…" : "Asking the agent to push the branch…", "pending");
    Orc.api("POST", "/tasks/" + encodeURIComponent(taskId) + (discard ? "/discard" : "/push"), body)
      .then(function (task) { show(task); follow((task.workspace_action || {}).id, Date.now()); })
      .catch(function (err) { say(err.message, "failed"); busy(false); });
  }

  card.addEventListener("submit", function (ev) {
    /* this card's forms are sent here, once: the page-wide data-confirm handler (common.js) must
       not ask a second time (it did: a browser confirm, then the page's own dialog) */
    ev.preventDefault();
    ev.stopPropagation();
    var form = ev.target, submitter = ev.submitter;
    var confirmText = form.getAttribute("data-confirm");
    (confirmText ? Orc.confirm(confirmText, form.getAttribute("data-confirm-ok")) : Promise.resolve(true))
      .then(function (ok) { if (ok) send(form, submitter); });
  });

  /* a request made elsewhere (CLI) or before a reload: follow it too */
  var initial = JSON.parse(document.getElementById("task-data").textContent || "{}").workspace_action;
  if (initial && initial.status === "pending") { busy(true); follow(initial.id, Date.now()); }
})();
