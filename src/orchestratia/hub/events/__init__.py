"""Pub/sub between the hub's parts, its replicas and live viewers (see ``bus.py``)."""
