"""The hub's HTTP and WebSocket surface: the v1 agent API (``agent/``), the admin API (``admin/``)
and what every route shares (dependencies, middleware, response classes, the access log)."""
