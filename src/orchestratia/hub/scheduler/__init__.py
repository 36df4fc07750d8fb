"""Assignment, pushes, timeouts: the scheduler (``loop.py``) and what its passes run."""
