"""chronicle-fleet: archive chronicle raw feed queues, declared in YAML, supervised by supervisord."""

__version__ = "0.1.0"
