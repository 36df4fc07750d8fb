"""The admin API (prefix ``/api/admin``), gathered by ``router.py``."""
