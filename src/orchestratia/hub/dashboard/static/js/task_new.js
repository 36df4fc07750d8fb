/* /tasks/new: the repo and runner lists follow the chosen agent. */
(function () {
  "use strict";
  var agents = JSON.parse(document.getElementById("agents-data").textContent || "[]");
  var agentSel = document.getElementById("agent");
  var repoSel = document.getElementById("target_repo");
  var initialRepo = repoSel.dataset.initial || "";

  function reposOf(a) {
    var r = a.repos || {};
    return Array.isArray(r) ? r.slice() : Object.keys(r);
  }

  function fillRepos() {
    var chosen = agentSel.value;
    var current = repoSel.value || initialRepo;
    initialRepo = "";
    var names = [];
    agents.forEach(function (a) {
      if (chosen && a.name !== chosen) return;
      if (!chosen && a.status !== "ONLINE") return;
      reposOf(a).forEach(function (n) { if (names.indexOf(n) < 0) names.push(n); });
    });
    names.sort();
    var none = names.length ? "(none — agent's default directory)"
      : chosen ? "(this agent lists no repos)" : "(no online agent lists repos)";
    var options = [Orc.el("option", { value: "", text: none })];
    names.forEach(function (n) { options.push(Orc.el("option", { value: n, text: n })); });
    repoSel.replaceChildren.apply(repoSel, options);
    repoSel.value = names.indexOf(current) >= 0 ? current : (names.length === 1 ? names[0] : "");
    document.getElementById("repo-help").textContent = chosen
      ? "Repos that " + chosen + " has." : "Repos of the online agents; the hub picks an agent that has it.";
  }

  agentSel.addEventListener("change", fillRepos);
  fillRepos();
})();
