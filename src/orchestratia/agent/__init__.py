"""The Orchestratia agent daemon (base dependencies only; never imports the hub).

Public entry points (see docs/agent.md):
- ``orchestratia.agent.config.load_config(path) -> AgentConfig`` (raises ``ConfigError``)
- ``orchestratia.agent.daemon.run_daemon(config_path) -> int`` (sync) /
  ``run_daemon_async(config, stop=None)``
- ``orchestratia.agent.register.register_with_token(token, config_path, name=None) -> (agent_id, api_key)``
"""
