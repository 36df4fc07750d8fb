"""Pipelines: a named graph of tasks from one file (``spec.py`` reads and checks it,
``substitute.py`` fills ``{{ needs.NAME.result }}``, ``create.py`` stores it, ``views.py`` shows
it). The scheduler's side, when a task with dependencies may run, is
``hub/scheduler/dependencies.py``."""
