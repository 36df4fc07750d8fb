/* /tasks/{id}: live status and output. The page first shows the tail of the stored output
 * (output_log.js: GET /api/admin/tasks/{id}/output?tail_bytes=N), then reads the SSE stream
 * /api/admin/tasks/{id}/stream?offset=N from where that tail ends. The page tracks the byte
 * offset it has shown and reconnects from it itself, so a reconnect never leaves a gap and
 * never shows a byte twice. */
(function () {
  "use strict";
  var el = Orc.el;
  var task = JSON.parse(document.getElementById("task-data").textContent);
  var scroller = document.getElementById("output-scroll");
  var rawPre = document.getElementById("raw-output");
  var transcriptBox = document.getElementById("transcript");
  var jump = document.getElementById("jump-live");
  var stateBox = document.getElementById("stream-state");
  var btnRaw = document.getElementById("view-raw");
  var btnTranscript = document.getElementById("view-transcript");

  var nextOffset = 0; // the offset of the next byte of output to show
  var queueStart = 0; // the offset of the first byte waiting in the queue
  var ended = false;
  var source = null;
  var retryDelay = 500;
  var queue = [];
  var flushScheduled = false;
  var stick = true;
  var userChoseView = false;
  var encoder = new TextEncoder();
  var decoder = new TextDecoder();
  var detected = false;
  var transcript = new Orc.Transcript(transcriptBox, function () {
    if (!detected) {
      detected = true;
      showSwitch();
      if (!userChoseView) setView("transcript");
    }
  });

  /* ---------- view toggle ---------- */
  function setView(view) {
    var tr = view === "transcript";
    transcriptBox.hidden = !tr;
    rawPre.hidden = tr;
    btnTranscript.setAttribute("aria-pressed", String(tr));
    btnRaw.setAttribute("aria-pressed", String(!tr));
    scroller.dataset.view = view;
    if (stick) toBottom();
  }
  btnRaw.addEventListener("click", function () { userChoseView = true; setView("raw"); });
  btnTranscript.addEventListener("click", function () { userChoseView = true; setView("transcript"); });

  /* ---------- auto-scroll that pauses when the reader scrolls up ---------- */
  function atBottom() { return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 32; }
  function toBottom() { scroller.scrollTop = scroller.scrollHeight; }
  scroller.addEventListener("scroll", function () {
    stick = atBottom();
    if (stick) jump.hidden = true;
  });
  jump.addEventListener("click", function () { stick = true; toBottom(); jump.hidden = true; scroller.focus(); });

  var log = new Orc.OutputLog({
    taskId: task.id, scroller: scroller, rawPre: rawPre, transcriptBox: transcriptBox, transcript: transcript,
    isFollowing: function () { return stick; },
  });

  /* ---------- appending output ---------- */
  function flush() {
    flushScheduled = false;
    if (!queue.length) return;
    var text = queue.join("");
    queue = [];
    document.getElementById("output-waiting").hidden = true;
    log.append(text, queueStart, nextOffset);
    if (stick) toBottom(); else jump.hidden = false;
  }
  function append(text, start) {
    if (!text) return;
    if (!queue.length) queueStart = start;
    queue.push(text);
    if (!flushScheduled) {
      flushScheduled = true;
      if (document.hidden) setTimeout(flush, 50); else requestAnimationFrame(flush);
    }
  }

  function onOutput(ev) {
    var d;
    try { d = JSON.parse(ev.data); } catch (e) { return; }
    var text = typeof d.text === "string" ? d.text : "";
    var off = Number(d.offset), len = Number(d.length);
    if (!isFinite(len)) len = encoder.encode(text).length;
    if (!isFinite(off)) {
      var next = Number(ev.lastEventId);
      off = isFinite(next) && ev.lastEventId !== "" ? next - len : nextOffset;
    }
    if (off + len <= nextOffset) return; // already shown (a replay after reconnect)
    if (off > nextOffset) { reconnect(0); return; } // a gap: ask again from what we have
    if (off < nextOffset) text = decoder.decode(encoder.encode(text).slice(nextOffset - off));
    var start = nextOffset;
    nextOffset = off + len;
    append(text, start);
    updateSize();
  }

  /* ---------- the stream ---------- */
  function setState(text, cls) { stateBox.textContent = text; stateBox.className = "stream-state " + (cls || ""); }

  function connect(from) {
    if (ended) return;
    if (source) source.close(); // never two streams at once
    var start = typeof from === "number" && from >= 0 ? from : nextOffset;
    var url = "/api/admin/tasks/" + encodeURIComponent(task.id) + "/stream?offset=" + start;
    source = new EventSource(url);
    source.onopen = function () { retryDelay = 500; setState(Orc.FINAL.indexOf(task.status) >= 0 ? "Loading…" : "● Live", "live"); };
    source.addEventListener("output", onOutput);
    source.addEventListener("status", function (ev) { try { update(JSON.parse(ev.data)); } catch (e) {} });
    source.addEventListener("end", function (ev) {
      try { update(JSON.parse(ev.data)); } catch (e) {}
      finish();
    });
    source.onerror = function () {
      if (ended) return;
      Orc.api("GET", "/me").catch(function () {}); // a session that ended sends the reader to sign in
      setState("Reconnecting…", "warn");
      reconnect(retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    };
  }
  var reconnectTimer = null;
  function reconnect(delay, from) {
    if (source) { source.close(); source = null; }
    clearTimeout(reconnectTimer);
    if (ended) return;
    reconnectTimer = setTimeout(function () { connect(from); }, delay);
  }
  function finish() {
    ended = true;
    if (source) { source.close(); source = null; }
    flush();
    log.finish();
    setState("Ended · " + Orc.statusLabel(task.status), "ended");
    var waiting = document.getElementById("output-waiting");
    waiting.textContent = "This task printed nothing.";
    waiting.hidden = nextOffset > 0;
    if (stick) toBottom();
  }

  /* ---------- the facts panel ---------- */
  function setTime(id, iso) {
    var dd = document.getElementById(id);
    if (!dd) return;
    dd.replaceChildren(iso ? Orc.timeEl(iso, "abs") : el("span", { class: "muted", text: "—" }));
  }
  function updateSize() {
    var size = Math.max(nextOffset, Number(task.output_size) || 0);
    document.getElementById("t-size").textContent = Orc.fmtBytes(size);
    document.getElementById("download-log").hidden = size <= 0; // nothing to download yet
  }
  function first(obj, keys) {
    for (var i = 0; i < keys.length; i++) if (obj && obj[keys[i]] !== undefined && obj[keys[i]] !== null) return obj[keys[i]];
    return null;
  }

  function update(t) {
    if (!t || t.id !== task.id) return;
    task = t;
    var pill = document.getElementById("task-status");
    pill.className = Orc.pillClass(t.status);
    pill.textContent = Orc.statusLabel(t.status);
    document.getElementById("task-waiting").hidden = !t.waiting_for_human;
    if (!ended) { // why it has not started (queue_reason, set by the hub while it waits)
      document.getElementById("output-waiting").textContent =
        t.queue_reason ? "Not started: " + t.queue_reason : "Waiting for output…";
    }
    setTime("t-assigned", t.assigned_at);
    setTime("t-started", t.started_at);
    setTime("t-finished", t.finished_at);
    var r = t.result || {};
    var cost = first(r, ["cost_usd", "total_cost_usd"]);
    document.getElementById("t-cost").textContent = cost === null ? "—" : "$" + Number(cost).toFixed(4);
    var turns = first(r, ["num_turns", "turns"]);
    document.getElementById("t-turns").textContent = turns === null ? "—" : String(turns);
    var exit = first(t, ["exit_code"]);
    if (exit === null) exit = first(r, ["exit_code"]);
    document.getElementById("t-exit").textContent = exit === null ? "—" : String(exit);
    var err = document.getElementById("t-error");
    err.hidden = !t.error;
    err.textContent = t.error || "";
    var summaryText = first(r, ["summary", "result"]);
    var summary = document.getElementById("t-summary");
    summary.hidden = !summaryText;
    var text = String(summaryText || "");
    var multiline = text.indexOf("\n") >= 0;
    var summaryBody = el("div", { class: multiline ? "code wrap summary-text" : "prose summary-text" });
    summaryBody.textContent = new Orc.Ansi().feed(text, true).textContent; // escapes and colours stripped
    var box = el("details", { class: "summary-box" }, [el("summary", { text: "Summary" }), summaryBody]);
    if (text.length <= 400) box.open = true;
    summary.replaceChildren(box);
    var final = Orc.FINAL.indexOf(t.status) >= 0;
    document.getElementById("cancel-form").hidden = final;
    tickDuration();
    updateSize();
  }
  function tickDuration() {
    var start = Orc.parseTime(task.started_at);
    var end = Orc.parseTime(task.finished_at);
    document.getElementById("t-duration").textContent =
      start === null ? "—" : Orc.duration((end === null ? Date.now() : end) - start);
  }
  setInterval(tickDuration, 1000);

  /* a hidden tab closes its stream (see common.js) and resumes from its offset */
  Orc.onHub("sleep", function () { if (!ended && source) { source.close(); source = null; setState("Paused", ""); } });
  Orc.onHub("wake", function () { if (!ended && !source) reconnect(0); });

  /* a question from this task's agent: refresh the facts and offer the answer box */
  Orc.onHub("intervention", function (ev) {
    if (!ev || ev.task_id !== task.id) return;
    Orc.api("GET", "/tasks/" + encodeURIComponent(task.id)).then(update).catch(function () {});
    if (ev.status === "pending" && !document.querySelector("[aria-label='Question from the agent']")) {
      document.getElementById("new-question").hidden = false;
    }
  });

  /* For diagnostics and tests: where the page is, and a way to drop the connection. A
   * reconnect from an older offset replays bytes the page already has: they are skipped. */
  Orc.taskStream = {
    offset: function () { return nextOffset; },
    ended: function () { return ended; },
    reconnect: function (from) { reconnect(0, from); },
    shownLines: function () { return log.shownLines(); },
    firstOffset: function () { return log.firstOffset(); },
  };

  function showSwitch() {
    btnTranscript.hidden = false;
    document.getElementById("view-switch").hidden = false;
    document.getElementById("output-title").hidden = true;
  }
  if (task.runner === "claude") showSwitch();
  setView(task.runner === "claude" ? "transcript" : "raw");
  update(task);
  /* the tail of what is stored, at once; then live output from where it ends */
  setState("Loading…", "");
  log.loadTail(Number(task.output_size) || 0).then(function (to) {
    if (to > 0) document.getElementById("output-waiting").hidden = true;
    nextOffset = to;
    if (stick) toBottom();
    connect();
  }, function () { connect(0); });
})();
