/* The task page's tabs (Output | Changes) and the Changes panel (templates/_changes.html):
 * files collapse and expand; a click on a line number selects it (shift-click: a range in the
 * same file) and opens a comment box; "Send as reply" composes one message from the comments
 * ("path:line: text", in page order) and the overall note and POSTs it to
 * /api/admin/tasks/{id}/replies. On failure the server's detail shows and nothing is lost
 * (the draft also lives in sessionStorage until it is sent). Only textContent, never HTML. */
(function () {
  "use strict";
  var panel = document.getElementById("changes-panel");
  var tabs = document.getElementById("task-tabs");
  if (!panel || !tabs) return;
  var grid = document.querySelector(".task-grid");
  var taskId = panel.dataset.taskId;
  var draftKey = "orc-review-" + taskId;
  var comments = [];  // {id, file, path, side, start, end, text}
  var selection = null;  // {file, rows: [tr...]}
  var nextId = 1;

  /* ---------- tabs ---------- */
  function show(which) {
    var changes = which === "changes";
    document.getElementById("tab-output").setAttribute("aria-selected", String(!changes));
    document.getElementById("tab-changes").setAttribute("aria-selected", String(changes));
    document.getElementById("tab-output").tabIndex = changes ? -1 : 0;
    document.getElementById("tab-changes").tabIndex = changes ? 0 : -1;
    panel.hidden = !changes;
    if (grid) grid.hidden = changes;
    var hash = changes ? "#changes" : "";
    if (location.hash !== hash && !(location.hash.indexOf("#dfile-") === 0 && changes)) {
      history.replaceState(null, "", location.pathname + location.search + hash);
    }
  }
  if (grid) { grid.id = grid.id || "output-panel"; grid.setAttribute("role", "tabpanel"); grid.setAttribute("aria-labelledby", "tab-output"); }
  document.getElementById("tab-output").setAttribute("aria-controls", grid ? grid.id : "");
  tabs.addEventListener("click", function (ev) {
    var tab = ev.target.closest("[role=tab]");
    if (tab) show(tab.id === "tab-changes" ? "changes" : "output");
  });
  tabs.addEventListener("keydown", function (ev) {
    if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
    var next = document.getElementById(ev.target.id === "tab-output" ? "tab-changes" : "tab-output");
    show(next.id === "tab-changes" ? "changes" : "output");
    next.focus();
  });
  if (location.hash === "#changes" || location.hash.indexOf("#dfile-") === 0) show("changes");

  /* A running task: when its status pill turns final, point to the reload that shows the change. */
  var pill = document.getElementById("task-status");
  if (panel.dataset.state === "pending" && pill && window.MutationObserver) {
    new MutationObserver(function () {
      if (Orc.FINAL.indexOf(pill.textContent.trim().replace(/ /g, "_")) < 0) return;
      document.getElementById("changes-message").hidden = true;
      document.getElementById("changes-ended").hidden = false;
    }).observe(pill, { childList: true, characterData: true, subtree: true });
  }
  if (panel.dataset.state !== "ready") return;

  /* ---------- files: collapse / expand ---------- */
  function setOpen(article, open) {
    var body = article.querySelector(".dfile-body");
    if (!body) return;
    body.hidden = !open;
    article.querySelector(".dfile-toggle").setAttribute("aria-expanded", String(open));
    var note = article.querySelector(".dfile-collapsed");
    if (note) note.hidden = open;
  }
  panel.addEventListener("click", function (ev) {
    var toggle = ev.target.closest(".dfile-toggle");
    if (toggle) { setOpen(toggle.closest(".dfile"), toggle.getAttribute("aria-expanded") !== "true"); return; }
    var expand = ev.target.closest(".dfile-expand");
    if (expand) { setOpen(expand.closest(".dfile"), true); return; }
    var link = ev.target.closest(".dfile-link");
    if (link) { var target = document.querySelector(link.getAttribute("href")); if (target) setOpen(target, true); return; }
    var ln = ev.target.closest("td.ln");
    if (ln && ln.parentNode.dataset && (ln.parentNode.dataset.old || ln.parentNode.dataset.new)) select(ln.parentNode, ev.shiftKey);
  });

  /* ---------- keyboard: one line number per file in the tab order (roving tabindex); the
   * arrows move along the file's lines, Enter comments (Shift+Enter: the range from the last). */
  panel.querySelectorAll(".dfile-body").forEach(function (body) {
    var first = body.querySelector("tr[data-old] td.ln, tr[data-new] td.ln");
    if (first) first.tabIndex = 0;
  });
  panel.addEventListener("keydown", function (ev) {
    var cell = ev.target.closest && ev.target.closest("td.ln");
    if (!cell || ev.target !== cell) return;
    var row = cell.parentNode;
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(row, ev.shiftKey); return; }
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    var rows = lineRows(row.parentNode), at = rows.indexOf(row) + (ev.key === "ArrowDown" ? 1 : -1);
    if (at < 0 || at >= rows.length) return;
    ev.preventDefault();
    var next = rows[at].querySelector("td.ln");
    cell.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  });

  /* ---------- selecting lines ---------- */
  function lineRows(tbody) { return Array.prototype.slice.call(tbody.querySelectorAll("tr[data-old], tr[data-new]")); }
  function clearSelection() {
    panel.querySelectorAll("tr.sel").forEach(function (tr) { tr.classList.remove("sel"); });
    var open = panel.querySelector("tr.c-form");
    if (open) open.remove();
    selection = null;
  }
  function select(tr, extend) {
    var article = tr.closest(".dfile");
    var rows = [tr];
    if (extend && selection && selection.article === article) {
      var all = lineRows(tr.parentNode);
      var a = all.indexOf(selection.anchor), b = all.indexOf(tr);
      rows = all.slice(Math.min(a, b), Math.max(a, b) + 1);
    }
    var anchor = extend && selection && selection.article === article ? selection.anchor : tr;
    clearSelection();
    selection = { article: article, anchor: anchor, rows: rows };
    rows.forEach(function (r) { r.classList.add("sel"); });
    openForm(rows[rows.length - 1], "", null);
  }

  /* The reference of rows: the new file's lines when any row has one, else the old file's. */
  function refOf(article, rows) {
    var side = rows.some(function (r) { return r.dataset.new; }) ? "new" : "old";
    var nums = rows.map(function (r) { return Number(r.dataset[side]); }).filter(function (n) { return n > 0; });
    var start = Math.min.apply(null, nums), end = Math.max.apply(null, nums);
    var path = side === "new" ? article.dataset.path : article.dataset.oldPath;
    return { path: path, side: side, start: start, end: end,
             label: path + ":" + (start === end ? start : start + "-" + end) + (side === "old" ? " (old)" : "") };
  }

  function openForm(afterRow, text, editing) {
    var ref = editing ? editing : refOf(selection.article, selection.rows);
    var area = Orc.el("textarea", { class: "c-text", rows: "3", "aria-label": "Comment on " + ref.label,
                                    placeholder: "Comment on " + ref.label });
    area.value = text;
    var save = Orc.el("button", { type: "button", class: "btn btn-small btn-primary", text: editing ? "Save" : "Add comment" });
    var cancel = Orc.el("button", { type: "button", class: "btn btn-small btn-ghost", text: "Cancel" });
    var cell = Orc.el("td", { colspan: "3" }, [
      Orc.el("div", { class: "c-box" }, [Orc.el("div", { class: "c-ref mono", text: ref.label }), area,
        Orc.el("div", { class: "c-actions" }, [Orc.el("span", { class: "muted small", text: "Ctrl+Enter to add" }), cancel, save])])]);
    var row = Orc.el("tr", { class: "c-form" }, [cell]);
    afterRow.after(row);
    function commit() {
      var value = area.value.trim();
      if (!value) { area.focus(); return; }
      if (editing) { editing.text = value; } else {
        comments.push({ id: nextId++, article: selection.article, path: ref.path, side: ref.side, start: ref.start,
                        end: ref.end, label: ref.label, text: value, row: afterRow });
      }
      clearSelection();
      renderComments();
    }
    save.addEventListener("click", commit);
    cancel.addEventListener("click", function () { clearSelection(); renderComments(); });
    area.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); commit(); }
      if (ev.key === "Escape") { clearSelection(); renderComments(); }
    });
    area.focus();
  }

  /* ---------- comments ---------- */
  function renderComments() {
    panel.querySelectorAll("tr.c-saved").forEach(function (tr) { tr.remove(); });
    comments.forEach(function (c) {
      var edit = Orc.el("button", { type: "button", class: "btn btn-small btn-ghost", text: "Edit", "aria-label": "Edit comment on " + c.label });
      var del = Orc.el("button", { type: "button", class: "btn btn-small btn-danger-ghost", text: "Delete", "aria-label": "Delete comment on " + c.label });
      var row = Orc.el("tr", { class: "c-saved" }, [Orc.el("td", { colspan: "3" }, [Orc.el("div", { class: "c-box c-done" }, [
        Orc.el("div", { class: "c-ref mono", text: c.label }), Orc.el("div", { class: "c-body", text: c.text }),
        Orc.el("div", { class: "c-actions" }, [edit, del])])])]);
      c.row.after(row);
      edit.addEventListener("click", function () { clearSelection(); row.remove(); selection = { article: c.article, rows: [c.row] }; openForm(c.row, c.text, c); });
      del.addEventListener("click", function () { comments = comments.filter(function (x) { return x !== c; }); renderComments(); });
    });
    updateReview();
  }

  /* Comments in the order their lines appear on the page (files in the diff's order). */
  function ordered() {
    return comments.slice().sort(function (a, b) {
      if (a.row === b.row) return a.id - b.id;
      return a.row.compareDocumentPosition(b.row) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
    });
  }

  /* The reply's message: the overall note, then one "path:line: text" per comment (a
   * comment's further lines indented under it). */
  function compose() {
    var note = document.getElementById("review-note").value.trim();
    var lines = ordered().map(function (c) { return c.label + ": " + c.text.replace(/\n/g, "\n  "); });
    return [note, lines.join("\n")].filter(Boolean).join("\n\n");
  }

  function updateReview() {
    var n = comments.length;
    document.getElementById("review-count").textContent = n ? n + (n === 1 ? " comment" : " comments") : "No comments yet";
    document.getElementById("review-send").disabled = !compose();
    saveDraft();
  }

  /* ---------- the draft survives a reload until it is sent ---------- */
  function saveDraft() {
    try {
      var data = { note: document.getElementById("review-note").value, comments: comments.map(function (c) {
        return { file: c.article.id, side: c.side, start: c.start, end: c.end, text: c.text, row: lineRows(c.article).indexOf(c.row) };
      }) };
      if (!data.note && !data.comments.length) sessionStorage.removeItem(draftKey); else sessionStorage.setItem(draftKey, JSON.stringify(data));
    } catch (e) { /* storage off: the draft lives on the page only */ }
  }
  function loadDraft() {
    var data = null;
    try { data = JSON.parse(sessionStorage.getItem(draftKey) || "null"); } catch (e) { data = null; }
    if (!data) return;
    document.getElementById("review-note").value = data.note || "";
    (data.comments || []).forEach(function (d) {
      var article = document.getElementById(d.file);
      var row = article && lineRows(article)[d.row];
      if (!row || typeof d.text !== "string") return;
      var ref = refOf(article, [row]);
      var label = ref.path + ":" + (d.start === d.end ? d.start : d.start + "-" + d.end) + (d.side === "old" ? " (old)" : "");
      comments.push({ id: nextId++, article: article, path: ref.path, side: d.side, start: d.start, end: d.end,
                      label: label, text: d.text, row: row });
      setOpen(article, true);
    });
  }

  /* ---------- send ---------- */
  var form = document.getElementById("review");
  var errorBox = document.getElementById("review-error");
  document.getElementById("review-note").addEventListener("input", updateReview);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var message = compose();
    if (!message) return;
    var send = document.getElementById("review-send");
    send.disabled = true;
    send.textContent = "Sending…";
    errorBox.hidden = true;
    Orc.api("POST", "/tasks/" + encodeURIComponent(taskId) + "/replies", { message: message }).then(function (task) {
      try { sessionStorage.removeItem(draftKey); } catch (e) { /* ignore */ }
      if (!task || !task.id) throw new Error("The hub accepted the reply but did not say which task it made; see the task list.");
      location.assign("/tasks/" + encodeURIComponent(task.id));
    }).catch(function (err) {
      var why = String(err.message || "no answer from the hub");
      if (!/[.!?]$/.test(why)) why += ".";
      errorBox.textContent = "The reply was not sent" + (err.status ? " (HTTP " + err.status + ")" : "") + ": " +
        why + " Your comments are kept: try again when the hub accepts it.";
      errorBox.hidden = false;
      send.textContent = "Send as reply";
      send.disabled = !compose();
    });
  });

  loadDraft();
  renderComments();
})();
