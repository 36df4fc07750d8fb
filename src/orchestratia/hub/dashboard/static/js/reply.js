/* The task page's conversation: the thread (GET /api/admin/tasks/{id}/thread: the parent chain
 * and every reply, in order, each with its status and a link to its page) and the reply box,
 * shown once the task has ended (it follows the status pill that task.js keeps current).
 * Titles come from users and agents: only ever set as textContent. */
(function () {
  "use strict";
  var card = document.getElementById("thread-card");
  if (!card || !window.Orc) return;
  var taskId = card.dataset.task;
  var list = document.getElementById("thread-list");
  var form = document.getElementById("reply-form");
  var wait = document.getElementById("reply-wait");
  var box = document.getElementById("reply-message");
  var pill = document.getElementById("task-status");

  function draw(thread) {
    if (!thread || thread.length < 2) return; // a task alone: the single line the page has
    list.textContent = "";
    thread.forEach(function (t) {
      var mine = t.id === taskId;
      var label = Orc.el(mine ? "strong" : "a", mine ? { text: t.title } : { href: "/tasks/" + encodeURIComponent(t.id), text: t.title });
      var item = Orc.el("li", { class: "thread-item" + (mine ? " thread-current" : "") },
        [Orc.pill(t.status), " ", label, t.queue_reason ? Orc.el("span", { class: "small muted", text: " · " + t.queue_reason }) : null]);
      if (mine) item.setAttribute("aria-current", "page");
      list.appendChild(item);
    });
  }

  function load() {
    Orc.api("GET", "/tasks/" + encodeURIComponent(taskId) + "/thread").then(draw).catch(function () {});
  }

  function syncBox() {
    var status = pill ? pill.textContent.trim().replace(/ /g, "_") : "";
    var ended = Orc.FINAL.indexOf(status) >= 0;
    if (ended && form.hidden) load(); // the thread's statuses changed with it
    form.hidden = !ended;
    wait.hidden = ended;
  }

  if (pill) new MutationObserver(syncBox).observe(pill, { childList: true, characterData: true, subtree: true });
  box.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && box.value.trim()) { e.preventDefault(); form.requestSubmit(); }
  });
  syncBox();
  load();
})();
