/* The task page's output as a window on the log: the tail first, earlier output on demand,
 * and a bounded DOM. Reading a whole 24 MB log (300,000 lines) into the page took 29 s
 * before its last line showed; the tail (TAIL_BYTES, a few thousand lines) shows at once.
 *
 * Output is kept in blocks (one <samp> per batch in the raw view), each with its byte range
 * and line count. While the reader follows live output, blocks beyond MAX_LINES leave from
 * the top; while they read earlier output, up to HARD_MAX_LINES stay. Nothing ever grows
 * without bound: the raw log download has everything. */
(function () {
  "use strict";
  var Orc = (window.Orc = window.Orc || {});
  var el = Orc.el;
  var TAIL_BYTES = 256 * 1024;
  var MAX_LINES = 10000;
  var HARD_MAX_LINES = 40000;
  var MAX_TRANSCRIPT_NODES = 1500;
  var HARD_MAX_TRANSCRIPT_NODES = 6000;

  function lineCount(text) {
    var n = 0, i = -1;
    while ((i = text.indexOf("\n", i + 1)) >= 0) n++;
    return n;
  }
  function fmtBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1048576).toFixed(1) + " MiB";
  }
  Orc.fmtBytes = fmtBytes;

  /* GET the output window; resolves {from, to, text} (X-Offset, X-Next-Offset, the bytes). */
  function fetchWindow(taskId, query) {
    var url = "/api/admin/tasks/" + encodeURIComponent(taskId) + "/output?" + query;
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/octet-stream" } }).then(function (r) {
      if (r.status === 401) { Orc.signIn(); throw new Error("signed out"); }
      if (!r.ok) throw new Error("HTTP " + r.status);
      var from = Number(r.headers.get("X-Offset")), to = Number(r.headers.get("X-Next-Offset"));
      return r.arrayBuffer().then(function (buf) {
        if (!isFinite(from) || !isFinite(to)) throw new Error("no offsets");
        return { from: from, to: to, text: new TextDecoder().decode(buf) };
      });
    });
  }

  /* opts: taskId, scroller, rawPre, transcriptBox, transcript (Orc.Transcript), isFollowing()
   * (is the reader at the bottom?). */
  function OutputLog(opts) {
    this.o = opts;
    this.blocks = [];
    this.lines = 0;
    this.first = 0; // byte offset where the shown output begins
    this.dropped = false; // have lines left the top while following?
    this.loading = false;
    this.ansi = new Orc.Ansi();
    this.box = document.getElementById("earlier");
    this.note = document.getElementById("earlier-note");
    this.button = document.getElementById("load-earlier");
    var self = this;
    this.button.addEventListener("click", function () { self.loadEarlier(); });
  }

  /* The tail of the stored output: resolves the offset to stream live output from. */
  OutputLog.prototype.loadTail = function (size) {
    var self = this;
    if (!(size > 0)) return Promise.resolve(0);
    return fetchWindow(this.o.taskId, "tail_bytes=" + TAIL_BYTES).then(function (w) {
      self.first = w.from;
      if (w.text) self.append(w.text, w.from, w.to);
      self.update();
      return w.to;
    });
  };

  /* New output at [start, end): into both views, then the DOM cap. */
  OutputLog.prototype.append = function (text, start, end) {
    var node = el("samp", { class: "out-block" });
    node.appendChild(this.ansi.feed(text, false));
    this.o.rawPre.appendChild(node);
    var lines = lineCount(text);
    if (!this.blocks.length) this.first = start;
    this.blocks.push({ node: node, start: start, end: end, lines: lines });
    this.lines += lines;
    this.o.transcript.feed(text);
    this.trim();
  };

  OutputLog.prototype.finish = function () {
    this.o.rawPre.appendChild(this.ansi.feed("", true));
    this.o.transcript.flush();
  };

  /* Drop the oldest blocks (and transcript entries) beyond the cap, keeping the reader's place. */
  OutputLog.prototype.trim = function () {
    var following = this.o.isFollowing();
    var maxLines = following ? MAX_LINES : HARD_MAX_LINES;
    var maxNodes = following ? MAX_TRANSCRIPT_NODES : HARD_MAX_TRANSCRIPT_NODES;
    var box = this.o.transcriptBox, scroller = this.o.scroller;
    if (this.lines <= maxLines && box.childElementCount <= maxNodes) return;
    var height = scroller.scrollHeight;
    while (this.lines > maxLines && this.blocks.length > 1) {
      var gone = this.blocks.shift();
      gone.node.remove();
      this.lines -= gone.lines;
      this.first = this.blocks[0].start;
      this.dropped = true;
    }
    while (box.childElementCount > maxNodes) { box.firstElementChild.remove(); this.dropped = true; }
    this.o.transcript.forget();
    if (!following) scroller.scrollTop -= height - scroller.scrollHeight;
    this.update();
  };

  OutputLog.prototype.loadEarlier = function () {
    var self = this;
    if (this.loading || this.first <= 0 || this.lines >= HARD_MAX_LINES) return;
    this.loading = true;
    this.button.disabled = true;
    this.button.textContent = "Loading…";
    fetchWindow(this.o.taskId, "tail_bytes=" + TAIL_BYTES + "&before=" + this.first).then(function (w) {
      self.prepend(w);
    }).catch(function () {
      self.note.textContent = "Could not load earlier output. Try again, or download the raw log.";
    }).then(function () {
      self.loading = false;
      self.button.disabled = false;
      self.button.textContent = "Load earlier output";
      self.update();
    });
  };

  OutputLog.prototype.prepend = function (w) {
    var scroller = this.o.scroller, height = scroller.scrollHeight, top = scroller.scrollTop;
    var node = el("samp", { class: "out-block" });
    node.appendChild(new Orc.Ansi().feed(w.text, true));
    this.o.rawPre.insertBefore(node, this.o.rawPre.firstChild);
    var lines = lineCount(w.text);
    this.blocks.unshift({ node: node, start: w.from, end: w.to, lines: lines });
    this.lines += lines;
    this.first = w.from;
    var scratch = el("div");
    var earlier = new Orc.Transcript(scratch);
    earlier.feed(w.text);
    earlier.flush();
    var frag = document.createDocumentFragment();
    while (scratch.firstChild) frag.appendChild(scratch.firstChild);
    this.o.transcriptBox.insertBefore(frag, this.o.transcriptBox.firstChild);
    scroller.scrollTop = top + (scroller.scrollHeight - height); // the reader stays where they were
  };

  /* The note above the output: what is not shown, and how to get it. */
  OutputLog.prototype.update = function () {
    var hidden = this.first;
    var summary = document.getElementById("output-window");
    this.box.hidden = summary.hidden = hidden <= 0;
    if (hidden <= 0) return;
    summary.textContent = "Showing the last " + this.lines.toLocaleString("en") + " lines";
    var full = this.lines >= HARD_MAX_LINES;
    var text = fmtBytes(hidden) + " of earlier output not shown.";
    if (this.dropped) text += " To keep the page light it holds the last " + MAX_LINES.toLocaleString("en") +
      " lines; older ones leave as new output arrives.";
    if (full) text += " The page holds no more: download the raw log for the rest.";
    this.note.textContent = text;
    this.button.hidden = full;
  };

  OutputLog.prototype.shownLines = function () { return this.lines; };
  OutputLog.prototype.firstOffset = function () { return this.first; };

  Orc.OutputLog = OutputLog;
  Orc.OutputLog.TAIL_BYTES = TAIL_BYTES;
  Orc.OutputLog.MAX_LINES = MAX_LINES;
})();
