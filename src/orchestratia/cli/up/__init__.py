"""``orchestratia up``: the quickstart — a hub on SQLite plus a local agent, in one command.

This package is the ONE supervisor of a hub and a local agent: nothing else in the project
starts, watches or stops them together (a real deployment runs the same two commands under
systemd, docs/agent.md and docs/hub.md).

Design: ``up`` supervises two child processes, ``orchestratia hub serve`` and ``orchestratia
agent run``, each in its own session with its log in ``DATA_DIR/logs/``. Separate processes
keep the hub's event loop and the daemon's apart (the daemon must survive restarts of its
tasks' sessions, the hub must not be slowed by the daemon's file tailing), and the same two
commands are what a real deployment runs. Ctrl+C (or SIGTERM) stops the agent, then the hub;
task sessions in ``screen`` are left running, like a daemon restart.

State kept between runs, in the user's config dir (never in the data dir), one folder per
data dir: ``up/<hash>/credentials.json`` (admin user + password, 0600) and
``up/<hash>/agent.yaml`` (the local agent's config with its API key, 0600). ``up`` also
logs the CLI in (``cli.json``), so ``orchestratia tasks ...`` works right away.

Modules:
- :mod:`.command`: the Typer command and the run from start to Ctrl+C (``run_up``), the banner.
- :mod:`.plan`: :class:`~.plan.UpPlan` (ports, paths, the children) and the deadlines.
- :mod:`.credentials`: the admin password (saved, reused) and the CLI's login.
- :mod:`.local_agent`: the local agent's config and its registration.
- :mod:`.children`: starting the hub and the agent, and when each counts as up.
- :mod:`.supervisor`: spawning a child with its log, watching them, stopping them.
"""
