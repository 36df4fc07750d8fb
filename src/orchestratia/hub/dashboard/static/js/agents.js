/* /agents: the live agent list, revoke, and the Register Agent dialog. */
(function () {
  "use strict";
  var el = Orc.el;
  var body = document.getElementById("agents-body");
  var agents = JSON.parse(document.getElementById("agents-data").textContent || "[]");
  var titles = JSON.parse(document.getElementById("titles-data").textContent || "{}"); // task id → title
  var ORDER = { ONLINE: 0, OFFLINE: 1, REVOKED: 2 };

  function num(v) { var n = Number(v); return isFinite(n) ? n : null; }
  function gb(v) { var n = num(v); return n === null ? "?" : (n >= 100 ? n.toFixed(0) : n.toFixed(1)); }

  function meter(label, percent, detail) {
    var p = num(percent);
    if (p === null) return el("span", { class: "muted", text: "—" });
    var level = p >= 90 ? "high" : p >= 70 ? "mid" : "low";
    var bar = el("span", { class: "meter-bar meter-" + level });
    bar.style.width = Math.max(0, Math.min(100, p)).toFixed(0) + "%";
    return el("div", { class: "meter", role: "meter", "aria-label": label, "aria-valuemin": 0,
      "aria-valuemax": 100, "aria-valuenow": Math.round(p) }, [
      el("span", { class: "meter-track" }, [bar]),
      el("span", { class: "meter-text", text: p.toFixed(0) + "%" + (detail ? " · " + detail : "") }),
    ]);
  }

  // the disk the agent's task worktrees use, as its daemon last measured it (null: not reported)
  function worktrees(a) {
    var d = a.workspace_disk;
    if (!d || typeof d !== "object") return el("span", { class: "muted", text: "—", title: "Not reported (an older daemon)" });
    var n = num(d.total_bytes) || 0, units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    var size = (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
    return el("span", { class: "worktree-disk", title: d.measured_at ? "measured " + d.measured_at : "",
      text: size + " · " + (num(d.worktrees) || 0) + " worktree" + (num(d.worktrees) === 1 ? "" : "s") });
  }

  function cell(label, children, cls) {
    return el("td", { "data-label": label, class: cls }, children);
  }

  function row(a) {
    var si = a.system_info || {};
    var repos = a.repos || {};
    var repoNames = Array.isArray(repos) ? repos : Object.keys(repos);
    var running = a.running_tasks || [];
    var name = el("div", { class: "agent-name" }, [
      el("a", { href: "/tasks?agent=" + encodeURIComponent(a.name || a.id), class: "agent-link",
        title: "Tasks of " + (a.name || a.id), text: a.name || a.id }),
      el("span", { class: "muted small", text: [a.hostname, a.ip, a.os].filter(Boolean).join(" · ") }),
    ]);
    var repoList = repoNames.length
      ? el("ul", { class: "chips" }, repoNames.map(function (r) {
          var path = Array.isArray(repos) ? "" : (typeof repos[r] === "object" && repos[r] ? repos[r].path : repos[r]);
          return el("li", { class: "chip chip-static", text: r, title: path || "" });
        }))
      : el("span", { class: "muted", text: "—" });
    // runners: what the daemon last reported (null: an old daemon, which runs Claude Code only)
    var runners = Array.isArray(a.runners) ? a.runners : ["claude"];
    var runnerList = runners.length
      ? el("ul", { class: "chips" }, runners.map(function (r) {
          return el("li", { class: "chip chip-static", text: r });
        }))
      : el("span", { class: "muted", text: "none" });
    // labels: the agent's own (config.yaml) and the hub's automatic os:/repo: ones (runner: is
    // the Runners column); a task with --label runs only where all of its labels are
    var labels = Array.isArray(a.labels) ? a.labels : [];
    var autos = (Array.isArray(a.auto_labels) ? a.auto_labels : []).filter(function (l) {
      return String(l).indexOf("runner:") !== 0;
    });
    var labelList = labels.length || autos.length
      ? el("ul", { class: "chips" }, labels.map(function (l) {
          return el("li", { class: "chip chip-static chip-label", text: String(l), title: "label (agent config)" });
        }).concat(autos.map(function (l) {
          return el("li", { class: "chip chip-static chip-auto muted", text: String(l), title: "automatic label" });
        })))
      : el("span", { class: "muted", text: "none" });
    var runList = running.length
      ? el("ul", { class: "links" }, running.map(function (id) {
          var title = titles[id];
          return el("li", {}, [el("a", { href: "/tasks/" + encodeURIComponent(id), class: title ? "run-link" : "mono",
            title: title || id, text: title || String(id).slice(0, 8) })]);
        }))
      : el("span", { class: "muted", text: "idle" });
    var actions = a.status === "REVOKED" ? el("span") :
      el("button", { type: "button", class: "btn btn-small btn-danger-ghost", "aria-label": "Revoke agent " + a.name,
        data: { revoke: a.id, name: a.name || a.id }, text: "Revoke" });
    var cpuDetail = si.cpu_count ? si.cpu_count + " cores" : "";
    var memDetail = si.memory_total_gb ? gb(si.memory_used_gb) + "/" + gb(si.memory_total_gb) + " GB" : "";
    var diskDetail = si.disk_total_gb ? gb(si.disk_used_gb) + "/" + gb(si.disk_total_gb) + " GB" : "";
    return el("tr", { data: { id: a.id }, class: "agent-row status-" + String(a.status).toLowerCase() }, [
      cell("Agent", [name], "cell-primary"),
      cell("Status", [Orc.pill(a.status)]),
      cell("Last contact", [a.last_seen_at ? Orc.timeEl(a.last_seen_at, "rel")
        : el("span", { class: "muted", text: "never", title: "Registered; its daemon has not connected yet." })]),
      cell("CPU", [meter("CPU", si.cpu_percent, cpuDetail)]),
      cell("Memory", [meter("Memory", si.memory_percent, memDetail)]),
      cell("Disk", [meter("Disk", si.disk_percent, diskDetail)]),
      cell("Repos", [repoList]),
      cell("Runners", [runnerList]),
      cell("Labels", [labelList]),
      cell("Running", [runList]),
      cell("Worktrees", [worktrees(a)]),
      cell("", [actions], "cell-actions"),
    ]);
  }

  function render() {
    agents.sort(function (x, y) {
      return (ORDER[x.status] - ORDER[y.status]) || String(x.name).localeCompare(String(y.name));
    });
    body.replaceChildren.apply(body, agents.map(row));
    document.getElementById("agents-empty").hidden = agents.length > 0;
    var online = agents.filter(function (a) { return a.status === "ONLINE"; }).length;
    var offline = agents.filter(function (a) { return a.status === "OFFLINE"; }).length;
    var revoked = agents.length - online - offline;
    document.getElementById("agents-summary").textContent = agents.length
      ? online + " online · " + offline + " offline" + (revoked ? " · " + revoked + " revoked" : "") : "";
  }

  var pending = null;
  function refresh() {
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      Promise.all([Orc.api("GET", "/agents"), Orc.api("GET", "/tasks?status=assigned,running&limit=500")])
        .then(function (got) {
          agents = got[0] || [];
          titles = {};
          (got[1] || []).forEach(function (t) { titles[t.id] = t.title; });
          render();
        }).catch(function () {});
    }, 600);
  }

  Orc.onHub("agent", function (ev) {
    var known = agents.filter(function (a) { return a.id === ev.id; })[0];
    if (known && ev.status) {
      known.status = ev.status;
      if (ev.status === "ONLINE") known.last_seen_at = new Date().toISOString();
      render();
    }
    refresh();
  });
  Orc.onHub("task", refresh); // running tasks column
  Orc.onHub("open", refresh);
  setInterval(refresh, 15000); // heartbeats carry CPU/memory/disk; there is no event per heartbeat

  body.addEventListener("click", function (ev) {
    var button = ev.target.closest("[data-revoke]");
    if (!button) return;
    var name = button.dataset.name;
    Orc.confirm("Revoke agent “" + name + "”? Its API key stops working at once and its assigned tasks go back to the queue.",
      "Revoke").then(function (ok) {
      if (!ok) return;
      button.disabled = true;
      Orc.api("POST", "/agents/" + encodeURIComponent(button.dataset.revoke) + "/revoke").then(refresh, function (err) {
        button.disabled = false;
        alert(err.message);
      });
    });
  });

  /* ---------- registration tokens ---------- */
  var tokens = JSON.parse(document.getElementById("tokens-data").textContent || "[]");
  var tokenBody = document.getElementById("tokens-body");

  function tokenRow(t) {
    var agentName = "";
    agents.forEach(function (a) { if (a.id === t.agent_id) agentName = a.name; });
    var action = t.status === "active"
      ? el("button", { type: "button", class: "btn btn-small btn-danger-ghost", "aria-label": "Revoke token " + (t.label || t.id),
          data: { revokeToken: t.id, label: t.label || "unlabelled" }, text: "Revoke" })
      : el("span");
    return el("tr", { data: { id: t.id } }, [
      cell("Label", [el("strong", { text: t.label || "(no label)" })], "cell-primary"),
      cell("Status", [Orc.pill(t.status)]),
      cell("Created", [Orc.timeEl(t.created_at, "rel")]),
      cell("Expires", [Orc.timeEl(t.expires_at, "abs")]),
      cell("Agent", [el("span", { text: agentName || "—" })]),
      cell("", [action], "cell-actions"),
    ]);
  }
  function renderTokens() {
    tokenBody.replaceChildren.apply(tokenBody, tokens.map(tokenRow));
    document.getElementById("tokens-empty").hidden = tokens.length > 0;
    var active = tokens.filter(function (t) { return t.status === "active"; }).length;
    document.getElementById("tokens-summary").textContent = active + " active · " + tokens.length + " in all";
  }
  var tokenTimer = null;
  function refreshTokens() {
    if (tokenTimer) return;
    tokenTimer = setTimeout(function () {
      tokenTimer = null;
      Orc.api("GET", "/tokens").then(function (list) { tokens = list || []; renderTokens(); }).catch(function () {});
    }, 200);
  }
  Orc.onHub("agent", refreshTokens); // a registration uses a token
  tokenBody.addEventListener("click", function (ev) {
    var button = ev.target.closest("[data-revoke-token]");
    if (!button) return;
    Orc.confirm("Revoke the registration token “" + button.dataset.label + "”? It can no longer register an agent.",
      "Revoke").then(function (ok) {
      if (!ok) return;
      button.disabled = true;
      Orc.api("POST", "/tokens/" + encodeURIComponent(button.dataset.revokeToken) + "/revoke").then(refreshTokens,
        function (err) { button.disabled = false; alert(err.message); });
    });
  });

  /* ---------- Register Agent ---------- */
  var dialog = document.getElementById("register-dialog");
  var form = document.getElementById("register-form");
  var result = document.getElementById("register-result");
  var errorBox = document.getElementById("register-error");

  function resetDialog() {
    form.reset();
    form.hidden = false;
    result.hidden = true;
    errorBox.hidden = true;
    ["reg-token", "reg-cmd", "reg-snippet"].forEach(function (id) { document.getElementById(id).textContent = ""; });
  }
  document.getElementById("register-open").addEventListener("click", function () {
    resetDialog();
    dialog.showModal();
    document.getElementById("reg-label").focus();
  });
  function closeDialog() { resetDialog(); dialog.close(); }
  document.getElementById("register-close").addEventListener("click", closeDialog);
  document.getElementById("register-done").addEventListener("click", closeDialog);
  dialog.addEventListener("close", function () { resetDialog(); refresh(); refreshTokens(); }); // shown once

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var label = document.getElementById("reg-label").value.trim();
    if (!label) { errorBox.textContent = "Give the token a label, e.g. the server's name."; errorBox.hidden = false; return; }
    var submit = document.getElementById("register-submit");
    submit.disabled = true;
    errorBox.hidden = true;
    Orc.api("POST", "/tokens", { label: label, expires_in: document.getElementById("reg-expiry").value })
      .then(function (tok) {
        document.getElementById("reg-token").textContent = tok.token;
        document.getElementById("reg-cmd").textContent = tok.register_command || ("orchestratia agent register " + tok.token);
        document.getElementById("reg-snippet").textContent = tok.config_snippet || "";
        var exp = document.getElementById("reg-expires");
        exp.setAttribute("datetime", tok.expires_at || "");
        Orc.refreshTime(exp);
        form.hidden = true;
        result.hidden = false;
        result.querySelector("[data-copy]").focus();
      })
      .catch(function (err) { errorBox.textContent = err.message; errorBox.hidden = false; })
      .then(function () { submit.disabled = false; });
  });

  render();
  renderTokens();
})();
