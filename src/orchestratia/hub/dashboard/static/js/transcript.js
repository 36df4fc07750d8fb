/* Claude Code's stream-json output (one JSON object per line) as a readable transcript:
 * assistant text as prose, each tool call as a collapsible card paired with its result,
 * the final result with cost and turns. Lines that are not JSON objects show as log lines;
 * unknown event types are skipped. Text only, via textContent. */
(function () {
  "use strict";
  var Orc = (window.Orc = window.Orc || {});
  var el = Orc.el;
  var BRIEF_KEYS = ["command", "file_path", "path", "pattern", "url", "query", "description", "prompt"];

  function brief(input) {
    if (!input || typeof input !== "object") return "";
    for (var i = 0; i < BRIEF_KEYS.length; i++) {
      if (typeof input[BRIEF_KEYS[i]] === "string") return clip(input[BRIEF_KEYS[i]]);
    }
    var keys = Object.keys(input);
    for (var k = 0; k < keys.length; k++) if (typeof input[keys[k]] === "string") return clip(input[keys[k]]);
    return "";
  }
  function clip(s) { s = String(s).replace(/\s+/g, " ").trim(); return s.length > 110 ? s.slice(0, 107) + "…" : s; }
  function pretty(v) {
    if (typeof v === "string") return v;
    try { return JSON.stringify(v, null, 2); } catch (e) { return String(v); }
  }
  function resultText(content) {
    if (content === null || content === undefined) return "";
    if (typeof content === "string") return content;
    if (Array.isArray(content)) {
      return content.map(function (b) {
        if (b && b.type === "text") return b.text || "";
        if (b && b.type === "image") return "[image]";
        return pretty(b);
      }).join("\n");
    }
    return pretty(content);
  }
  function money(v) {
    var n = Number(v);
    if (!isFinite(n)) return null;
    return "$" + (n < 1 ? n.toFixed(4) : n.toFixed(2));
  }

  /* Assistant text is Markdown; show its two most telling parts, code fences and inline
   * code, as code. Everything stays text: nodes are built, never parsed from HTML. */
  function inline(text) {
    var out = el("div", { class: "t-text prose" });
    var parts = text.split("`");
    parts.forEach(function (part, i) {
      if (!part) return;
      var odd = i % 2 === 1 && i < parts.length - 1;
      out.appendChild(odd ? el("code", { class: "t-code", text: part }) : document.createTextNode(part));
    });
    return out;
  }
  function markdown(text) {
    var frag = document.createDocumentFragment();
    var pieces = text.split(/^```[^\n]*\n?/m);
    pieces.forEach(function (piece, i) {
      if (i % 2 === 1) {
        frag.appendChild(el("pre", { class: "code t-fence", text: piece.replace(/\n$/, "") }));
      } else if (piece.trim()) {
        frag.appendChild(inline(piece.replace(/^\n+|\n+$/g, "")));
      }
    });
    return frag;
  }
  Orc.markdown = markdown;

  function Transcript(root, onChange) {
    this.root = root;
    this.onChange = onChange || function () {};
    this.buf = "";
    this.cards = {};
    this.events = 0;
    this.plainAnsi = new Orc.Ansi();
    this.logBlock = null;
  }

  Transcript.prototype.feed = function (text) {
    this.buf += text;
    var nl;
    while ((nl = this.buf.indexOf("\n")) >= 0) {
      var line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      this.line(line);
    }
  };
  Transcript.prototype.flush = function () {
    if (this.buf) { var rest = this.buf; this.buf = ""; this.line(rest); }
  };

  Transcript.prototype.line = function (line) {
    var t = line.replace(/\r$/, "");
    if (!t.trim()) return;
    if (t.trim().charAt(0) === "{") {
      var obj = null;
      try { obj = JSON.parse(t); } catch (e) { obj = null; }
      if (obj && typeof obj === "object" && !Array.isArray(obj) && typeof obj.type === "string") {
        this.logBlock = null;
        var before = this.events;
        this.event(obj);
        if (this.events !== before) this.onChange(this);
        return;
      }
    }
    if (!this.logBlock) {
      this.logBlock = el("pre", { class: "t-log" });
      this.root.appendChild(this.logBlock);
    }
    this.logBlock.appendChild(this.plainAnsi.feed(t + "\n", true));
  };

  /* Tool cards that left the page (the DOM cap) no longer wait for their results. */
  Transcript.prototype.forget = function () {
    var cards = this.cards;
    Object.keys(cards).forEach(function (id) { if (!cards[id].card.isConnected) delete cards[id]; });
    if (this.logBlock && !this.logBlock.isConnected) this.logBlock = null;
  };

  Transcript.prototype.add = function (node) { this.root.appendChild(node); return node; };

  /* Only Claude Code's own events make the transcript worth showing: other CLIs print JSON
   * lines too (Gemini's "result", Codex's items) and stay in the raw view. */
  var CLAUDE_TYPES = { system: 1, assistant: 1, user: 1 };
  Transcript.prototype.event = function (ev) {
    var handler = this["on_" + ev.type];
    if (typeof handler !== "function") return;
    var shown = handler.call(this, ev) !== false;
    if (shown && CLAUDE_TYPES[ev.type]) this.events++;
  };

  Transcript.prototype.on_system = function (ev) {
    if (ev.subtype === "init") {
      var bits = ["Session started"];
      if (ev.model) bits.push(ev.model);
      if (ev.cwd) bits.push(ev.cwd);
      if (Array.isArray(ev.tools)) bits.push(ev.tools.length + " tools");
      this.add(el("div", { class: "t-meta", text: bits.join(" · ") }));
    } else if (ev.subtype === "api_retry") {
      this.add(el("div", { class: "t-meta t-warn", text: "API retry" + (ev.attempt ? " #" + ev.attempt : "") }));
    } else if (ev.subtype === "permission_denied") {
      this.add(el("div", { class: "t-meta t-warn", text: "Permission denied" + (ev.tool_name ? ": " + ev.tool_name : "") }));
    } else if (ev.subtype === "compact_boundary") {
      this.add(el("div", { class: "t-meta", text: "Conversation compacted" }));
    } else {
      return false; // hooks and other side events: not shown
    }
  };

  Transcript.prototype.on_assistant = function (ev) {
    var content = (ev.message && ev.message.content) || [];
    if (typeof content === "string") content = [{ type: "text", text: content }];
    var self = this;
    content.forEach(function (b) {
      if (!b || typeof b !== "object") return;
      if (b.type === "text" && b.text) {
        var group = el("div", { class: "t-msg" });
        group.appendChild(markdown(b.text));
        self.add(group);
      } else if (b.type === "thinking" && b.thinking) {
        self.add(el("details", { class: "t-thinking" }, [el("summary", { text: "Thinking" }),
          el("div", { class: "prose", text: b.thinking })]));
      } else if (b.type === "tool_use") {
        self.toolCard(b);
      }
    });
  };

  Transcript.prototype.toolCard = function (b) {
    var state = el("span", { class: "pill pill-running tool-state", text: "running" });
    var body = el("div", { class: "tool-body" }, [
      el("div", { class: "tool-label", text: "Input" }),
      el("pre", { class: "code wrap", text: pretty(b.input || {}) }),
    ]);
    var card = el("details", { class: "tool-card", data: { toolId: b.id || "" } }, [
      el("summary", {}, [
        el("span", { class: "tool-name", text: b.name || "tool" }),
        el("span", { class: "tool-brief", text: brief(b.input) }),
        state,
      ]),
      body,
    ]);
    this.add(card);
    if (b.id) this.cards[b.id] = { card: card, body: body, state: state };
  };

  Transcript.prototype.on_user = function (ev) {
    var content = (ev.message && ev.message.content) || [];
    var self = this;
    if (typeof content === "string") { this.add(el("div", { class: "t-user prose", text: content })); return; }
    content.forEach(function (b) {
      if (!b || b.type !== "tool_result") return;
      var entry = self.cards[b.tool_use_id];
      if (!entry) { self.toolCard({ id: b.tool_use_id, name: "tool result", input: {} }); entry = self.cards[b.tool_use_id]; }
      if (!entry) return;
      var failed = b.is_error === true;
      entry.body.appendChild(el("div", { class: "tool-label", text: failed ? "Error" : "Result" }));
      entry.body.appendChild(el("pre", { class: "code wrap" + (failed ? " is-error" : ""), text: resultText(b.content) || "(empty)" }));
      entry.state.className = "pill tool-state " + (failed ? "pill-failed" : "pill-completed");
      entry.state.textContent = failed ? "error" : "done";
      if (failed) entry.card.classList.add("is-error");
    });
  };

  Transcript.prototype.on_result = function (ev) {
    var failed = ev.is_error === true || (ev.subtype && ev.subtype !== "success");
    var facts = [];
    var cost = money(ev.total_cost_usd);
    if (cost) facts.push(["Cost", cost]);
    if (ev.num_turns !== undefined) facts.push(["Turns", String(ev.num_turns)]);
    if (ev.duration_ms !== undefined) facts.push(["Duration", Orc.duration ? Orc.duration(Number(ev.duration_ms)) : ev.duration_ms + " ms"]);
    if (ev.usage && ev.usage.output_tokens !== undefined) {
      facts.push(["Tokens", (ev.usage.input_tokens || 0) + " in · " + ev.usage.output_tokens + " out"]);
    }
    var card = el("section", { class: "t-result" + (failed ? " is-error" : ""), "aria-label": "Result" }, [
      el("div", { class: "t-result-head" }, [
        el("span", { class: "pill " + (failed ? "pill-failed" : "pill-completed"), text: failed ? "failed" : "finished" }),
        el("span", { class: "muted small", text: String(ev.subtype || "") }),
      ]),
      el("dl", { class: "t-facts" }, facts.map(function (f) {
        return el("div", {}, [el("dt", { text: f[0] }), el("dd", { class: "mono", text: f[1] })]);
      })),
    ]);
    if (typeof ev.result === "string" && ev.result) card.appendChild(el("div", { class: "prose", text: ev.result }));
    if (Array.isArray(ev.errors) && ev.errors.length) {
      card.appendChild(el("ul", { class: "t-errors" }, ev.errors.map(function (e) { return el("li", { text: String(e) }); })));
    }
    this.add(card);
  };

  Orc.Transcript = Transcript;
})();
