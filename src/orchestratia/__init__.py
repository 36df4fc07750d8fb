"""Orchestratia: a self-hosted hub that runs AI coding agents on a fleet of dev servers."""

__version__ = "0.1.0"
