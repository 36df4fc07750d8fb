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

  /* Runners: those the chosen agent reports (the server offers those some agent reports). */
  var runnerSel = document.getElementById("runner");
  var allRunners = Array.prototype.slice.call(runnerSel.options, 1).map(function (o) { return o.value; });
  var initialRunner = runnerSel.dataset.initial || "";
  var keep = initialRunner; // a task run again keeps its runner
  function fillRunners() {
    var chosen = agentSel.value;
    var current = runnerSel.value || initialRunner;
    initialRunner = "";
    var agent = agents.filter(function (a) { return a.name === chosen; })[0];
    var own = agent && Array.isArray(agent.runners) ? agent.runners : null;
    var names = allRunners.filter(function (n) { return !own || own.indexOf(n) >= 0 || n === keep; });
    var options = [Orc.el("option", { value: "", text: "Agent's default" })];
    names.forEach(function (n) { options.push(Orc.el("option", { value: n, text: n })); });
    runnerSel.replaceChildren.apply(runnerSel, options);
    runnerSel.value = names.indexOf(current) >= 0 ? current : "";
    document.getElementById("runner-help").textContent = own
      ? "Runners that " + chosen + " reports." : "Runners the agents report they can run.";
  }

  agentSel.addEventListener("change", function () { fillRepos(); fillRunners(); });
  fillRepos();
  fillRunners();
})();
