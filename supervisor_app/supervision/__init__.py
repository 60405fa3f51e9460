"""Supervision: one archiver per venue under supervisord, the engine that decides, and its control socket.

Nothing is re-exported here: supervisord imports this package to load its plugin
(`supervisord.plugin`), and must not pay for the config loader (YAML, jsonschema) to do so.
"""
