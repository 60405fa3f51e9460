"""What the engine runs around its core each step: reader leases for idle venues, and the other watchdogs."""
