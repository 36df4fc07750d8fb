/* /pipelines/{id}: the graph's statuses, live. A task event patches its node at once (class and
   textContent only: no text from the hub is ever parsed as HTML); a throttled refetch of the
   pipeline brings the rest (its status, cancel reasons). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("pipeline-data").textContent || "{}");
  var members = {};
  (data.nodes || []).forEach(function (n) { members[n.task_id] = n; });

  function label(s) { return Orc.statusLabel(s); }

  function paint(taskId, status, note) {
    document.querySelectorAll('.pnode[data-task="' + taskId + '"]').forEach(function (node) {
      node.setAttribute("class", "pnode pnode-" + status);
      var text = node.querySelector(".pnode-status");
      if (text) text.textContent = label(status);
    });
    document.querySelectorAll('tr[data-task="' + taskId + '"]').forEach(function (row) {
      var pill = row.querySelector(".node-status");
      if (pill) { pill.className = Orc.pillClass(status) + " node-status"; pill.textContent = label(status); }
      var cell = row.querySelector(".node-note");
      if (cell && note !== undefined) cell.textContent = note || "";
    });
  }

  function apply(p) {
    (p.nodes || []).forEach(function (n) {
      members[n.task_id] = n;
      paint(n.task_id, n.status, n.status === "cancelled" ? n.cancel_reason : "");
    });
    var head = document.getElementById("pipeline-status");
    head.className = Orc.pillClass(p.status);
    head.textContent = p.status;
    var form = document.getElementById("pipeline-cancel-form");
    if (form) form.hidden = ["completed", "failed", "cancelled"].indexOf(p.status) >= 0;
  }

  var timer = null;
  function refresh() {
    if (timer) return;
    timer = setTimeout(function () {
      timer = null;
      Orc.api("GET", "/pipelines/" + encodeURIComponent(data.id)).then(apply).catch(function () {});
    }, 400);
  }

  Orc.onHub("task", function (ev) {
    if (!members[ev.id]) return;
    if (ev.status) paint(ev.id, ev.status);
    refresh();
  });
  Orc.onHub("open", refresh);
})();
