/* A small, safe ANSI → DOM converter. It understands SGR (colours, bold, dim, italic,
 * underline, strike, inverse), drops every other escape/control sequence, keeps its state
 * across chunks (a sequence may be split between two chunks), and only ever creates text
 * nodes and <span>s with fixed class names: never HTML from data. */
(function () {
  "use strict";
  var Orc = (window.Orc = window.Orc || {});
  var PALETTE = [
    [0, 0, 0], [205, 49, 49], [13, 188, 121], [229, 229, 16], [36, 114, 200], [188, 63, 188], [17, 168, 205], [229, 229, 229],
    [102, 102, 102], [241, 76, 76], [35, 209, 139], [245, 245, 67], [59, 142, 234], [214, 112, 214], [41, 184, 219], [255, 255, 255],
  ];
  var MAX_PENDING = 4096;
  var CTRL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

  function nearest(r, g, b) {
    var best = 0, bestD = Infinity;
    for (var i = 0; i < 16; i++) {
      var p = PALETTE[i], d = (p[0] - r) * (p[0] - r) + (p[1] - g) * (p[1] - g) + (p[2] - b) * (p[2] - b);
      if (d < bestD) { bestD = d; best = i; }
    }
    return best;
  }
  function from256(n) {
    if (n < 16) return n;
    if (n >= 232) { var v = 8 + (n - 232) * 10; return nearest(v, v, v); }
    n -= 16;
    var steps = [0, 95, 135, 175, 215, 255];
    return nearest(steps[Math.floor(n / 36)], steps[Math.floor(n / 6) % 6], steps[n % 6]);
  }
  function clampByte(x) { x = parseInt(x, 10); return isNaN(x) ? 0 : Math.max(0, Math.min(255, x)); }

  function Ansi() { this.reset(); this.pending = ""; }
  Ansi.prototype.reset = function () {
    this.fg = null; this.bg = null;
    this.bold = this.dim = this.italic = this.underline = this.strike = this.inverse = false;
  };

  Ansi.prototype.className = function () {
    var c = [];
    var fg = this.fg, bg = this.bg;
    if (this.inverse) {
      c.push(bg === null ? "a-fg-inv" : "a-fg-" + bg);
      c.push(fg === null ? "a-bg-inv" : "a-bg-" + fg);
    } else {
      if (fg !== null) c.push("a-fg-" + fg);
      if (bg !== null) c.push("a-bg-" + bg);
    }
    if (this.bold) c.push("a-b");
    if (this.dim) c.push("a-d");
    if (this.italic) c.push("a-i");
    if (this.underline) c.push("a-u");
    if (this.strike) c.push("a-s");
    return c.join(" ");
  };

  Ansi.prototype.sgr = function (paramText) {
    var ps = paramText === "" ? [0] : paramText.split(/[;:]/).map(function (x) { return x === "" ? 0 : parseInt(x, 10); });
    for (var i = 0; i < ps.length; i++) {
      var p = ps[i];
      if (isNaN(p)) continue;
      if (p === 0) this.reset();
      else if (p === 1) this.bold = true;
      else if (p === 2) this.dim = true;
      else if (p === 3) this.italic = true;
      else if (p === 4) this.underline = true;
      else if (p === 7) this.inverse = true;
      else if (p === 9) this.strike = true;
      else if (p === 22) this.bold = this.dim = false;
      else if (p === 23) this.italic = false;
      else if (p === 24) this.underline = false;
      else if (p === 27) this.inverse = false;
      else if (p === 29) this.strike = false;
      else if (p >= 30 && p <= 37) this.fg = p - 30;
      else if (p === 39) this.fg = null;
      else if (p >= 40 && p <= 47) this.bg = p - 40;
      else if (p === 49) this.bg = null;
      else if (p >= 90 && p <= 97) this.fg = p - 90 + 8;
      else if (p >= 100 && p <= 107) this.bg = p - 100 + 8;
      else if (p === 38 || p === 48) {
        var colour = null;
        if (ps[i + 1] === 5) { colour = from256(clampByte(ps[i + 2])); i += 2; }
        else if (ps[i + 1] === 2) { colour = nearest(clampByte(ps[i + 2]), clampByte(ps[i + 3]), clampByte(ps[i + 4])); i += 4; }
        if (colour !== null) { if (p === 38) this.fg = colour; else this.bg = colour; }
      }
    }
  };

  /* Feed decoded text; returns a DocumentFragment of text nodes and spans. */
  Ansi.prototype.feed = function (chunk, flush) {
    var s = this.pending + chunk;
    this.pending = "";
    var frag = document.createDocumentFragment();
    var buf = "";
    var self = this;
    function emit() {
      if (!buf) return;
      var cls = self.className();
      frag.appendChild(cls ? Orc.el("span", { class: cls, text: buf }) : document.createTextNode(buf));
      buf = "";
    }
    var i = 0, n = s.length;
    while (i < n) {
      var ch = s.charCodeAt(i);
      if (ch === 27) {
        if (i + 1 >= n) { if (!flush) { this.pending = s.slice(i); } break; }
        var kind = s[i + 1];
        if (kind === "[") {
          var j = i + 2;
          while (j < n && !(s.charCodeAt(j) >= 0x40 && s.charCodeAt(j) <= 0x7e)) j++;
          if (j >= n) { if (!flush && n - i < MAX_PENDING) this.pending = s.slice(i); i = n; break; }
          if (s[j] === "m") { emit(); this.sgr(s.slice(i + 2, j)); }
          i = j + 1;
        } else if (kind === "]" || kind === "P" || kind === "_" || kind === "^") {
          var end = -1, k = i + 2;
          for (; k < n; k++) {
            if (s.charCodeAt(k) === 7) { end = k + 1; break; }
            if (s.charCodeAt(k) === 27 && s[k + 1] === "\\") { end = k + 2; break; }
          }
          if (end < 0) { if (!flush && n - i < MAX_PENDING) this.pending = s.slice(i); i = n; break; }
          i = end;
        } else {
          i += 2; // two-byte escapes (charset selection, keypad modes, …)
        }
      } else if (ch === 13) {
        var r = i;
        while (r < n && s.charCodeAt(r) === 13) r++;
        if (r >= n && !flush) { this.pending = s.slice(i); break; } // CRs at the end: wait for more
        if (r >= n || s.charCodeAt(r) !== 10) buf += "\n"; // CR without LF: show as a line break
        i = r; // CR(s) before LF: the LF makes the line break
      } else if ((ch < 32 && ch !== 10 && ch !== 9) || ch === 127 || (ch >= 0x80 && ch < 0xa0)) {
        i++; // other control characters are not shown
      } else {
        CTRL.lastIndex = i;
        var m = CTRL.exec(s);
        var stop = m ? m.index : n;
        buf += s.slice(i, stop);
        i = stop;
      }
    }
    emit();
    return frag;
  };

  Orc.Ansi = Ansi;
})();
