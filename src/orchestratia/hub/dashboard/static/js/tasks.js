/* /tasks: the task list with live statuses. */
(function () {
  "use strict";
  var el = Orc.el;
  var body = document.getElementById("tasks-body");
  var filter = document.getElementById("tasks-card").dataset.statusFilter || "";
  var agentFilter = document.getElementById("tasks-card").dataset.agentFilter || "";
  var tasks = JSON.parse(document.getElementById("tasks-data").textContent || "[]");

  function durationOf(t) {
    var start = Orc.parseTime(t.started_at);
    if (start === null) return "—";
    var end = Orc.parseTime(t.finished_at);
    return Orc.duration((end === null ? Date.now() : end) - start);
  }

  function row(t) {
    var title = el("a", { href: "/tasks/" + encodeURIComponent(t.id), class: "task-link", text: t.title || "(untitled)" });
    var status = el("div", { class: "status-cell" }, [Orc.pill(t.status),
      t.waiting_for_human ? el("span", { class: "pill pill-waiting", text: "needs answer" }) : null]);
    return el("tr", { data: { id: t.id } }, [
      el("td", { "data-label": "Task", class: "cell-primary" }, [title]),
      el("td", { "data-label": "Status" }, [status]),
      el("td", { "data-label": "Agent", text: t.agent || "—" }),
      el("td", { "data-label": "Repo", class: "mono", text: t.target_repo || "—" }),
      el("td", { "data-label": "Runner", text: t.runner || "default" }),
      el("td", { "data-label": "Created" }, [Orc.timeEl(t.created_at, "rel")]),
      el("td", { "data-label": "Duration", class: "mono duration", data: { started: t.started_at || "", finished: t.finished_at || "" },
        text: durationOf(t) }),
    ]);
  }

  function render() {
    body.replaceChildren.apply(body, tasks.map(row));
    document.getElementById("tasks-empty").hidden = tasks.length > 0;
  }

  var timer = null;
  function refresh() {
    if (timer) return; // throttled: a steady stream of events still refreshes
    timer = setTimeout(function () {
      timer = null;
      var q = "?limit=200" + (filter ? "&status=" + encodeURIComponent(filter) : "") +
        (agentFilter ? "&agent=" + encodeURIComponent(agentFilter) : "");
      Orc.api("GET", "/tasks" + q).then(function (list) { tasks = list || []; render(); }).catch(function () {});
    }, 600); // known rows are patched at once; a burst of events costs one refetch
  }

  Orc.onHub("task", function (ev) {
    var known = tasks.filter(function (t) { return t.id === ev.id; })[0];
    if (known && ev.status) { known.status = ev.status; render(); }
    refresh(); // new tasks, timings, filter membership
  });
  Orc.onHub("intervention", refresh);
  Orc.onHub("open", refresh);
  setInterval(function () {
    body.querySelectorAll("td.duration").forEach(function (td) {
      if (td.dataset.started && !td.dataset.finished) {
        td.textContent = Orc.duration(Date.now() - Orc.parseTime(td.dataset.started));
      }
    });
  }, 1000);
  render();
})();
