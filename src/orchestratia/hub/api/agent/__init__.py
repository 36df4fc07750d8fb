"""The v1 agent API (PROTOCOL.md): HTTP (``http.py``) and the WebSocket (``ws.py``)."""
